// The reading path. Every accepted reading is published on sentinel.state.<id>,
// which the SENTINEL_HISTORY stream captures: a plain publish for QoS 0, a
// JetStream publish (acknowledged once stored, deduplicated by message id) for
// durable readings. The latest state per entity goes to KV sentinel_state
// coalesced: at most one write per entity per flush, so KV is never the hot path.
import { setTimeout as delay } from 'node:timers/promises';
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { ReadingValue } from '@sentinel/firmware';
import { z } from 'zod';
import type { DurablePublisher } from '../bus/durable-publisher.js';
import { mirrorBucket } from '../bus/mirror.js';
import { BUCKET, kvSubject, subject } from '../bus/names.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { RollupWriter } from './rollup.js';

export interface ReadingSource {
  protocol: string;
  device_id: string;
  key: string;
}

export interface StateMessage {
  entity_id: string;
  value: ReadingValue;
  ts: number;
  unit?: string;
  source: ReadingSource;
}

export interface DurableOptions {
  /** JetStream drops a second message with the same id within the duplicate window */
  msgId: string;
  /** true when retrying is pointless (the device went away and will resend) */
  abandoned?: () => boolean;
}

const MAX_RETRY_BACKOFF_MS = 2000;
/** readings per NATS write at the most */
const BATCH_LIMIT = 32;

type LatestState = StateMessage & { available?: boolean };

/** A record of KV sentinel_state (CONTRACT.md §3, with our `available`), as another writer may have left it. */
const StoredStateSchema = z.looseObject({
  entity_id: z.string(),
  value: z.union([z.number(), z.boolean(), z.string(), z.null()]),
  ts: z.number(),
  unit: z.string().optional(),
  source: z.looseObject({ protocol: z.string(), device_id: z.string(), key: z.string() }),
  available: z.boolean().optional(),
});

interface DurablePublish {
  subject: string;
  payload: string;
  options: DurableOptions;
  resolve(): void;
  reject(error: unknown): void;
}

export class StatePublisher {
  /** entity id → latest state this node wrote, as stored in sentinel_state (with our `available` extension) */
  readonly #latest = new Map<string, LatestState>();
  /**
   * entity id → the state KV held when this node started (load()). Kept apart from
   * #latest: those are rewritten after a reconnect, and rewriting a value read at start
   * would undo what another node wrote since.
   */
  readonly #stored = new Map<string, LatestState>();
  /**
   * Readings wait here until the end of the event-loop turn, then go out together:
   * the NATS client writes one socket buffer per batch instead of one per reading
   * (it flushes on a microtask, and readings from different device sockets arrive
   * in different callbacks of the same turn).
   */
  #coreBatch: string[] = [];
  #durableBatch: DurablePublish[] = [];
  #batchScheduled = false;
  readonly #dirty = new Set<string>();
  #flushTimer: NodeJS.Timeout | undefined;
  #stopped = false;
  /** 1-minute rollups of the readings this node published (SENTINEL_ROLLUP, for long history ranges) */
  readonly rollups: RollupWriter;

  constructor(
    private readonly nc: NatsConnection,
    private readonly durable: DurablePublisher,
    private readonly stateKv: KV,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly flushMs: number,
  ) {
    this.#rewriteAllAfterReconnect();
    this.rollups = new RollupWriter(durable, log);
  }

