// The rollout's state in the `sentinel_ota` bucket, written under the `ota` lease: every
// write of the leader is fenced (bus/locks.ts fencedUpdate), so a leader that lost its
// lease cannot overwrite what its successor wrote.
import type { KV } from '@nats-io/kv';
import { fencedUpdate, type LeaderLease } from '../../bus/locks.js';
import {
  type Answer,
  REQUEST_PREFIX,
  type RequestEntry,
  RequestEntrySchema,
  ROLLOUT_KEY,
  type Rollout,
  RolloutSchema,
} from './schema.js';

/** What the engine needs of its storage (the tests give it the real bucket too). */
export interface RolloutStore {
  load(): Promise<Rollout | undefined>;
  save(rollout: Rollout): Promise<void>;
  /** Calls `onRequest` for every unanswered request, those waiting now and those to come; returns the stop function. */
  requests(onRequest: (id: string, entry: RequestEntry) => void): Promise<() => void>;
  answer(id: string, answer: Answer, now: number): Promise<void>;
}

/** Answered requests are kept this long, for a CLI that reads its answer late. */
const ANSWERED_KEEP_MS = 24 * 3600_000;

export class KvRolloutStore implements RolloutStore {
  /**
   * The record as this lease last read or wrote it. The engine holding the lease is its only
   * writer (a newer leader's write makes our next save fail), so every load but the first
   * is answered from here: during a rollout each device's boot and confirmation load it,
   * and fifty devices at once made those reads a good part of the gateway's work.
   */
  #known: Rollout | undefined;

  constructor(
    private readonly kv: KV,
    private readonly locks: KV,
    private readonly lease: LeaderLease,
  ) {}

  async load(): Promise<Rollout | undefined> {
    if (!this.#known) {
      const entry = await this.kv.get(ROLLOUT_KEY);
      if (entry?.operation !== 'PUT') return undefined;
      this.#known = RolloutSchema.safeParse(safeJson(entry)).data;
    }
    // a copy: the engine changes what it loaded before it saves it (or not)
    return this.#known && structuredClone(this.#known);
  }

  async save(rollout: Rollout): Promise<void> {
    this.#known = undefined; // a write that fails leaves the record unknown
    await fencedUpdate<Rollout>(this.locks, this.lease, this.kv, ROLLOUT_KEY, () => rollout);
    this.#known = structuredClone(rollout);
  }

  async requests(onRequest: (id: string, entry: RequestEntry) => void): Promise<() => void> {
    const watch = await this.kv.watch({ key: `${REQUEST_PREFIX}>` });
    void (async () => {
      for await (const entry of watch) {
        if (entry.operation !== 'PUT') continue;
        const id = entry.key.slice(REQUEST_PREFIX.length);
        const parsed = RequestEntrySchema.safeParse(safeJson(entry));
        if (!parsed.success) {
          onRequest(id, { request: undefined, at: 0 });
          continue;
        }
        if (parsed.data.answer) {
          // old answers are tidied by the leader that sees them
          if (Date.now() - (parsed.data.answered_at ?? 0) > ANSWERED_KEEP_MS)
            void this.kv.delete(entry.key, { previousSeq: entry.revision }).catch(() => undefined);
          continue;
        }
        onRequest(id, parsed.data);
      }
    })();
    return () => watch.stop();
  }

  async answer(id: string, answer: Answer, now: number): Promise<void> {
    await fencedUpdate<RequestEntry>(this.locks, this.lease, this.kv, `${REQUEST_PREFIX}${id}`, (current) =>
      current?.answer
        ? undefined
        : { request: current?.request, at: current?.at ?? now, answer, answered_at: now },
    );
  }
}

function safeJson(entry: { json<T>(): T }): unknown {
  try {
    return entry.json();
  } catch {
    return undefined;
  }
}
