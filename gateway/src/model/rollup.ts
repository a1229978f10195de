// Per-entity 1-minute rollups of numeric readings (min, max, sum, count), written to
// SENTINEL_ROLLUP as minutes close, so that a month of history is charted from 43,200
// small messages instead of 2.6 million readings (http/history.ts).
//
// A rollup message is a partial aggregate, not the final word on its minute: a minute
// split across two gateway nodes, across a restart, or completed later by a resent
// reading produces several messages for the same minute, and the reader merges them
// (min of mins, max of maxes, sums and counts added). So a writer never has to
// coordinate with anyone, and a message stored twice is the only thing to avoid: each
// one carries a message id that its retries reuse, within the stream's duplicate window.
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { subject } from '../bus/names.js';
import type { Logger } from '../log.js';

export const MINUTE_MS = 60_000;

/** One stored rollup: what `sentinel.rollup.<entity_id>` carries (docs/http-api.md). */
export interface RollupMessage {
  entity_id: string;
  /** the minute's start (ms since the epoch, a multiple of 60,000) */
  ts: number;
  count: number;
  min: number;
  max: number;
  sum: number;
  /** the first and last reading's ts within the minute that this message covers */
  first_ts: number;
  last_ts: number;
}

/** A number to chart: numbers as they are, on/off as 1/0; text and unavailable (null) are not charted. */
export function numericValue(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'boolean') return value ? 1 : 0;
  return undefined;
}

/** The start of the minute `ts` falls in (also before 1970). */
export const minuteOf = (ts: number): number => ts - (((ts % MINUTE_MS) + MINUTE_MS) % MINUTE_MS);

/**
 * Open minutes per entity, in memory. Pure: the writer below publishes what it takes,
 * and a backfill (the history benchmark) runs readings through the same code.
 */
export class RollupAggregator {
  /** entity id → its open minutes; nearly always one, two around a minute's end or with a late reading */
  readonly #open = new Map<string, RollupMessage[]>();

  /** Adds a reading; false when it is not numeric (nothing to roll up). */
  add(entityId: string, ts: number, value: unknown): boolean {
    const n = numericValue(value);
    if (n === undefined || !Number.isFinite(ts)) return false;
    const minute = minuteOf(ts);
    let minutes = this.#open.get(entityId);
    if (!minutes) {
      minutes = [];
      this.#open.set(entityId, minutes);
    }
    // newest last: the current minute is found at once
    let rollup: RollupMessage | undefined;
    for (let i = minutes.length - 1; i >= 0; i--) {
      if (minutes[i]!.ts === minute) {
        rollup = minutes[i];
        break;
      }
    }
    if (!rollup) {
      minutes.push({
        entity_id: entityId,
        ts: minute,
        count: 1,
        min: n,
        max: n,
        sum: n,
        first_ts: ts,
        last_ts: ts,
      });
      return true;
    }
    rollup.count++;
    rollup.sum += n;
    if (n < rollup.min) rollup.min = n;
    if (n > rollup.max) rollup.max = n;
    if (ts < rollup.first_ts) rollup.first_ts = ts;
    if (ts > rollup.last_ts) rollup.last_ts = ts;
    return true;
  }

  /** Removes and returns the minutes that ended by `now` (every open minute when `now` is undefined). */
  take(now?: number): RollupMessage[] {
    const taken: RollupMessage[] = [];
    for (const [entityId, minutes] of this.#open) {
      const keep = now === undefined ? [] : minutes.filter((m) => m.ts + MINUTE_MS > now);
      if (keep.length === minutes.length) continue;
      for (const m of minutes) if (now === undefined || m.ts + MINUTE_MS <= now) taken.push(m);
      if (keep.length === 0) this.#open.delete(entityId);
      else this.#open.set(entityId, keep);
    }
    return taken;
  }

  /** Open minutes, over all entities. */
  get size(): number {
    let size = 0;
    for (const minutes of this.#open.values()) size += minutes.length;
    return size;
  }
}

/** Where rollups go: DurablePublisher (bus/durable-publisher.ts) is one. */
export interface RollupSink {
  publish(subject: string, payload: string, msgId: string): Promise<void>;
}

/** after a minute's end, how long readings taken in it may still arrive before it is written */
const CLOSE_DELAY_MS = 2000;
/** attempts per rollup; the last retry is well inside the stream's 120 s duplicate window */
const ATTEMPTS = 4;
const RETRY_BASE_MS = 1000;

/**
 * Aggregates the readings this node publishes and writes each minute's rollups
 * shortly after the minute ends; `stop()` writes the open minutes as they are (the
 * next start, or another node, adds its own message for the rest of the minute).
 */
export class RollupWriter {
  readonly #aggregator = new RollupAggregator();
  /** message ids: unique per writer, reused by the retries of one message */
  readonly #idPrefix = `rollup-${randomUUID()}-`;
  #nextId = 0;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #lateFlush = false;
  readonly #inFlight = new Set<Promise<void>>();

  constructor(
    private readonly sink: RollupSink,
    private readonly log: Logger,
  ) {
    this.#schedule();
  }

  /** A reading this node published (and, for durable readings, stored). */
  add(message: { entity_id: string; ts: number; value: unknown }): void {
    if (!this.#aggregator.add(message.entity_id, message.ts, message.value) || !this.#stopped) return;
    // stored after stop() (a durable reading acknowledged during the drain): written on its own
    if (this.#lateFlush) return;
    this.#lateFlush = true;
    setImmediate(() => {
      this.#lateFlush = false;
      void this.flush(true);
    });
  }

  /**
   * Writes the minutes that have ended (every open minute with `all`); resolves once
   * the stream stored them, or gave up on them (logged).
   */
  async flush(all = false): Promise<void> {
    const rollups = this.#aggregator.take(all ? undefined : Date.now());
    for (const rollup of rollups) this.#track(this.#write(rollup));
    await Promise.all([...this.#inFlight]);
  }

  /** Stops the timer and writes every open minute; resolves once they are stored (or the connection is gone). */
  stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    return this.flush(true);
  }

  #track(write: Promise<void>): void {
    this.#inFlight.add(write);
    void write.finally(() => this.#inFlight.delete(write));
  }

  /** The next flush: just after the current minute ends, so the chart's edge is read raw for only a minute or two. */
  #schedule(): void {
    if (this.#stopped) return;
    const now = Date.now();
    const wait = minuteOf(now) + MINUTE_MS + CLOSE_DELAY_MS - now;
    this.#timer = setTimeout(() => {
      void this.flush();
      this.#schedule();
    }, wait);
    // a pending minute never keeps a process alive: stop() writes it
    this.#timer.unref();
  }

  async #write(rollup: RollupMessage): Promise<void> {
    const msgId = this.#idPrefix + (this.#nextId++).toString(36);
    const payload = JSON.stringify(rollup);
    for (let attempt = 1; ; attempt++) {
      try {
        await this.sink.publish(subject.rollup(rollup.entity_id), payload, msgId);
        return;
      } catch (error) {
        if (this.#stopped || attempt >= ATTEMPTS) {
          // the readings themselves are in SENTINEL_HISTORY: only the long-range chart misses this minute
          this.log[this.#stopped ? 'debug' : 'warn'](
            { err: error, entity_id: rollup.entity_id, minute: new Date(rollup.ts).toISOString() },
            'rollup not stored',
          );
          return;
        }
        // unref: a retry under way never holds a stopping process open
        await delay(RETRY_BASE_MS * 2 ** (attempt - 1), undefined, { ref: false });
      }
    }
  }
}
