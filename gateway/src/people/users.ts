// Accounts of people in KV bucket sentinel_users, key = user name. A record holds
// the scrypt hash of the password, or, until the person chose one, the SHA-256 of
// a one-time onboarding token. Creation is first-writer-wins (KV create), so two
// nodes adding the same name never fork it; every change is compare-and-set.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { JetStreamClient } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import { z } from 'zod';
import { bucketKeys } from '../bus/bucket-keys.js';
import { type BucketLayout, openPeopleBucket } from './buckets.js';
import { LastAdminError, OnboardingTokenGoneError, UnknownUserError, UserExistsError } from './errors.js';
import { readJson } from './kv-watch.js';
import {
  type Clock,
  NameSchema,
  parseName,
  parseRole,
  type Role,
  RoleSchema,
  Sha256Schema,
  sha256Hex,
  USERS_BUCKET,
} from './model.js';
import { checkPasswordPolicy, hashPassword, needsRehash, verifyDummy, verifyPassword } from './password.js';

export const UserRecordSchema = z.object({
  name: NameSchema,
  role: RoleSchema,
  /** `$scrypt$…` (password.ts); absent until onboarding is done */
  password: z.string().optional(),
  /** while the person has not set a password yet */
  onboarding: z.object({ sha256: Sha256Schema, created: z.number().int() }).optional(),
  created: z.number().int(),
  updated: z.number().int(),
});
export type UserRecord = z.infer<typeof UserRecordSchema>;

/** A user as anyone outside this module sees it: no hashes. */
export interface User {
  name: string;
  role: Role;
  created: number;
  updated: number;
  onboarding_pending: boolean;
}

const publicUser = (record: UserRecord): User => ({
  name: record.name,
  role: record.role,
  created: record.created,
  updated: record.updated,
  onboarding_pending: record.password === undefined,
});

export class UserStore {
  constructor(
    readonly kv: KV,
    private readonly clock: Clock = Date.now,
  ) {}

  static async open(js: JetStreamClient, layout: BucketLayout = {}, clock: Clock = Date.now) {
    return new UserStore(await openPeopleBucket(js, USERS_BUCKET, layout), clock);
  }

