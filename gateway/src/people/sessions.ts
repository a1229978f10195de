// Browser sessions in KV bucket sentinel_sessions. The key is the SHA-256 of the
// session token (the cookie value), so the bucket holds nothing a thief could
// present. Each node keeps every session in memory, current through a KV watch:
// validating costs no round trip, and a revocation anywhere reaches every node
// at once (onRevoked fires there too, to close WebSockets).
//
// Expiry is checked on every validation: idle (7 days without a request) and
// absolute (30 days after log-in). last_seen is written back at most once a
// minute, with compare-and-set on the revision, so a write-back never revives a
// session that was revoked meanwhile. An expired session is deleted when it is
// next seen, or by the sweep (once a minute) so its sockets close too.
import { randomBytes } from 'node:crypto';
import type { JetStreamClient } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import { z } from 'zod';
import { bucketKeys } from '../bus/bucket-keys.js';
import { followBucket } from '../bus/mirror.js';
import { type BucketLayout, openPeopleBucket } from './buckets.js';
import { readJson } from './kv-watch.js';
import { type Clock, NameSchema, SESSIONS_BUCKET, Sha256Schema, sha256Hex } from './model.js';
import { type RevokedListener, RevokedListeners } from './revocation.js';

export const SessionRecordSchema = z.object({
  user: NameSchema,
  created: z.number().int(),
  last_seen: z.number().int(),
});
export type SessionRecord = z.infer<typeof SessionRecordSchema>;

export interface Session extends SessionRecord {
  /** SHA-256 of the token, hex: the KV key, and what onRevoked names */
  id: string;
  /** when it ends unless used again: min(last_seen + idle, created + absolute) */
  expires: number;
}

export interface SessionOptions {
  clock?: Clock;
  idleMs?: number;
  absoluteMs?: number;
  /** last_seen is written back at most this often */
  touchMs?: number;
  /** how often `start()`ed stores delete expired sessions */
  sweepMs?: number;
}

const DAY = 24 * 3600_000;
const TOKEN = /^[A-Za-z0-9_-]{43}$/;

export class SessionStore {
  readonly #clock: Clock;
  readonly idleMs: number;
  readonly absoluteMs: number;
  readonly #touchMs: number;
  readonly #sweepMs: number;
  /** id → record, while started */
  readonly #cache = new Map<string, { record: SessionRecord; revision: number }>();
  readonly #touching = new Map<string, Promise<void>>();
  readonly #listeners = new RevokedListeners();
  #stopWatch: (() => void) | undefined;
  #sweeper: NodeJS.Timeout | undefined;

  constructor(
    readonly kv: KV,
    options: SessionOptions = {},
  ) {
    this.#clock = options.clock ?? Date.now;
    this.idleMs = options.idleMs ?? 7 * DAY;
    this.absoluteMs = options.absoluteMs ?? 30 * DAY;
    this.#touchMs = options.touchMs ?? 60_000;
    this.#sweepMs = options.sweepMs ?? 60_000;
  }

  /** The bucket's max_age is the absolute expiry: a backstop that drops sessions nobody swept. */
  static async open(js: JetStreamClient, layout: BucketLayout = {}, options: SessionOptions = {}) {
    const absoluteMs = options.absoluteMs ?? 30 * DAY;
    return new SessionStore(await openPeopleBucket(js, SESSIONS_BUCKET, layout, absoluteMs), options);
  }

  static idOf(token: string): string {
    return sha256Hex(token);
  }

