// Password hashing with scrypt (memory-hard, in node:crypto). The stored form
// names its own parameters, `$scrypt$ln=15,r=8,p=1$<salt>$<hash>` (base64url), so
// they can be raised later: old hashes keep verifying with the parameters they
// were made with, and `needsRehash` tells the caller to store a fresh one.
import { randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from 'node:crypto';
import { PasswordPolicyError } from './errors.js';

export const PASSWORD_MIN_CHARS = 10;
export const PASSWORD_MAX_CHARS = 1024;

/** N = 2^15, r = 8: 32 MiB and some 50–100 ms per hash on a small box; p = 1. */
export const SCRYPT_PARAMS = { ln: 15, r: 8, p: 1 } as const;
const SALT_BYTES = 16;
const KEY_BYTES = 32;

interface Params {
  ln: number;
  r: number;
  p: number;
}

const ENCODED =
  /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9_-]{16,})\$([A-Za-z0-9_-]{32,})$/;

/** Throws PasswordPolicyError; counts characters (code points), not bytes. */
export function checkPasswordPolicy(password: string): void {
  const length = [...password].length;
  if (length < PASSWORD_MIN_CHARS)
    throw new PasswordPolicyError(`a password needs at least ${PASSWORD_MIN_CHARS} characters`);
  if (length > PASSWORD_MAX_CHARS)
    throw new PasswordPolicyError(`a password may have at most ${PASSWORD_MAX_CHARS} characters`);
}

function derive(password: string, salt: Buffer, params: Params): Promise<Buffer> {
  const N = 2 ** params.ln;
  const options: ScryptOptions = {
    N,
    r: params.r,
    p: params.p,
    // Node refuses more than 32 MiB by default; N=2^15, r=8 needs exactly 128·N·r = 32 MiB
    maxmem: 128 * N * params.r * params.p + 16 * 1024 * 1024,
  };
  // the same text typed on two keyboards may arrive composed differently
  const normalized = password.normalize('NFC');
  return new Promise((resolve, reject) =>
    scrypt(normalized, salt, KEY_BYTES, options, (error, key) => (error ? reject(error) : resolve(key))),
  );
}

/** Hashes a password that passed the policy (checked here too). */
export async function hashPassword(password: string, params: Params = SCRYPT_PARAMS): Promise<string> {
  checkPasswordPolicy(password);
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, salt, params);
  return `$scrypt$ln=${params.ln},r=${params.r},p=${params.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

function decode(encoded: string): { params: Params; salt: Buffer; key: Buffer } | undefined {
  const match = ENCODED.exec(encoded);
  if (!match) return undefined;
  const [, ln, r, p, salt, key] = match;
  const params = { ln: Number(ln), r: Number(r), p: Number(p) };
  // bounds so a tampered record cannot make us allocate gigabytes
  if (params.ln < 10 || params.ln > 20 || params.r < 1 || params.r > 32 || params.p < 1 || params.p > 4)
    return undefined;
  return { params, salt: Buffer.from(salt ?? '', 'base64url'), key: Buffer.from(key ?? '', 'base64url') };
}

/** Whether `encoded` is a hash this module can verify. */
export const isPasswordHash = (encoded: string) => decode(encoded) !== undefined;

/**
 * Constant-time check. A password over the policy's maximum is refused before
 * hashing (after the same work as a real check), so nobody can make us hash megabytes.
 */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const stored = decode(encoded);
  if (!stored || [...password].length > PASSWORD_MAX_CHARS) {
    await verifyDummy(password);
    return false;
  }
  const key = await derive(password, stored.salt, stored.params);
  return key.length === stored.key.length && timingSafeEqual(key, stored.key);
}

/** True when the hash was made with other parameters than today's: store a fresh one after a good log-in. */
export function needsRehash(encoded: string): boolean {
  const stored = decode(encoded);
  return (
    !stored ||
    stored.params.ln !== SCRYPT_PARAMS.ln ||
    stored.params.r !== SCRYPT_PARAMS.r ||
    stored.params.p !== SCRYPT_PARAMS.p
  );
}

const dummySalt = randomBytes(SALT_BYTES);
const dummyKey = randomBytes(KEY_BYTES);

/**
 * The work of a real check, for a user who does not exist or has no password yet:
 * a log-in for "nobody" takes as long as one for a real account (same scrypt
 * parameters, same compare), so the timing does not tell which user names exist.
 */
export async function verifyDummy(password: string): Promise<false> {
  const key = await derive(password.slice(0, PASSWORD_MAX_CHARS), dummySalt, SCRYPT_PARAMS);
  timingSafeEqual(key, dummyKey);
  return false;
}
