// Reading an entity's history. Raw readings come from SENTINEL_HISTORY through an
// ordered consumer filtered on the entity's subject (the server sends only that
// entity's readings, in large batches, without acknowledgements). Charts of long
// ranges are drawn from the 1-minute rollups in SENTINEL_ROLLUP (model/rollup.ts)
// instead: a month at 1 Hz is 2.6 million readings but 43,200 rollups. The edges stay
// exact: the last minutes, whose rollups are not written yet, and anything older than
// the entity's first rollup (readings stored before rollups existed) are read raw.
import {
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type OrderedConsumerOptions,
  type StoredMsg,
} from '@nats-io/jetstream';
import { HISTORY_STREAM, ROLLUP_STREAM, subject } from '../bus/names.js';
import { MINUTE_MS, minuteOf, numericValue, type RollupMessage } from '../model/rollup.js';

export interface Reading {
  ts: number;
  value: unknown;
}

/** Messages the server sends per pull: large, since a month at 1 Hz is 2.6 million readings. */
const BATCH = 10_000;

type Start = Pick<Partial<OrderedConsumerOptions>, 'deliver_policy' | 'opt_start_time' | 'opt_start_seq'>;

/** Every message on `filter` in `stream` from `start` on, up to what was stored when asked. */
async function* readStream(
  js: JetStreamClient,
  stream: string,
  filter: string,
  start: Start,
): AsyncGenerator<JsMsg> {
  // one subject as a string: filter_subject, which servers before 2.10 (Debian's) understand
  const consumer = await js.consumers.get(stream, { filter_subjects: filter, ...start });
  // the consumer was created with the count of what is there; nothing means no wait at all
  const pending = (await consumer.info(true)).num_pending;
  if (pending === 0) {
    await consumer.delete().catch(() => undefined);
    return;
  }
  // a few readings are asked for as a few: a full batch would be sent whatever the reader stops at
  const messages = await consumer.consume({ max_messages: Math.min(BATCH, Math.max(100, pending)) });
  try {
    for await (const m of messages) {
      yield m;
      // caught up with what was stored when we asked
      if (m.info.pending === 0) break;
    }
  } finally {
    await messages.close().catch(() => undefined);
    await consumer.delete().catch(() => undefined);
  }
}

/** A stored reading's ts: the one it carries, else when the stream stored it. */
function readingOf(m: { json<T>(): T; info?: { timestampNanos: number }; time?: Date }): Reading {
  let reading: { ts?: unknown; value?: unknown };
  try {
    reading = m.json();
  } catch {
    reading = {};
  }
  if (typeof reading.ts === 'number') return { ts: reading.ts, value: reading.value };
  const stored = m.info ? Math.floor(Number(m.info.timestampNanos) / 1e6) : (m.time?.getTime() ?? 0);
  return { ts: stored, value: reading.value };
}

/**
 * Yields every reading of an entity stored from `from` (ms) on, up to `to`, oldest
 * first, starting where the stream's clock says `from` was (the raw path: CSV, short
 * ranges, and spans without rollups).
 */
export async function* readHistory(
  js: JetStreamClient,
  entityId: string,
  from: number,
  to: number,
): AsyncGenerator<Reading> {
  const start: Start = {
    deliver_policy: DeliverPolicy.StartTime,
    opt_start_time: new Date(from).toISOString(),
  };
  for await (const m of readStream(js, HISTORY_STREAM, subject.state(entityId), start)) {
    const reading = readingOf(m);
    if (reading.ts > to) break;
    if (reading.ts >= from) yield reading;
  }
}

/** how far a reading's ts may run ahead of the stream's clock (a device's clock) */
const CLOCK_SKEW_MS = 10_000;
/** more readings than this stored since the tail began means old ones were imported or resent there */
const TAIL_SCAN_LIMIT = 10_000;

/**
 * The readings of the last minutes. Normally found by the stream's clock. But where
 * readings with older timestamps were stored lately (an import, or a long backlog a
 * device resent), the stream's last minutes may hold millions of them: then the start
 * is found by the readings' own ts instead.
 */
