// Names, roles and buckets of people: what every people module agrees on.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { InvalidNameError, InvalidRoleError } from './errors.js';

export const USERS_BUCKET = 'sentinel_users';
export const SESSIONS_BUCKET = 'sentinel_sessions';
export const TOKENS_BUCKET = 'sentinel_tokens';
export const AUDIT_STREAM = 'SENTINEL_AUDIT';

export const ROLES = ['admin', 'operator', 'viewer'] as const;
export const RoleSchema = z.enum(ROLES);
export type Role = z.infer<typeof RoleSchema>;

/** User and token names: one KV key and one subject token, readable in an audit line. */
export const NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;
export const NameSchema = z.string().regex(NAME_PATTERN);

/** Milliseconds since the epoch; injected so tests can move time without sleeping. */
export type Clock = () => number;

export function parseName(name: string, what: 'user' | 'token' = 'user'): string {
  if (!NAME_PATTERN.test(name))
    throw new InvalidNameError(
      `invalid ${what} name "${name.slice(0, 80)}": use 1–64 characters [a-z0-9._-], starting with a letter or digit`,
    );
  return name;
}

export function parseRole(role: string): Role {
  const parsed = RoleSchema.safeParse(role);
  if (!parsed.success)
    throw new InvalidRoleError(`invalid role "${String(role).slice(0, 40)}": use admin, operator or viewer`);
  return parsed.data;
}

/** Roles in order of power: an admin may do what an operator may, and more. */
export const roleAllows = (have: Role, need: Role) => ROLES.indexOf(have) <= ROLES.indexOf(need);

/**
 * SHA-256 of a random token, hex. Tokens carry 256 random bits, so a fast hash
 * is as strong as a slow one for them (passwords get scrypt, see password.ts).
 */
export const sha256Hex = (token: string) => createHash('sha256').update(token).digest('hex');

export const Sha256Schema = z.string().regex(/^[0-9a-f]{64}$/);