  /** Publishes a reading. With `durable`, resolves once JetStream stored it (retrying while NATS is away). */
  publish(message: StateMessage, durable?: DurableOptions): Promise<void> | undefined {
    const payload = JSON.stringify(message);
    this.#remember(message);
    this.#scheduleBatch();
    if (!durable) {
      this.#coreBatch.push(subject.state(message.entity_id), payload);
      // a full batch goes at once: the syscall is amortized, and waiting longer only adds latency
      if (this.#coreBatch.length >= BATCH_LIMIT * 2) this.#sendBatch();
      this.rollups.add(message);
      return undefined;
    }
    return new Promise<void>((resolve, reject) => {
      this.#durableBatch.push({
        subject: subject.state(message.entity_id),
        payload,
        options: durable,
        resolve,
        reject,
      });
      // rolled up once stored: a reading that was not is resent by its device, and counted then
    }).then(() => this.rollups.add(message));
  }

  #scheduleBatch(): void {
    if (this.#batchScheduled) return;
    this.#batchScheduled = true;
    setImmediate(() => {
      this.#batchScheduled = false;
      this.#sendBatch();
    });
  }

  readonly #sendBatch = (): void => {
    const core = this.#coreBatch;
    const durable = this.#durableBatch;
    this.#coreBatch = [];
    this.#durableBatch = [];
    for (let i = 0; i < core.length; i += 2) this.nc.publish(core[i]!, core[i + 1]!);
    for (const p of durable) this.#publishDurable(p.subject, p.payload, p.options).then(p.resolve, p.reject);
  };

  /**
   * Takes the last known states from KV sentinel_state, so that a restarted gateway
   * shows them at once (GET /api/entities). Run before devices are served; a reading
   * taken meanwhile is newer and stays. Resolves with the number of states read.
   */
  async load(): Promise<number> {
    let count = 0;
    const stop = await mirrorBucket(this.stateKv, (_key, value) => {
      const state = StoredStateSchema.safeParse(value);
      if (!state.success) return;
      count++;
      if (isOlder(this.latest(state.data.entity_id), state.data))
        this.#stored.set(state.data.entity_id, state.data);
    });
    stop();
    return count;
  }

  /** The latest state known for an entity: this node's, or what KV held at start if newer (for the HTTP API and web UI). */
  latest(entityId: string): LatestState | undefined {
    const own = this.#latest.get(entityId);
    const stored = this.#stored.get(entityId);
    return stored && isOlder(own, stored) ? stored : own;
  }

  /** Marks an entity (un)available in sentinel_state without inventing a reading. */
  async setAvailability(entityId: string, available: boolean): Promise<void> {
    if (!this.latest(entityId)) {
      // written by another node since we started, or by nobody yet
      const entry = await this.stateKv.get(entityId).catch(() => null);
      const stored = StoredStateSchema.safeParse(entry?.operation === 'PUT' ? safeJson(entry) : undefined);
      // a reading may have arrived while KV answered: the newer one stays
      if (stored.success && isOlder(this.latest(entityId), stored.data))
        this.#stored.set(entityId, stored.data);
    }
    const latest = this.latest(entityId);
    if (!latest) return;
    // from now on this node writes the record (a copy: the stored one stays as read)
    const own = { ...latest, available };
    this.#stored.delete(entityId);
    this.#latest.set(entityId, own);
    this.#markDirty(entityId);
  }

  /** Sends what is batched and writes the pending latest states (the connection's drain delivers them). */
  stop(): void {
    this.#stopped = true;
    this.#sendBatch();
    clearTimeout(this.#flushTimer);
    this.#flush();
    // the open minutes go out with the last states (the connection's drain delivers them)
    void this.rollups.stop();
  }

  /** Keeps the message as the entity's latest (it is already serialized for the bus, so it may be extended). */
  #remember(message: LatestState): void {
    // a late resend must not overwrite a newer reading (ours, or the one KV held at start)
    const previous = this.latest(message.entity_id);
    if (previous && previous.ts > message.ts) return;
    this.#stored.delete(message.entity_id);
    message.available = true;
    this.#latest.set(message.entity_id, message);
    this.#markDirty(message.entity_id);
  }

  #markDirty(entityId: string): void {
    this.#dirty.add(entityId);
    if (!this.#flushTimer && !this.#stopped) this.#flushTimer = setTimeout(this.#flush, this.flushMs);
  }

  /**
   * Writes every dirty latest state to KV, as plain publishes on the bucket's
   * subjects: no acknowledgement to wait for, so a pass over thousands of entities
   * costs a few milliseconds, not a burst of requests. sentinel_state is a cache of
   * the latest reading (the reading itself is in SENTINEL_HISTORY); after a
   * reconnect everything is written again, so nothing stays stale.
   */
  readonly #flush = (): void => {
    this.#flushTimer = undefined;
    if (this.nc.isClosed()) return;
    for (const id of this.#dirty) {
      const latest = this.#latest.get(id);
      if (latest) this.nc.publish(kvSubject(BUCKET.state, id), JSON.stringify(latest));
    }
    this.metrics.stateFlushes.inc(this.#dirty.size);
    this.#dirty.clear();
  };

  #rewriteAllAfterReconnect(): void {
    void (async () => {
      for await (const status of this.nc.status()) {
        if (status.type !== 'reconnect') continue;
        for (const id of this.#latest.keys()) this.#markDirty(id);
      }
    })();
  }

  async #publishDurable(subjectName: string, payload: string, options: DurableOptions): Promise<void> {
    let backoff = 100;
    for (;;) {
      try {
        await this.durable.publish(subjectName, payload, options.msgId);
        return;
      } catch (error) {
        if (options.abandoned?.()) throw error;
        this.metrics.durableRetries.inc();
        this.log.debug({ err: error, subject: subjectName }, 'durable publish failed; retrying');
        await delay(backoff);
        backoff = Math.min(backoff * 2, MAX_RETRY_BACKOFF_MS);
      }
    }
  }
}

/** Whether a state read from KV replaces what we have: nothing yet, or something older (on a tie ours stays). */
function isOlder(current: { ts: number } | undefined, stored: { ts: number }): boolean {
  return current === undefined || current.ts < stored.ts;
}

function safeJson(entry: { json<T>(): T }): unknown {
  try {
    return entry.json();
  } catch {
    return undefined;
  }
}
