// The audit log: JetStream stream SENTINEL_AUDIT on `sentinel.audit.<action>`,
// one JSON record per login, command, account, token or device change. Kept by
// age (90 days) and size, oldest first out. Never holds a secret: records carry
// names, never passwords or tokens, and detail keys that look like secrets are
// dropped before publishing.
//
// Reading newest first: the stream is in time order, so a query first finds the
// last sequence before `before` by binary search over direct message gets (about
// log2(n) round trips), then reads windows of sequences backwards, each window
// with one ordered consumer (one round trip, then streamed), filtering in memory,
// until `limit` records matched. Measured in gateway/test/people-audit.test.ts
// with 10,000 records.
import {
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  StorageType,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { z } from 'zod';
import type { BucketLayout } from './buckets.js';
import { InvalidAuditRecordError } from './errors.js';
import { AUDIT_STREAM, type Clock } from './model.js';

export const AUDIT_SUBJECTS = 'sentinel.audit.>';
export const auditSubject = (action: string) => `sentinel.audit.${action}`;

export const AUDIT_ACTIONS = [
  'login',
  'login_failed',
  'logout',
  'command',
  'user_add',
  'user_remove',
  'user_role',
  'user_unlock',
  'token_create',
  'token_revoke',
  'device_add',
  'device_remove',
  'device_rotate',
  'entity_rename',
  'entity_rebind',
  'onboarding',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** `user:<name>`, `token:<name>`, `cli` or `system`. */
export const ActorSchema = z
  .string()
  .regex(/^((user|token):[a-z0-9][a-z0-9._-]{0,63}|cli|system)$/, 'user:<name>, token:<name>, cli or system');

export const AuditRecordSchema = z.object({
  ts: z.number().int(),
  actor: ActorSchema,
  // what later versions add still reads
  action: z.string().regex(/^[a-z][a-z0-9_]{0,63}$/),
  target: z.string().min(1).max(256).optional(),
  /** the client address, or `cli` */
  from: z.string().min(1).max(128),
  /** `ok` or an error code */
  outcome: z.string().regex(/^[a-z][a-z0-9_]{0,63}$/),
  detail: z.record(z.string(), z.unknown()).optional(),
});
export type AuditRecord = z.infer<typeof AuditRecordSchema>;

export type AuditEntry = Omit<AuditRecord, 'ts' | 'action'> & { action: AuditAction; ts?: number };

export interface AuditQuery {
  /** `user:<name>`, `token:<name>`, `cli`, `system` */
  actor?: string;
  /** an entity id, device id, user or token name: equal to the record's target */
  target?: string;
  action?: string;
  /** at most this many records (default 100, at most 1000) */
  limit?: number;
  /** only records with ts before this (paging: the last ts of the previous page) */
  before?: number;
}

export interface AuditOptions extends BucketLayout {
  clock?: Clock;
  maxAgeMs?: number;
  maxBytes?: number;
}

const DAY = 24 * 3600_000;
/** 10058: a stream of that name exists (another node created it meanwhile) */
const STREAM_NAME_IN_USE = 10058;
/** keys of detail never published: a caller passing a request body must not leak one */
const SECRET_KEY = /pass|token|secret|bindkey|cookie|authorization|seed/i;
const MAX_DETAIL_BYTES = 4096;

export class AuditLog {
  private constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly clock: Clock,
  ) {}

  /**
   * Opens the stream, creating it when missing. `maxAgeMs`/`maxBytes` given: an
   * existing stream's retention is brought to them (the gateway); not given, it is
   * left alone (CLI commands).
   */
  static async open(js: JetStreamClient, jsm: JetStreamManager, options: AuditOptions = {}) {
    const wanted = {
      max_age: nanos(options.maxAgeMs ?? 90 * DAY),
      max_bytes: options.maxBytes ?? 256 * 1024 ** 2,
    };
    try {
      const { config } = await jsm.streams.info(AUDIT_STREAM);
      const explicit = options.maxAgeMs !== undefined || options.maxBytes !== undefined;
      if (explicit && (config.max_age !== wanted.max_age || config.max_bytes !== wanted.max_bytes))
        await jsm.streams.update(AUDIT_STREAM, { ...config, ...wanted });
    } catch (error) {
      if (!(error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound))
        throw error;
      await jsm.streams
        .add({
          name: AUDIT_STREAM,
          subjects: [AUDIT_SUBJECTS],
          storage: StorageType.File,
          discard: DiscardPolicy.Old,
          num_replicas: options.replicas ?? 1,
          allow_direct: true,
          ...wanted,
        })
        .catch((addError: unknown) => {
          if (addError instanceof JetStreamApiError && addError.code === STREAM_NAME_IN_USE) return;
          throw addError;
        });
    }
    return new AuditLog(js, jsm, options.clock ?? Date.now);
  }

  /** Publishes one record and waits until JetStream stored it. */
  async record(entry: AuditEntry): Promise<AuditRecord> {
    const parsed = AuditRecordSchema.safeParse({
      ...entry,
      ts: entry.ts ?? this.clock(),
      ...(entry.detail ? { detail: scrub(entry.detail) } : {}),
    });
    if (!parsed.success)
      throw new InvalidAuditRecordError(
        `audit record ${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}`,
      );
    await this.js.publish(auditSubject(parsed.data.action), JSON.stringify(parsed.data));
    return parsed.data;
  }

  /** Records matching every given filter, newest first. */
  async query(query: AuditQuery = {}): Promise<AuditRecord[]> {
    const limit = Math.min(Math.max(1, Math.trunc(query.limit ?? 100)), 1000);
    const { state } = await this.jsm.streams.info(AUDIT_STREAM);
    if (state.messages === 0) return [];
    const first = state.first_seq;
    let hi =
      query.before === undefined
        ? state.last_seq
        : await this.#lastBefore(query.before, first, state.last_seq);
    const matches = (r: AuditRecord) =>
      (query.before === undefined || r.ts < query.before) &&
      (query.actor === undefined || r.actor === query.actor) &&
      (query.target === undefined || r.target === query.target) &&
      (query.action === undefined || r.action === query.action);
    const found: AuditRecord[] = [];
    let window = Math.max(256, limit * 2);
    while (hi >= first && found.length < limit) {
      const lo = Math.max(first, hi - window + 1);
      const page = (await this.#read(lo, hi)).filter(matches);
      for (let i = page.length - 1; i >= 0 && found.length < limit; i--) found.push(page[i] as AuditRecord);
      hi = lo - 1;
      window = Math.min(window * 2, 16_384);
    }
    return found;
  }

  /**
   * The highest sequence whose record is before `before`, by binary search (records
   * are appended in time order). Clocks of two nodes may differ a little, so a few
   * sequences past the result are read too; the ts filter then decides exactly.
   */
  async #lastBefore(before: number, first: number, last: number): Promise<number> {
    let lo = first;
    let hi = last;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      const ts = await this.#tsAt(mid);
      if (ts === undefined) return last; // a hole (a deleted record): read from the top instead
      if (ts < before) lo = mid;
      else hi = mid - 1;
    }
    return Math.min(last, lo + 64);
  }

  async #tsAt(seq: number): Promise<number | undefined> {
    const message = await this.jsm.streams.getMessage(AUDIT_STREAM, { seq }).catch(() => null);
    if (!message) return undefined;
    const parsed = AuditRecordSchema.safeParse(safeJson(() => message.json()));
    return parsed.success ? parsed.data.ts : undefined;
  }

  /** Records with sequences lo..hi, oldest first (one ordered consumer, streamed). */
  async #read(lo: number, hi: number): Promise<AuditRecord[]> {
    const consumer = await this.js.consumers.get(AUDIT_STREAM, {
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: lo,
    });
    const records: AuditRecord[] = [];
    // the stream holds at least its last sequence (≥ hi), so the fetch never waits for messages
    const messages = await consumer.fetch({ max_messages: hi - lo + 1, expires: 5000 });
    for await (const message of messages) {
      if (message.seq > hi) break;
      const parsed = AuditRecordSchema.safeParse(safeJson(() => message.json()));
      if (parsed.success) records.push(parsed.data);
      if (message.seq >= hi || message.info.pending === 0) break;
    }
    return records;
  }
}

function safeJson(read: () => unknown): unknown {
  try {
    return read();
  } catch {
    return undefined;
  }
}

/** Detail without secret-looking keys (at any depth), and never larger than 4 KiB. */
function scrub(detail: Record<string, unknown>): Record<string, unknown> {
  const clean = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(clean);
    if (value && typeof value === 'object')
      return Object.fromEntries(
        Object.entries(value)
          .filter(([key]) => !SECRET_KEY.test(key))
          .map(([key, inner]) => [key, clean(inner)]),
      );
    return value;
  };
  const scrubbed = clean(detail) as Record<string, unknown>;
  return Buffer.byteLength(JSON.stringify(scrubbed)) > MAX_DETAIL_BYTES ? { truncated: true } : scrubbed;
}
