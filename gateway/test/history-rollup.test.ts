// Long history ranges from 1-minute rollups (SENTINEL_ROLLUP, docs/http-api.md): a month
// charted from rollups is what the raw readings say; a minute rolled up by two writers
// (two nodes, or a restart) merges; the current minute comes from the raw readings; and
// readings stored before rollups existed still chart.
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entityIdsOf } from '../../test/support/bus.js';
import { startTestGateway } from '../../test/support/gateway.js';
import { connectDevice } from '../../test/support/picket.js';
import { DurablePublisher } from '../src/bus/durable-publisher.js';
import { HISTORY_STREAM, ROLLUP_STREAM } from '../src/bus/names.js';
import { Downsampler } from '../src/http/history.js';
import { MINUTE_MS, minuteOf, RollupWriter } from '../src/model/rollup.js';
import { type HttpStack, LOUNGE_HELLO, loungeDevice, startHttpStack } from './support-http.js';

const DAY = 86_400_000;
type Point = [number, number | null, number | null, number | null, number];
interface History {
  from: number;
  to: number;
  bucket_ms: number;
  points: Point[];
}

let stack: HttpStack;
let viewer: string;
let devices = 0;
const clients: { endAsync(): Promise<void> }[] = [];

beforeAll(async () => {
  stack = await startHttpStack();
  viewer = stack.people.cookieFor('viewer');
});

afterAll(async () => {
  await Promise.all(clients.map((client) => client.endAsync()));
  await stack?.stop();
});

/** A fresh sensor entity (its own device), so that tests do not see each other's readings. */
async function freshEntity() {
  const picketId = `rollup-${++devices}`;
  const { device, ids } = await loungeDevice(stack, picketId);
  clients.push(device);
  return { id: ids.temperature!, device, picketId };
}

/** A rollup writer of its own, as another gateway node has. */
function writer(): RollupWriter {
  return new RollupWriter(new DurablePublisher(stack.bus, 5000), pino({ level: 'silent' }));
}

/** Stores readings in SENTINEL_HISTORY as the gateway does (sentinel.state.<id>), pipelined. */
async function storeReadings(entityId: string, readings: [ts: number, value: number][]): Promise<void> {
  const js = jetstream(stack.bus);
  for (let i = 0; i < readings.length; i += 1000) {
    await Promise.all(
      readings
        .slice(i, i + 1000)
        .map(([ts, value]) =>
          js.publish(`sentinel.state.${entityId}`, JSON.stringify({ entity_id: entityId, value, ts })),
        ),
    );
  }
}

async function history(entityId: string, range: string): Promise<History> {
  const answer = await stack.call('GET', `/api/entities/${entityId}/history?range=${range}`, {
    cookie: viewer,
  });
  expect(answer.status).toBe(200);
  return answer.json<History>();
}

/** What the chart must show: the readings downsampled into the answer's own buckets. */
function expected(answer: History, readings: [number, number][]): Point[] {
  const sampler = new Downsampler(answer.from, answer.bucket_ms, answer.points.length);
  for (const [ts, value] of readings) sampler.add(ts, value);
  return sampler.points();
}

/** min, max and count exactly; the mean to floating-point rounding (sums are added in another order). */
function expectSameChart(actual: Point[], wanted: Point[]): void {
  expect(actual.map(([ts, min, max, , count]) => [ts, min, max, count])).toEqual(
    wanted.map(([ts, min, max, , count]) => [ts, min, max, count]),
  );
  actual.forEach((point, i) => {
    const mean = wanted[i]![3];
    if (mean === null) expect(point[3]).toBeNull();
    else expect(point[3]).toBeCloseTo(mean, 9);
  });
}

/** Deterministic readings: `perMinute` in each of the minutes every `everyMs`, over `days` up to `until`. */
function series(until: number, days: number, everyMs: number, perMinute: number): [number, number][] {
  const readings: [number, number][] = [];
  let x = 7;
  for (let minute = minuteOf(until - days * DAY); minute < until; minute += everyMs) {
    for (let k = 0; k < perMinute; k++) {
      x = (x * 48271) % 2147483647;
      readings.push([minute + k * 7000 + (x % 5000), Math.round((15 + (x % 1000) / 100) * 100) / 100]);
    }
  }
  return readings;
}

