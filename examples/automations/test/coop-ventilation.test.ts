// The coop ventilation example through a simulated picket device (a humidity sensor and
// a fan), a real gateway and nats-server, with the runtime on a clock the test moves one
// minute at a time: each minute the cron tick runs, then the sensor reports.
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Bench, type Reading, startBench } from './support.js';

const FILE = fileURLToPath(new URL('../coop-ventilation.ts', import.meta.url));
const ID = 'coop-ventilation';
const START = Date.UTC(2025, 9, 14, 6, 0, 0);
const MINUTE = 60_000;

let bench: Bench;
beforeAll(async () => {
  bench = await startBench(
    [
      { key: 'humidity', name: 'Coop humidity', platform: 'sensor', unit: '%', initial: 60 },
      { key: 'fan', name: 'Coop fan', platform: 'fan', initial: false },
    ],
    START,
  );
  expect(await bench.runtime.loadFile(FILE)).toBe(ID);
});
afterAll(async () => {
  await bench?.stop();
});

const now = () => (bench.clock.now() - START) / MINUTE;
/** what the fan was told, and the minute (since START) it received it */
const fan = () =>
  bench.commands.filter((c) => c.key === 'fan').map((c) => [c.value, (c.at - START) / MINUTE]);

/** one reading per minute, each after that minute's tick */
async function readings(values: Reading[]) {
  for (const v of values) {
    await bench.advance(MINUTE);
    await bench.report({ humidity: v });
  }
}
/** the same reading every minute up to and including minute `until` */
async function hold(value: Reading, until: number) {
  while (now() < until) await readings([value]);
}

it('starts above 75 %, stops below 70 %, keeps running while it helps; an unavailable sensor is no crossing', async () => {
  // inside the band, exactly on the bound, and unavailable in between: the fan stays off
  await readings([72, 75, null, 75, null, 74]);
  expect(fan()).toEqual([]);
  // just above the bound: on that minute
  await readings([75.5]);
  expect(fan()).toEqual([[true, 7]]);
  expect(bench.values.fan).toBe(true);

  // the humidity falls 2.5 points in the 10-minute window: it works, it keeps running
  await readings([75, 74.5, 74, 74, 73.5, 73.5, 73, 73, 73, 72.5]);
  expect(now()).toBe(17);
  expect(fan()).toEqual([[true, 7]]);
  const judged = bench.traces(ID).filter((t) => t.actions.some((a) => a.kind === 'log'));
  expect(judged.at(-1)).toMatchObject({
    started: START + 17 * MINUTE,
    trigger: { kind: 'cron' },
    actions: [{ kind: 'log', message: expect.stringMatching(/^effective: 75\.5 → 73 %/) }],
  });
  // exactly 70 is not below the bound; 69.9 is
  await readings([71, 70.5, 70]);
  expect(fan()).toEqual([[true, 7]]);
  await readings([69.9]);
  expect(fan()).toEqual([
    [true, 7],
    [false, 21],
  ]);
  expect(bench.values.fan).toBe(false);

  // hysteresis: back up to 75 (and unavailable on the way) does not restart it
  await readings([72, 74, 75, null, 75]);
  expect(fan()).toHaveLength(2);
});

it('backs off 10, 20, 40, 60, 60 minutes after ineffective runs, across a restart, and resets once a run helps or dries the coop', async () => {
  expect(now()).toBe(26);
  // on at 78; at the end of its window the sensor is unavailable: off, not an attempt
  await readings([78]);
  await hold(78, 35);
  await readings([null]);
  await hold(null, 40);
  expect(fan().slice(2)).toEqual([
    [true, 27],
    [false, 37],
  ]);
  // it comes back at 78: not a crossing, but the next tick sees a humid coop with no cooldown
  await readings([78]);
  await hold(78, 42);
  expect(fan().at(-1)).toEqual([true, 42]);

  // 1.9 points in the window is not enough: off, and the first cooldown is the base (the
  // unavailable window did not count)
  await hold(78, 50);
  await readings([76.1]);
  await hold(78, 92);
  await hold(78, 120);
  expect(fan().slice(4)).toEqual([
    [true, 42],
    [false, 52],
    [true, 62],
    [false, 72],
    [true, 92],
    [false, 102],
  ]);

  // the runtime restarts in the middle of the third cooldown (40 minutes, until minute 142)
  const runtime = await bench.restart();
  expect(await runtime.loadFile(FILE)).toBe(ID);
  await hold(78, 141);
  expect(fan()).toHaveLength(10);
  // the attempts count survived: the fourth cooldown is 80 minutes capped at 60
  await hold(78, 282);
  expect(fan().slice(10)).toEqual([
    [true, 142],
    [false, 152],
    [true, 212],
    [false, 222],
    [true, 282],
  ]);
  expect(
    bench
      .traces(ID)
      .filter((t) => t.actions.some((a) => a.kind === 'command'))
      .at(-2)?.actions,
  ).toEqual([
    expect.objectContaining({ kind: 'command', value: false, reply: { ok: true } }),
    expect.objectContaining({
      kind: 'log',
      message: expect.stringContaining('fan off for 60m'),
      data: { attempts: 5 },
    }),
  ]);

  // this run helps (exactly 2 points in the window): the count resets, so when it then
  // stalls, the cooldown is the base again
  await hold(78, 290);
  await readings([76]);
  await hold(76, 312);
  expect(fan().slice(14)).toEqual([
    [true, 282],
    [false, 302],
    [true, 312],
  ]);
  // this one dries the coop (below 70), which resets the count too
  await readings([74, 72, 70.5, 69]);
  expect(fan().at(-1)).toEqual([false, 316]);
  await readings([79]);
  await hold(79, 337);
  expect(fan().slice(18)).toEqual([
    [true, 317],
    [false, 327],
    [true, 337],
  ]);
  expect(bench.values.fan).toBe(true);
});
