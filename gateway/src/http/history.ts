// Reading an entity's history from SENTINEL_HISTORY: an ordered consumer filtered on
// the entity's subject, starting at the range's start time, so the server sends only
// that entity's readings in range (no scan of other entities' readings here), in
// large batches and without acknowledgements.
import { DeliverPolicy, type JetStreamClient } from '@nats-io/jetstream';
import { HISTORY_STREAM, subject } from '../bus/names.js';

export interface Reading {
  ts: number;
  value: unknown;
}

/** Readings the server sends per pull: large, since a month at 1 Hz is 2.6 million of them. */
const BATCH = 10_000;

/** Yields every reading of an entity stored from `from` (ms) on, up to `to`, oldest first. */
export async function* readHistory(
  js: JetStreamClient,
  entityId: string,
  from: number,
  to: number,
): AsyncGenerator<Reading> {
  const consumer = await js.consumers.get(HISTORY_STREAM, {
    // one subject as a string: filter_subject, which servers before 2.10 (Debian's) understand
    filter_subjects: subject.state(entityId),
    deliver_policy: DeliverPolicy.StartTime,
    opt_start_time: new Date(from).toISOString(),
  });
  // the consumer was created with the count of what is there; nothing means no wait at all
  if ((await consumer.info(true)).num_pending === 0) {
    await consumer.delete().catch(() => undefined);
    return;
  }
  const messages = await consumer.consume({ max_messages: BATCH });
  try {
    for await (const m of messages) {
      let reading: { ts?: unknown; value?: unknown };
      try {
        reading = m.json();
      } catch {
        reading = {};
      }
      const ts =
        typeof reading.ts === 'number' ? reading.ts : Math.floor(Number(m.info.timestampNanos) / 1e6);
      if (ts > to) break;
      if (ts >= from) yield { ts, value: reading.value };
      // caught up with what was stored when we asked
      if (m.info.pending === 0) break;
    }
  } finally {
    await messages.close().catch(() => undefined);
    await consumer.delete().catch(() => undefined);
  }
}

export type Bucket = [ts: number, min: number | null, max: number | null, mean: number | null, count: number];

/** A number to chart: numbers as they are, on/off as 1/0; text and unavailable are not charted. */
const numeric = (value: unknown): number | undefined =>
  typeof value === 'number' && Number.isFinite(value)
    ? value
    : typeof value === 'boolean'
      ? Number(value)
      : undefined;

/** min/max/mean/count per bucket of `bucketMs` from `from`; empty buckets are nulls, so charts show gaps. */
export class Downsampler {
  readonly #min: Float64Array;
  readonly #max: Float64Array;
  readonly #sum: Float64Array;
  readonly #count: Uint32Array;

  constructor(
    readonly from: number,
    readonly bucketMs: number,
    readonly buckets: number,
  ) {
    this.#min = new Float64Array(buckets).fill(Number.POSITIVE_INFINITY);
    this.#max = new Float64Array(buckets).fill(Number.NEGATIVE_INFINITY);
    this.#sum = new Float64Array(buckets);
    this.#count = new Uint32Array(buckets);
  }

  add(ts: number, value: unknown): void {
    const n = numeric(value);
    if (n === undefined) return;
    const i = Math.floor((ts - this.from) / this.bucketMs);
    if (i < 0 || i >= this.buckets) return;
    if (n < (this.#min[i] ?? 0)) this.#min[i] = n;
    if (n > (this.#max[i] ?? 0)) this.#max[i] = n;
    this.#sum[i] = (this.#sum[i] ?? 0) + n;
    this.#count[i] = (this.#count[i] ?? 0) + 1;
  }

  points(): Bucket[] {
    const out: Bucket[] = [];
    for (let i = 0; i < this.buckets; i++) {
      const count = this.#count[i] ?? 0;
      const ts = this.from + i * this.bucketMs;
      out.push(
        count === 0
          ? [ts, null, null, null, 0]
          : [ts, this.#min[i] ?? null, this.#max[i] ?? null, (this.#sum[i] ?? 0) / count, count],
      );
    }
    return out;
  }
}