  /** Follows the bucket (the gateway); without it every call asks KV (the CLI). */
  async start(): Promise<void> {
    this.#stopWatch = await followBucket(this.kv, ({ key, revision, value, operation }) => {
      const parsed = operation === 'PUT' ? SessionRecordSchema.safeParse(value) : undefined;
      if (parsed?.success) this.#cache.set(key, { record: parsed.data, revision });
      else this.#forget(key);
    });
    this.#sweeper = setInterval(() => {
      this.sweep().catch(() => undefined); // NATS away: the next sweep or validation catches up
    }, this.#sweepMs);
    this.#sweeper.unref();
  }

  stop(): void {
    this.#stopWatch?.();
    clearInterval(this.#sweeper);
  }

  /** Fires for every session that ends (on any node) while started. */
  onRevoked(listener: RevokedListener): () => void {
    return this.#listeners.add(listener);
  }

  /** A new session; the token (the cookie value) is returned once and stored only hashed. */
  async create(user: string): Promise<{ token: string; session: Session }> {
    const token = randomBytes(32).toString('base64url');
    const id = SessionStore.idOf(token);
    const now = this.#clock();
    const record: SessionRecord = { user: NameSchema.parse(user), created: now, last_seen: now };
    const revision = await this.kv.create(id, JSON.stringify(record));
    if (this.#stopWatch) this.#cache.set(id, { record, revision });
    return { token, session: this.#session(id, record) };
  }

  /** The session a token belongs to, or undefined (unknown, revoked, expired). Refreshes last_seen. */
  async validate(token: string): Promise<Session | undefined> {
    if (!TOKEN.test(token)) return undefined;
    const id = SessionStore.idOf(token);
    // a session made on the other node a moment ago may not have reached our watch yet
    let found = this.#cache.get(id) ?? (await this.#fetch(id));
    if (!found) return undefined;
    const now = this.#clock();
    if (now >= this.#expires(found.record)) {
      // expired as far as this node knows; the other node may have seen it used since
      found = await this.#expire(id, found.revision);
      if (!found) return undefined;
    }
    if (now - found.record.last_seen >= this.#touchMs) this.#touch(id, found, now);
    return this.#session(id, { ...found.record, last_seen: Math.max(found.record.last_seen, now) });
  }

  /** Ends one session by id; false when there was none. */
  async revoke(id: string): Promise<boolean> {
    if (!Sha256Schema.safeParse(id).success) return false;
    const found = this.#cache.get(id) ?? (await this.#fetch(id));
    if (!found) return false;
    await this.kv.delete(id);
    this.#forget(id);
    return true;
  }

  /** Ends every session of a user (removed, or their role changed); returns how many. */
  async revokeUser(user: string): Promise<number> {
    let count = 0;
    // from KV, not this node's cache: a session another node made a moment ago may not have
    // reached the cache yet, and a removed user must not keep it
    for (const session of await this.list({ fromKv: true })) {
      if (session.user !== user) continue;
      await this.kv.delete(session.id);
      this.#forget(session.id);
      count += 1;
    }
    return count;
  }

  /** Every live session, from memory when started (unless `fromKv`), else from KV. */
  async list(o: { fromKv?: boolean } = {}): Promise<Session[]> {
    const sessions: Session[] = [];
    if (this.#stopWatch && !o.fromKv) {
      for (const [id, { record }] of this.#cache) sessions.push(this.#session(id, record));
      return sessions;
    }
    for (const id of await bucketKeys(this.kv)) {
      const found = await this.#fetch(id);
      if (found) sessions.push(this.#session(id, found.record));
    }
    return sessions;
  }

  /** Deletes expired sessions (their onRevoked fires); returns how many. */
  async sweep(): Promise<number> {
    const now = this.#clock();
    let count = 0;
    for (const [id, { record, revision }] of [...this.#cache]) {
      if (now < this.#expires(record)) continue;
      if (!(await this.#expire(id, revision))) count += 1;
    }
    return count;
  }

  #expires(record: SessionRecord): number {
    return Math.min(record.last_seen + this.idleMs, record.created + this.absoluteMs);
  }

  #session(id: string, record: SessionRecord): Session {
    return { id, ...record, expires: this.#expires(record) };
  }

  async #fetch(id: string): Promise<{ record: SessionRecord; revision: number } | undefined> {
    if (!Sha256Schema.safeParse(id).success) return undefined;
    const entry = await readJson(this.kv, id);
    const parsed = SessionRecordSchema.safeParse(entry?.value);
    return entry && parsed.success ? { record: parsed.data, revision: entry.revision } : undefined;
  }

  /**
   * Deletes an expired session with compare-and-set on the revision this node
   * saw. When it changed meanwhile (the other node recorded a later use), KV
   * decides: the session is returned if it is alive after all.
   */
  async #expire(
    id: string,
    revision: number,
  ): Promise<{ record: SessionRecord; revision: number } | undefined> {
    try {
      await this.kv.delete(id, { previousSeq: revision });
    } catch {
      const current = await this.#fetch(id).catch(() => undefined);
      if (current && this.#clock() < this.#expires(current.record)) {
        if (this.#stopWatch) this.#cache.set(id, current);
        return current;
      }
      if (current) await this.kv.delete(id, { previousSeq: current.revision }).catch(() => undefined);
    }
    this.#forget(id);
    return undefined;
  }

  /**
   * Out of memory at once (not only when the watch brings the delete), so this
   * node refuses the session from the moment `revoke` returns; listeners hear it
   * once, from whichever comes first.
   */
  #forget(id: string): void {
    const previous = this.#cache.get(id);
    if (!previous) return;
    this.#cache.delete(id);
    this.#listeners.emit({ kind: 'session', id, user: previous.record.user });
  }

  #touch(id: string, found: { record: SessionRecord; revision: number }, now: number): void {
    const record = { ...found.record, last_seen: now };
    // in memory at once: this node's idle clock is right before the write lands,
    // and a burst of requests writes once
    found.record = record;
    if (this.#touching.has(id)) return;
    const write = this.kv
      .update(id, JSON.stringify(record), found.revision)
      .then((revision) => {
        const cached = this.#cache.get(id);
        if (cached?.record === record) cached.revision = revision;
      })
      // lost the race to a revocation or to the other node's touch: nothing to do
      .catch(() => undefined)
      .finally(() => this.#touching.delete(id));
    this.#touching.set(id, write);
  }

  /** Resolves once every last_seen write-back started so far has landed (tests, shutdown). */
  async settled(): Promise<void> {
    await Promise.all(this.#touching.values());
  }
}