  /** A new user with a one-time onboarding token (shown once; only its SHA-256 is kept). */
  async add(name: string, role: string): Promise<{ user: User; token: string }> {
    parseName(name);
    const token = randomBytes(32).toString('base64url');
    const now = this.clock();
    const user = await this.#create({
      name,
      role: parseRole(role),
      onboarding: { sha256: sha256Hex(token), created: now },
      created: now,
      updated: now,
    });
    return { user, token };
  }

  /**
   * A fresh onboarding token for a user who has not set a password yet; the previous
   * one stops working. Compare-and-set: of two reissues at once, one wins and the other
   * gets OnboardingTokenGoneError. UnknownUserError when there is no such user,
   * OnboardingTokenGoneError when they have a password already.
   */
  async reissueOnboarding(name: string): Promise<{ user: User; token: string }> {
    parseName(name);
    const found = await this.#read(name);
    if (!found) throw new UnknownUserError(`no user "${name}"`);
    if (found.record.password !== undefined)
      throw new OnboardingTokenGoneError(`user "${name}" has set a password already`);
    const token = randomBytes(32).toString('base64url');
    const now = this.clock();
    const record: UserRecord = {
      ...found.record,
      onboarding: { sha256: sha256Hex(token), created: now },
      updated: now,
    };
    try {
      await this.kv.update(name, JSON.stringify(record), found.revision);
    } catch (error) {
      throw new OnboardingTokenGoneError(`user "${name}" changed meanwhile`, { cause: error });
    }
    return { user: publicUser(record), token };
  }

  async addWithPassword(name: string, role: string, password: string): Promise<User> {
    parseName(name);
    const checkedRole = parseRole(role);
    const now = this.clock();
    return this.#create({
      name,
      role: checkedRole,
      password: await hashPassword(password),
      created: now,
      updated: now,
    });
  }

  async #create(record: UserRecord): Promise<User> {
    try {
      await this.kv.create(record.name, JSON.stringify(record));
    } catch (error) {
      if (await this.get(record.name))
        throw new UserExistsError(`user "${record.name}" exists already`, { cause: error });
      throw error;
    }
    return publicUser(record);
  }

  async get(name: string): Promise<User | undefined> {
    const found = await this.#read(name);
    return found && publicUser(found.record);
  }

  /** The user an onboarding token belongs to; OnboardingTokenGoneError once it was used (or never issued). */
  async onboarding(token: string): Promise<User> {
    return publicUser((await this.#findOnboarding(token)).record);
  }

  /**
   * Spends an onboarding token: the password is set and the token forgotten. The
   * policy is checked first, so a too-short password does not use the link up.
   * Compare-and-set: of two uses at once, one wins and the other gets "gone".
   */
  async setPasswordFromOnboarding(token: string, password: string): Promise<User> {
    checkPasswordPolicy(password);
    const hash = await hashPassword(password);
    const { record, revision } = await this.#findOnboarding(token);
    const { onboarding: _spent, ...rest } = record;
    const updated: UserRecord = { ...rest, password: hash, updated: this.clock() };
    try {
      await this.kv.update(record.name, JSON.stringify(updated), revision);
    } catch (error) {
      throw new OnboardingTokenGoneError('this onboarding link was used already', { cause: error });
    }
    return publicUser(updated);
  }

  async #findOnboarding(token: string): Promise<{ record: UserRecord; revision: number }> {
    const wanted = Buffer.from(sha256Hex(token), 'hex');
    // a household has a handful of accounts: a scan is cheaper than keeping an index in step
    for (const key of await bucketKeys(this.kv)) {
      const found = await this.#read(key);
      const onboarding = found?.record.onboarding;
      if (found && onboarding && timingSafeEqual(Buffer.from(onboarding.sha256, 'hex'), wanted)) return found;
    }
    throw new OnboardingTokenGoneError('this onboarding link was used already or never existed');
  }

  /**
   * The user when `password` is theirs, else undefined. An unknown name, a user
   * still onboarding and a wrong password cost the same scrypt work, so the
   * answer's timing does not tell which names exist.
   */
  async verify(name: string, password: string): Promise<User | undefined> {
    const found = await this.#read(name).catch(() => undefined);
    const hash = found?.record.password;
    if (!found || hash === undefined) {
      await verifyDummy(password);
      return undefined;
    }
    if (!(await verifyPassword(password, hash))) return undefined;
    if (needsRehash(hash)) {
      // parameters were raised since this hash was made; a lost race only delays the upgrade
      const record = { ...found.record, password: await hashPassword(password), updated: this.clock() };
      await this.kv.update(name, JSON.stringify(record), found.revision).catch(() => undefined);
    }
    return publicUser(found.record);
  }

  /** Changes a role; the last admin cannot be demoted (LastAdminError). */
  async setRole(name: string, role: string): Promise<User> {
    parseName(name);
    const checkedRole = parseRole(role);
    const found = await this.#read(name);
    if (!found) throw new UnknownUserError(`no user "${name}"`);
    if (found.record.role === 'admin' && checkedRole !== 'admin') await this.#refuseLastAdmin(name, 'demote');
    const record: UserRecord = { ...found.record, role: checkedRole, updated: this.clock() };
    await this.kv.update(name, JSON.stringify(record), found.revision);
    return publicUser(record);
  }

  /** Removes a user; the last admin cannot be removed (LastAdminError). */
  async remove(name: string): Promise<User> {
    parseName(name);
    const found = await this.#read(name);
    if (!found) throw new UnknownUserError(`no user "${name}"`);
    if (found.record.role === 'admin') await this.#refuseLastAdmin(name, 'remove');
    await this.kv.delete(name, { previousSeq: found.revision });
    return publicUser(found.record);
  }

  async #refuseLastAdmin(name: string, what: 'remove' | 'demote'): Promise<void> {
    const others = (await this.list()).filter((u) => u.role === 'admin' && u.name !== name);
    if (others.length === 0)
      throw new LastAdminError(
        `cannot ${what} "${name}": it is the last admin; make another user admin first`,
      );
  }

  async list(): Promise<User[]> {
    const users: User[] = [];
    for (const key of await bucketKeys(this.kv)) {
      const found = await this.#read(key);
      if (found) users.push(publicUser(found.record));
    }
    return users.sort((a, b) => a.name.localeCompare(b.name));
  }

  async #read(name: string): Promise<{ record: UserRecord; revision: number } | undefined> {
    if (!NameSchema.safeParse(name).success) return undefined;
    const entry = await readJson(this.kv, name);
    const parsed = UserRecordSchema.safeParse(entry?.value);
    return entry && parsed.success && parsed.data.name === name
      ? { record: parsed.data, revision: entry.revision }
      : undefined;
  }
}