async function* readRecent(
  js: JetStreamClient,
  jsm: JetStreamManager,
  entityId: string,
  from: number,
  to: number,
): AsyncGenerator<Reading> {
  const byTime: Start = {
    deliver_policy: DeliverPolicy.StartTime,
    opt_start_time: new Date(from - CLOCK_SKEW_MS).toISOString(),
  };
  let start: Start | undefined = byTime;
  const filter = subject.state(entityId);
  const probe = await js.consumers.get(HISTORY_STREAM, { filter_subjects: filter, ...byTime });
  if ((await probe.info(true)).num_pending > TAIL_SCAN_LIMIT) {
    const seq = await firstSequenceFrom(jsm, entityId, from);
    start =
      seq === undefined ? undefined : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: seq };
  }
  await probe.delete().catch(() => undefined);
  if (!start) return;
  for await (const m of readStream(js, HISTORY_STREAM, filter, start)) {
    const reading = readingOf(m);
    if (reading.ts >= from && reading.ts <= to) yield reading;
  }
}

/** One stored message (a gap in the stream or none on the subject: null). */
async function storedMessage(
  jsm: JetStreamManager,
  stream: string,
  query: { last_by_subj: string } | { seq: number; next_by_subj: string },
): Promise<StoredMsg | null> {
  // next_by_subj is answered by STREAM.MSG.GET since nats-server 2.9; the client types it for direct gets only
  return jsm.streams.getMessage(stream, query as { last_by_subj: string }).catch(() => null);
}

/**
 * The first sequence from which the entity's readings carry `ts >= from`: a binary
 * search over the stream (an import writes readings in ts order), ~25 look-ups for a
 * stream of millions. Undefined when its newest reading is older than `from`.
 */
async function firstSequenceFrom(
  jsm: JetStreamManager,
  entityId: string,
  from: number,
): Promise<number | undefined> {
  const subjectName = subject.state(entityId);
  const last = await storedMessage(jsm, HISTORY_STREAM, { last_by_subj: subjectName });
  if (!last || readingOf(last).ts < from) return undefined;
  let lo = 1;
  let hi = last.seq;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    const next = await storedMessage(jsm, HISTORY_STREAM, { seq: mid, next_by_subj: subjectName });
    if (!next || next.seq > hi || readingOf(next).ts >= from) hi = mid;
    // every reading of the entity from mid to next.seq is older than `from`
    else lo = next.seq + 1;
  }
  return lo;
}

/** The entity's rollups stored from `from` on (the stream's clock: a minute's rollup is written after it ends). */
async function* readRollups(
  js: JetStreamClient,
  entityId: string,
  from: number,
): AsyncGenerator<RollupMessage> {
  const start: Start = {
    deliver_policy: DeliverPolicy.StartTime,
    opt_start_time: new Date(from).toISOString(),
  };
  for await (const m of readStream(js, ROLLUP_STREAM, subject.rollup(entityId), start)) {
    let rollup: Partial<RollupMessage>;
    try {
      rollup = m.json();
    } catch {
      continue;
    }
    if (
      typeof rollup.ts === 'number' &&
      typeof rollup.count === 'number' &&
      typeof rollup.min === 'number' &&
      typeof rollup.max === 'number' &&
      typeof rollup.sum === 'number'
    )
      yield rollup as RollupMessage;
  }
}

/**
 * The minute from which the entity's rollups are complete: the minute after its first
 * rollup's (that first minute may have been rolled up only in part, by a gateway that
 * started during it). Undefined when it has none (a data dir from before rollups, or
 * an entity that never had a numeric reading).
 */
async function rollupsCompleteFrom(jsm: JetStreamManager, entityId: string): Promise<number | undefined> {
  const first = await storedMessage(jsm, ROLLUP_STREAM, { seq: 1, next_by_subj: subject.rollup(entityId) });
  if (!first) return undefined;
  const ts = first.json<Partial<RollupMessage>>().ts;
  return typeof ts === 'number' ? minuteOf(ts) + MINUTE_MS : undefined;
}

export type Bucket = [ts: number, min: number | null, max: number | null, mean: number | null, count: number];

/** min/max/mean/count per bucket of `bucketMs` from `from`; empty buckets are nulls, so charts show gaps. */
export class Downsampler {
  readonly #min: Float64Array;
  readonly #max: Float64Array;
  readonly #sum: Float64Array;
  readonly #count: Float64Array;

  constructor(
    readonly from: number,
    readonly bucketMs: number,
    readonly buckets: number,
  ) {
    this.#min = new Float64Array(buckets).fill(Number.POSITIVE_INFINITY);
    this.#max = new Float64Array(buckets).fill(Number.NEGATIVE_INFINITY);
    this.#sum = new Float64Array(buckets);
    this.#count = new Float64Array(buckets);
  }

  add(ts: number, value: unknown): void {
    const n = numericValue(value);
    if (n !== undefined) this.#merge(ts, n, n, n, 1);
  }