describe('history from rollups', () => {
  it('charts a month from rollups with the min, max and mean of the raw readings', async () => {
    const { id } = await freshEntity();
    const now = Date.now();
    // every 10 minutes, 3 readings in the minute, for 30 days up to 5 minutes ago
    const readings = series(now - 5 * MINUTE_MS, 30, 10 * MINUTE_MS, 3);
    await storeReadings(id, readings);
    const rollups = writer();
    for (const [ts, value] of readings) rollups.add({ entity_id: id, ts, value });
    await rollups.stop();

    const month = await history(id, '30d');
    expect(month.bucket_ms).toBe(72 * MINUTE_MS);
    expect(month.points).toHaveLength(600);
    expect(month.to).toBe(minuteOf(month.to));
    expectSameChart(month.points, expected(month, readings));
    const week = await history(id, '7d');
    expect(week.bucket_ms % MINUTE_MS).toBe(0);
    expectSameChart(week.points, expected(week, readings));

    // without the raw readings the chart stays the same: it was drawn from the rollups
    await jetstreamManager(stack.bus).then((jsm) =>
      jsm.streams.purge(HISTORY_STREAM, { filter: `sentinel.state.${id}` }),
    );
    for (const range of ['30d', '7d']) {
      const answer = await history(id, range);
      expectSameChart(answer.points, expected(answer, readings));
    }
  });

  it('merges a minute that two writers rolled up in parts', async () => {
    const { id } = await freshEntity();
    const minute = minuteOf(Date.now()) - 30 * MINUTE_MS;
    const [a, b] = [writer(), writer()];
    // the entity's rollups begin earlier, so this minute is wholly in the rollup span
    a.add({ entity_id: id, ts: minute - 3 * 3600_000, value: 50 });
    for (const [ts, value] of [
      [minute + 1000, 5],
      [minute + 20_000, 9],
      [minute + 40_000, 1],
    ] as const)
      a.add({ entity_id: id, ts, value });
    for (const [ts, value] of [
      [minute + 10_000, 7],
      [minute + 59_000, 3],
    ] as const)
      b.add({ entity_id: id, ts, value });
    await Promise.all([a.stop(), b.stop()]);
    const jsm = await jetstreamManager(stack.bus);
    const stored = (await jsm.streams.info(ROLLUP_STREAM, { subjects_filter: `sentinel.rollup.${id}` })).state
      .subjects?.[`sentinel.rollup.${id}`];
    expect(stored).toBe(3); // the earlier minute, and this one twice

    // no raw readings at all (as once SENTINEL_HISTORY's retention has passed): only rollups can answer
    const day = await history(id, '24h');
    const bucket = day.points.find(([ts]) => ts <= minute && minute < ts + day.bucket_ms)!;
    expect(bucket[1]).toBe(1);
    expect(bucket[2]).toBe(9);
    expect(bucket[3]).toBeCloseTo(5, 12);
    expect(bucket[4]).toBe(5);
  });

  it('takes the current minute from the raw readings, counting nothing twice', async () => {
    const { id, device, picketId } = await freshEntity();
    // rollups began half a day ago
    const earlier: [number, number] = [Date.now() - DAY / 2, 50];
    await storeReadings(id, [earlier]);
    const rollups = writer();
    rollups.add({ entity_id: id, ts: earlier[0], value: earlier[1] });
    await rollups.stop();
    // readings through the gateway: its own rollup writer holds the current minute until it ends
    const now = Date.now();
    const recent: [number, number][] = [
      [now - 1500, 10],
      [now - 1000, 20],
      [now, 36],
    ];
    let seq = 0;
    for (const [ts, value] of recent)
      await device.publishAsync(
        `picket/${picketId}/state`,
        JSON.stringify({ seq: ++seq, ts, values: { temperature: value } }),
        { qos: 1 },
      );

    const day = await history(id, '24h');
    expect(day.to).toBeGreaterThan(now);
    expectSameChart(day.points, expected(day, [earlier, ...recent]));
    // once that minute's rollup is written too (when it ends, or when a node stops), it is still counted once
    const late = writer();
    for (const [ts, value] of recent) late.add({ entity_id: id, ts, value });
    await late.stop();
    const again = await history(id, '24h');
    expectSameChart(again.points, expected(again, [earlier, ...recent]));
  });

  it('still charts readings stored before rollups existed (an upgraded data dir)', async () => {
    const { id } = await freshEntity();
    const now = Date.now();
    const before = series(now - 10 * DAY, 20, 15 * MINUTE_MS, 2); // 30 to 10 days ago: raw only
    const since = series(now - 5 * MINUTE_MS, 10, 15 * MINUTE_MS, 2).filter(([ts]) => ts >= now - 10 * DAY);
    await storeReadings(id, [...before, ...since]);

    const untouched = await history(id, '30d');
    expectSameChart(untouched.points, expected(untouched, [...before, ...since]));

    // upgraded: rollups from 10 days ago on, the raw readings before that still count
    const rollups = writer();
    for (const [ts, value] of since) rollups.add({ entity_id: id, ts, value });
    await rollups.stop();
    const upgraded = await history(id, '30d');
    expectSameChart(upgraded.points, expected(upgraded, [...before, ...since]));
  });

  it('is written by the gateway for the readings it publishes, the open minute when it stops', async () => {
    // a node of its own, so that stopping it shows what a stop writes
    const node = await startTestGateway(stack.nats, { nodeId: 'rollup-node' });
    const token = await node.addDevice('rollup-node-device');
    const device = await connectDevice(node, 'rollup-node-device', token);
    await device.publishAsync('picket/rollup-node-device/hello', JSON.stringify(LOUNGE_HELLO), { qos: 1 });
    const id = (await entityIdsOf(stack.bus, 'picket-rollup-node-device')).temperature!;
    const now = Date.now();
    const values = [4, -2, 11];
    for (const [i, value] of values.entries())
      await device.publishAsync(
        'picket/rollup-node-device/state',
        JSON.stringify({ seq: i + 1, ts: now, values: { temperature: value } }),
        { qos: 1 },
      );
    await device.endAsync();
    await node.stop();

    const jsm = await jetstreamManager(stack.bus);
    const stored = await jsm.streams.getMessage(ROLLUP_STREAM, { last_by_subj: `sentinel.rollup.${id}` });
    expect(stored?.json()).toEqual({
      entity_id: id,
      ts: minuteOf(now),
      count: 3,
      min: -2,
      max: 11,
      sum: 13,
      first_ts: now,
      last_ts: now,
    });
  });
});
