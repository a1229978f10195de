// The history part of `bench web`: a month of one entity at 1 Hz written into
// SENTINEL_HISTORY as the gateway writes readings (sentinel.state.<id>, the reading's
// own ts in the payload), its 1-minute rollups made by the gateway's own aggregator
// (gateway/src/model/rollup.ts) and written to SENTINEL_ROLLUP, then the chart query
// timed through HTTP, beside the same chart computed the way the route did before
// rollups (every raw reading through an ordered consumer).
import { DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { createInbox, type NatsConnection } from '@nats-io/transport-node';
import { Downsampler } from '../../gateway/src/http/history.js';
import { RollupAggregator } from '../../gateway/src/model/rollup.js';
import { log } from '../lib/log.js';
import { rawGet } from './gateway.js';

const DAY_MS = 86_400_000;

/**
 * Publishes to JetStream with up to `window` messages awaiting their acknowledgement:
 * each is a core publish with one shared reply subject, and acknowledgements are only
 * counted (a request per message would cost more than the server's work).
 */
export async function publishPipelined(
  nc: NatsConnection,
  messages: Iterable<[subject: string, payload: string]>,
  total: number,
  label: string,
  window = 20_000,
): Promise<number> {
  const inbox = createInbox();
  let acked = 0;
  let sent = 0;
  let failure: string | undefined;
  let wake: (() => void) | undefined;
  const sub = nc.subscribe(inbox, {
    callback: (_error, msg) => {
      acked++;
      if (failure === undefined && (msg.data.length === 0 || msg.string().includes('"error"')))
        failure = msg.data.length === 0 ? `no stream for the subject (${msg.headers?.code})` : msg.string();
      if (wake && (sent - acked < window / 2 || acked === sent)) {
        const w = wake;
        wake = undefined;
        w();
      }
    },
  });
  const started = performance.now();
  let reported = 0;
  try {
    for (const [subject, payload] of messages) {
      nc.publish(subject, payload, { reply: inbox });
      sent++;
      if (sent - acked >= window) await new Promise<void>((resolve) => (wake = resolve));
      if (failure) throw new Error(`${label}: JetStream refused a message: ${failure}`);
      if (sent - reported >= total / 10) {
        reported = sent;
        const rate = sent / ((performance.now() - started) / 1000);
        log(
          `  ${label}: ${sent.toLocaleString('en-US')}/${total.toLocaleString('en-US')} (${Math.round(rate).toLocaleString('en-US')}/s)`,
        );
      }
    }
    while (acked < sent) await new Promise<void>((resolve) => (wake = resolve));
    if (failure) throw new Error(`${label}: JetStream refused a message: ${failure}`);
  } finally {
    sub.unsubscribe();
  }
  return (performance.now() - started) / 1000;
}

/** A plausible temperature: a daily swing and some noise, two decimals (as devices send). */
const temperature = (ts: number, noise: number) =>
  Math.round((20 + 3 * Math.sin((2 * Math.PI * ts) / DAY_MS) + noise) * 100) / 100;

export interface Backfill {
  readings: number;
  rollups: number;
  readingsSeconds: number;
  rollupsSeconds: number;
  /** the newest reading's ts */
  lastTs: number;
  /** where the entity's readings begin in SENTINEL_HISTORY: they were written one a second, in order */
  firstSeq: number;
  firstTs: number;
}

/** `days` of 1 Hz readings up to a second ago, and the rollups of every minute that has ended. */
export async function backfill(
  nc: NatsConnection,
  entity: { id: string; deviceId: string; key: string; unit: string },
  days: number,
): Promise<Backfill> {
  const total = Math.round(days * 86_400);
  const end = Math.floor(Date.now() / 1000) * 1000 - 1000;
  const first = end - (total - 1) * 1000;
  const aggregator = new RollupAggregator();
  const subject = `sentinel.state.${entity.id}`;
  const tail = `,"unit":${JSON.stringify(entity.unit)},"source":{"protocol":"picket","device_id":"${entity.deviceId}","key":"${entity.key}"}}`;
  let seed = 12345;
  function* readings(): Generator<[string, string]> {
    for (let i = 0; i < total; i++) {
      const ts = first + i * 1000;
      seed = (seed * 48271) % 2147483647;
      const value = temperature(ts, (seed % 1000) / 2000 - 0.25);
      // the same rollup code the gateway runs on the readings it publishes
      aggregator.add(entity.id, ts, value);
      yield [subject, `{"entity_id":"${entity.id}","value":${value},"ts":${ts}${tail}`];
    }
  }
  log(`writing ${total.toLocaleString('en-US')} readings (${days} d at 1 Hz) to SENTINEL_HISTORY`);
  const readingsSeconds = await publishPipelined(nc, readings(), total, 'readings');
  // what the gateway would have written by now: every minute that has ended
  const rollups = aggregator.take(Date.now());
  log(`writing ${rollups.length.toLocaleString('en-US')} 1-minute rollups to SENTINEL_ROLLUP`);
  const rollupsSeconds = await publishPipelined(
    nc,
    rollups.map((r): [string, string] => [`sentinel.rollup.${r.entity_id}`, JSON.stringify(r)]),
    rollups.length,
    'rollups',
  );
  const jsm = await jetstreamManager(nc);
  // the server answers next_by_subj (since 2.9); the client types it for direct gets only
  const stored = await jsm.streams.getMessage('SENTINEL_HISTORY', { seq: 1, next_by_subj: subject } as never);
  if (!stored) throw new Error('the readings just written are not in SENTINEL_HISTORY');
  return {
    readings: total,
    rollups: rollups.length,
    readingsSeconds,
    rollupsSeconds,
    lastTs: end,
    firstSeq: stored.seq,
    firstTs: first,
  };
}

interface Chart {
  from: number;
  to: number;
  bucket_ms: number;
  points: [number, number | null, number | null, number | null, number][];
}

export interface QueryResult {
  range: string;
  /** every query's time, request → last byte + JSON.parse, ms; the first is the cold one */
  ms: number[];
  buckets: number;
  bucketMs: number;
  /** readings the chart counts */
  readings: number;
  bytes: number;
  /** the pre-rollup path over the same buckets */
  raw?: { ms: number; readings: number; identical: boolean; maxMeanDiff: number };
}

/** GET /api/entities/<id>/history?range=… `repeat` times; then, with `raw`, the old path once. */
export async function measureRange(
  origin: string,
  token: string,
  nc: NatsConnection,
  entityId: string,
  range: string,
  repeat: number,
  /** where the readings begin, to run the raw path too */
  raw?: Pick<Backfill, 'firstSeq' | 'firstTs'>,
): Promise<QueryResult> {
  const ms: number[] = [];
  let chart: Chart | undefined;
  let bytes = 0;
  for (let i = 0; i < repeat; i++) {
    const started = performance.now();
    const answer = await rawGet(`${origin}/api/entities/${entityId}/history?range=${range}`, {
      authorization: `Bearer ${token}`,
      'accept-encoding': 'gzip, deflate, br',
    });
    if (answer.status !== 200)
      throw new Error(
        `GET history?range=${range}: HTTP ${answer.status} ${answer.body.toString().slice(0, 200)}`,
      );
    chart = JSON.parse(answer.body.toString('utf8')) as Chart;
    ms.push(performance.now() - started);
    bytes = answer.body.length;
  }
  const readings = chart!.points.reduce((sum, p) => sum + p[4], 0);
  const result: QueryResult = {
    range,
    ms,
    buckets: chart!.points.length,
    bucketMs: chart!.bucket_ms,
    readings,
    bytes,
  };
  if (!raw) return result;
  // the route before rollups: every reading of the range through an ordered consumer, downsampled here
  const started = performance.now();
  const sampler = new Downsampler(chart!.from, chart!.bucket_ms, chart!.points.length);
  for await (const reading of readRaw(nc, entityId, chart!.from, chart!.to, raw))
    sampler.add(reading.ts, reading.value);
  const points = sampler.points();
  const rawMs = performance.now() - started;
  let identical = true;
  let maxMeanDiff = 0;
  points.forEach((p, i) => {
    const q = chart!.points[i]!;
    if (p[0] !== q[0] || p[1] !== q[1] || p[2] !== q[2] || p[4] !== q[4]) identical = false;
    if (p[3] !== null && q[3] !== null) maxMeanDiff = Math.max(maxMeanDiff, Math.abs(p[3] - q[3]));
    else if (p[3] !== q[3]) identical = false;
  });
  // sums added in another order differ in the last bits
  if (maxMeanDiff > 1e-9) identical = false;
  result.raw = { ms: rawMs, readings: points.reduce((sum, p) => sum + p[4], 0), identical, maxMeanDiff };
  return result;
}

/**
 * The pre-rollup route's read (http/history.ts readHistory before rollups): an ordered
 * consumer on the entity's subject from the range's start, every reading to the range's
 * end. That route started at the stream time of `from`; the backfill stored a month
 * within a minute of stream time, so the start is the sequence of the first reading at
 * or after `from` instead (readings were written one a second, in order): what starting
 * by time reads where the stream's clock and the readings' agree.
 */
async function* readRaw(
  nc: NatsConnection,
  entityId: string,
  from: number,
  to: number,
  where: Pick<Backfill, 'firstSeq' | 'firstTs'>,
): AsyncGenerator<{ ts: number; value: unknown }> {
  const seq = where.firstSeq + Math.max(0, Math.ceil((from - where.firstTs) / 1000));
  const consumer = await jetstream(nc).consumers.get('SENTINEL_HISTORY', {
    filter_subjects: `sentinel.state.${entityId}`,
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: seq,
  });
  if ((await consumer.info(true)).num_pending === 0) {
    await consumer.delete().catch(() => undefined);
    return;
  }
  const messages = await consumer.consume({ max_messages: 10_000 });
  try {
    for await (const m of messages) {
      const reading = m.json<{ ts: number; value: unknown }>();
      if (reading.ts > to) break;
      if (reading.ts >= from) yield reading;
      if (m.info.pending === 0) break;
    }
  } finally {
    await messages.close().catch(() => undefined);
    await consumer.delete().catch(() => undefined);
  }
}