  /** A minute's rollup; the buckets are whole minutes, so it falls into one of them entirely. */
  addRollup(rollup: Pick<RollupMessage, 'ts' | 'min' | 'max' | 'sum' | 'count'>): void {
    if (rollup.count > 0) this.#merge(rollup.ts, rollup.min, rollup.max, rollup.sum, rollup.count);
  }

  #merge(ts: number, min: number, max: number, sum: number, count: number): void {
    const i = Math.floor((ts - this.from) / this.bucketMs);
    if (i < 0 || i >= this.buckets) return;
    if (min < this.#min[i]!) this.#min[i] = min;
    if (max > this.#max[i]!) this.#max[i] = max;
    this.#sum[i]! += sum;
    this.#count[i]! += count;
  }

  points(): Bucket[] {
    const out: Bucket[] = [];
    for (let i = 0; i < this.buckets; i++) {
      const count = this.#count[i]!;
      const ts = this.from + i * this.bucketMs;
      out.push(
        count === 0
          ? [ts, null, null, null, 0]
          : [ts, this.#min[i]!, this.#max[i]!, this.#sum[i]! / count, count],
      );
    }
    return out;
  }
}

/** The last minutes are read raw: their rollups are written a couple of seconds after each minute ends. */
const RAW_TAIL_MINUTES = 2;

export interface Chart {
  from: number;
  /** the end of the last bucket */
  to: number;
  bucket_ms: number;
  points: Bucket[];
  /** where the points came from, for logs and benchmarks */
  sources: { raw_from?: number; rollups_from?: number; raw_tail_from?: number };
}

/**
 * An entity's history over the `span` before `now` in at most `points` buckets. Buckets
 * of a minute or more are whole minutes, aligned to the minute, and drawn from rollups
 * where the entity has them; shorter ones (an hour in 600 points) from raw readings.
 */
export async function chartHistory(
  bus: { js: JetStreamClient; jsm: JetStreamManager },
  entityId: string,
  span: number,
  points: number,
  now = Date.now(),
): Promise<Chart> {
  const perPoint = Math.ceil(span / points);
  if (perPoint < MINUTE_MS) {
    const from = now - perPoint * points;
    const sampler = new Downsampler(from, perPoint, points);
    for await (const reading of readHistory(bus.js, entityId, from, now))
      sampler.add(reading.ts, reading.value);
    return { from, to: now, bucket_ms: perPoint, points: sampler.points(), sources: { raw_from: from } };
  }
  const bucketMs = Math.ceil(perPoint / MINUTE_MS) * MINUTE_MS;
  const buckets = Math.ceil(span / bucketMs);
  // the last bucket ends with the current minute, so that every minute falls into one bucket
  const to = minuteOf(now) + MINUTE_MS;
  const from = to - bucketMs * buckets;
  const sampler = new Downsampler(from, bucketMs, buckets);
  // [from, rollupsFrom): raw (before the entity's rollups began); [rollupsFrom, tailFrom): rollups; [tailFrom, now]: raw
  const tailFrom = Math.max(from, minuteOf(now) - (RAW_TAIL_MINUTES - 1) * MINUTE_MS);
  const complete = await rollupsCompleteFrom(bus.jsm, entityId);
  const rollupsFrom = complete === undefined ? tailFrom : Math.min(Math.max(complete, from), tailFrom);
  const reads: Promise<void>[] = [];
  if (rollupsFrom > from) {
    reads.push(
      (async () => {
        for await (const r of readHistory(bus.js, entityId, from, rollupsFrom - 1))
          sampler.add(r.ts, r.value);
      })(),
    );
  }
  if (tailFrom > rollupsFrom) {
    reads.push(
      (async () => {
        for await (const rollup of readRollups(bus.js, entityId, rollupsFrom)) {
          if (rollup.ts >= rollupsFrom && rollup.ts < tailFrom) sampler.addRollup(rollup);
        }
      })(),
    );
  }
  reads.push(
    (async () => {
      for await (const r of readRecent(bus.js, bus.jsm, entityId, tailFrom, now)) sampler.add(r.ts, r.value);
    })(),
  );
  await Promise.all(reads);
  return {
    from,
    to,
    bucket_ms: bucketMs,
    points: sampler.points(),
    sources: {
      ...(rollupsFrom > from ? { raw_from: from } : {}),
      ...(tailFrom > rollupsFrom ? { rollups_from: rollupsFrom } : {}),
      raw_tail_from: tailFrom,
    },
  };
}
