// API tokens for scripts and Prometheus in KV bucket sentinel_tokens, key = the
// token's name. A token is `sen_` + 32 random bytes in base64url; only its
// SHA-256 is stored (256 random bits need no slow hash). A started store keeps a
// map SHA-256 → record, current through a KV watch: validating costs no round
// trip, and a revocation on any node is seen at once (onRevoked fires).
import { randomBytes } from 'node:crypto';
import type { JetStreamClient } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import { z } from 'zod';
import { bucketKeys } from '../bus/bucket-keys.js';
import { followBucket } from '../bus/mirror.js';
import { type BucketLayout, openPeopleBucket } from './buckets.js';
import { TokenExistsError, UnknownTokenError } from './errors.js';
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
  TOKENS_BUCKET,
} from './model.js';
import { type RevokedListener, RevokedListeners } from './revocation.js';

export const TokenRecordSchema = z.object({
  name: NameSchema,
  role: RoleSchema,
  sha256: Sha256Schema,
  created: z.number().int(),
  last_used: z.number().int().optional(),
});
export type TokenRecord = z.infer<typeof TokenRecordSchema>;

/** A token as listed: no hash. */
export interface TokenInfo {
  name: string;
  role: Role;
  created: number;
  last_used?: number;
}

export const API_TOKEN_PATTERN = /^sen_[A-Za-z0-9_-]{43}$/;

export interface TokenOptions {
  clock?: Clock;
  /** last_used is written back at most this often */
  touchMs?: number;
}

const info = ({ name, role, created, last_used }: TokenRecord): TokenInfo => ({
  name,
  role,
  created,
  ...(last_used !== undefined ? { last_used } : {}),
});

/** `token-<yyyymmdd>-<4 hex>`: sortable by day, unique enough to retry on a clash. */
function defaultName(now: number): string {
  const day = new Date(now).toISOString().slice(0, 10).replaceAll('-', '');
  return `token-${day}-${randomBytes(2).toString('hex')}`;
}

export class TokenStore {
  readonly #clock: Clock;
  readonly #touchMs: number;
  /** sha256 → record and revision, while started */
  readonly #byHash = new Map<string, { record: TokenRecord; revision: number }>();
  /** name → sha256, to find what a delete removed */
  readonly #byName = new Map<string, string>();
  readonly #touching = new Map<string, Promise<void>>();
  /** name → sha256 of tokens revoked here whose delete the watch has not brought yet */
  readonly #revoked = new Map<string, string>();
  readonly #listeners = new RevokedListeners();
  #stopWatch: (() => void) | undefined;

  constructor(
    readonly kv: KV,
    options: TokenOptions = {},
  ) {
    this.#clock = options.clock ?? Date.now;
    this.#touchMs = options.touchMs ?? 60_000;
  }

  static async open(js: JetStreamClient, layout: BucketLayout = {}, options: TokenOptions = {}) {
    return new TokenStore(await openPeopleBucket(js, TOKENS_BUCKET, layout), options);
  }

  /** Follows the bucket so `validate` works from memory (the gateway; the CLI needs no watch). */
  async start(): Promise<void> {
    this.#stopWatch = await followBucket(this.kv, ({ key, revision, value, operation }) => {
      const parsed = operation === 'PUT' ? TokenRecordSchema.safeParse(value) : undefined;
      if (parsed?.success && parsed.data.name === key) this.#learn(parsed.data, revision);
      else {
        this.#forget(key);
        if (operation !== 'PUT') this.#revoked.delete(key);
      }
    });
  }

  /** A token as the bucket holds it at `revision` (from the watch, or this node's own create). */
  #learn(record: TokenRecord, revision: number): void {
    // a lagging watch bringing the put of a token revoked here since: it stays revoked
    if (this.#revoked.get(record.name) === record.sha256) return;
    const previous = this.#byName.get(record.name);
    if (previous !== undefined && previous !== record.sha256) this.#forget(record.name);
    if ((this.#byHash.get(record.sha256)?.revision ?? 0) >= revision) return;
    this.#byHash.set(record.sha256, { record, revision });
    this.#byName.set(record.name, record.sha256);
  }

  stop(): void {
    this.#stopWatch?.();
  }

  /** Fires for every token revoked (on any node) while started. */
  onRevoked(listener: RevokedListener): () => void {
    return this.#listeners.add(listener);
  }

  /** A new token, returned once. First writer wins on the name. */
  async create(role: string, name?: string): Promise<{ name: string; role: Role; token: string }> {
    const checkedRole = parseRole(role);
    if (name !== undefined) parseName(name, 'token');
    for (let attempt = 0; ; attempt++) {
      const now = this.#clock();
      const tokenName = name ?? defaultName(now);
      const token = `sen_${randomBytes(32).toString('base64url')}`;
      const record: TokenRecord = {
        name: tokenName,
        role: checkedRole,
        sha256: sha256Hex(token),
        created: now,
      };
      try {
        const revision = await this.kv.create(tokenName, JSON.stringify(record));
        // usable here at once, not only once the watch brings it back (on a busy node that
        // took long enough for the caller's first request with it to be refused)
        if (this.#stopWatch) this.#learn(record, revision);
        return { name: tokenName, role: checkedRole, token };
      } catch (error) {
        if (!(await readJson(this.kv, tokenName))) throw error;
        // a generated name that clashed: draw another; a chosen one is the caller's to change
        if (name !== undefined || attempt >= 4)
          throw new TokenExistsError(`a token named "${tokenName}" exists already`, { cause: error });
      }
    }
  }

  /** Revokes a token by name; UnknownTokenError when there is none. */
  async revoke(name: string): Promise<TokenInfo> {
    parseName(name, 'token');
    const found = await this.#read(name);
    if (!found) throw new UnknownTokenError(`no token named "${name}"`);
    // marked before the delete, so the watch's delete always finds (and clears) the mark
    if (this.#stopWatch) this.#revoked.set(name, found.record.sha256);
    try {
      await this.kv.delete(name);
    } catch (error) {
      this.#revoked.delete(name);
      throw error;
    }
    this.#forget(name);
    return info(found.record);
  }

  async list(): Promise<TokenInfo[]> {
    const tokens: TokenInfo[] = [];
    for (const key of await bucketKeys(this.kv)) {
      const found = await this.#read(key);
      if (found) tokens.push(info(found.record));
    }
    return tokens.sort((a, b) => a.name.localeCompare(b.name));
  }

  /** The token's name and role, or undefined; from memory (call `start` first). */
  validate(token: string): { name: string; role: Role } | undefined {
    if (!API_TOKEN_PATTERN.test(token)) return undefined;
    const found = this.#byHash.get(sha256Hex(token));
    if (!found) return undefined;
    const now = this.#clock();
    if (now - (found.record.last_used ?? 0) >= this.#touchMs) this.#touch(found, now);
    return { name: found.record.name, role: found.record.role };
  }

  #forget(name: string): void {
    const hash = this.#byName.get(name);
    if (hash === undefined) return;
    this.#byName.delete(name);
    this.#byHash.delete(hash);
    this.#listeners.emit({ kind: 'token', id: name });
  }

  async #read(name: string): Promise<{ record: TokenRecord; revision: number } | undefined> {
    if (!NameSchema.safeParse(name).success) return undefined;
    const entry = await readJson(this.kv, name);
    const parsed = TokenRecordSchema.safeParse(entry?.value);
    return entry && parsed.success && parsed.data.name === name
      ? { record: parsed.data, revision: entry.revision }
      : undefined;
  }

  /** last_used, compare-and-set: a write-back never revives a token revoked meanwhile. */
  #touch(found: { record: TokenRecord; revision: number }, now: number): void {
    const { name } = found.record;
    if (this.#touching.has(name)) return;
    const record = { ...found.record, last_used: now };
    // shown in memory at once, so a burst of requests writes once
    found.record = record;
    const write = this.kv
      .update(name, JSON.stringify(record), found.revision)
      .then(() => undefined)
      .catch(() => undefined) // revoked or changed meanwhile: the watch brings what is true
      .finally(() => this.#touching.delete(name));
    this.#touching.set(name, write);
  }

  /** Resolves once every last_used write-back started so far has landed (tests, shutdown). */
  async settled(): Promise<void> {
    await Promise.all(this.#touching.values());
  }
}
