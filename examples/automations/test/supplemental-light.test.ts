// The supplemental light example in New York City (40.7128° N, 74.0060° W) through a
// simulated picket light, a real gateway and nats-server, with the runtime on a clock the
// test moves a minute at a time: the winter solstice of 2024, whose day is too short,
// and the summer solstice of 2025, whose day is long enough. Sunrise as NOAA's solar
// calculator gives it (almanac minutes): 21 Dec 2024 07:16 EST, 21 Jun 2025 05:25 EDT.
import { fileURLToPath } from 'node:url';
import { nextSunEvent, sunElevation } from '@sentinel/automations';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Bench, startBench } from './support.js';

const FILE = fileURLToPath(new URL('../supplemental-light.ts', import.meta.url));
const ID = 'supplemental-light';
const NYC = { latitude: 40.7128, longitude: -74.006 };
const MINUTE = 60_000;
const HOUR = 3_600_000;
/** local midnight of each day (EST is UTC−5, EDT UTC−4) */
const WINTER = Date.UTC(2024, 11, 21, 5);
const SUMMER = Date.UTC(2025, 5, 21, 4);
/** NOAA's sunrise of each day, to the minute */
const WINTER_SUNRISE = WINTER + 7 * HOUR + 16 * MINUTE;
const SUMMER_SUNRISE = SUMMER + 5 * HOUR + 25 * MINUTE;
/** and NOAA's sunset of the winter day: 16:32 EST */
const WINTER_SUNSET = WINTER + 16 * HOUR + 32 * MINUTE;

let bench: Bench;
beforeAll(async () => {
  bench = await startBench(
    [{ key: 'light', name: 'Coop light', platform: 'light', initial: false }],
    WINTER,
    {
      location: NYC,
    },
  );
  expect(await bench.runtime.loadFile(FILE)).toBe(ID);
});
afterAll(async () => {
  await bench?.stop();
});

/** moves the clock a minute at a time (each run ends before the next minute) up to `to` */
async function until(to: number) {
  while (bench.clock.now() < to) await bench.advance(Math.min(MINUTE, to - bench.clock.now()));
}
const elevation = (at: number) => sunElevation(at, NYC.latitude, NYC.longitude);
/** the runs a trigger started (from the runtime running now) */
const runsOf = (index: number) => bench.traces(ID).filter((t) => t.trigger?.index === index);
const light = () => bench.commands.map((c) => ({ value: c.value, at: c.at }));

it('on the winter solstice: on at dusk, off when sunrise + 14 h is reached, off at 22:00 at the latest', async () => {
  // sunrise (computed from latitude and longitude) is remembered; the lamp stays off all day
  await until(WINTER + 12 * HOUR);
  const [sunrise] = runsOf(0);
  expect(Math.abs(sunrise!.trigger!.ts - WINTER_SUNRISE)).toBeLessThan(MINUTE);
  expect(light()).toEqual([]);

  // a restart at noon: today's sunrise is still known at dusk (the store is in NATS KV)
  const runtime = await bench.restart();
  expect(await runtime.loadFile(FILE)).toBe(ID);

  // on at the first minute the sun is below 3°, 22 minutes before NOAA's sunset (16:32)
  await until(WINTER + 17 * HOUR);
  expect(light()).toHaveLength(1);
  const on = light()[0]!;
  expect(on.value).toBe(true);
  expect(elevation(on.at)).toBeLessThan(3);
  expect(elevation(on.at - MINUTE)).toBeGreaterThanOrEqual(3);
  expect(on.at).toBe(WINTER + 16 * HOUR + 10 * MINUTE);
  const sunset = nextSunEvent('sunset', WINTER, NYC.latitude, NYC.longitude)!;
  expect(Math.abs(sunset - WINTER_SUNSET)).toBeLessThan(MINUTE);
  expect(bench.values.light).toBe(true);
  // the sun keeps sinking: that is no new crossing (it re-arms only above 5°, tomorrow)
  await until(WINTER + 20 * HOUR);
  expect(runsOf(1)).toHaveLength(1);

  // the lamp's state is lost (unavailable) in the evening: the off is still sent
  await bench.report({ light: null });
  // 14 hours after sunrise (NOAA: 07:16 + 14 h = 21:16), not at 22:00
  await until(WINTER + 21 * HOUR + 30 * MINUTE);
  expect(light()).toHaveLength(2);
  const [complete] = runsOf(2);
  expect(Math.abs(complete!.trigger!.ts - (WINTER_SUNRISE + 14 * HOUR))).toBeLessThan(MINUTE);
  expect(complete!.trigger!.ts - sunrise!.trigger!.ts).toBe(14 * HOUR);
  const off = light()[1]!;
  expect(off.value).toBe(false);
  expect(off.at - complete!.trigger!.ts).toBeGreaterThanOrEqual(0);
  expect(off.at - complete!.trigger!.ts).toBeLessThan(MINUTE);
  expect(bench.values.light).toBe(false);

  // switched on by hand at 21:30: the automation turns it off at 22:00 sharp
  await bench.report({ light: true });
  await until(WINTER + 23 * HOUR);
  expect(light()).toEqual([on, off, { value: false, at: WINTER + 22 * HOUR }]);
});

it('on the summer solstice the day is already longer than 14 h at dusk: the lamp stays off', async () => {
  // the runtime restarts the next summer, just after midnight
  const runtime = await bench.restart(() => bench.clock.set(SUMMER));
  expect(await runtime.loadFile(FILE)).toBe(ID);
  const before = light().length;

  await until(SUMMER + 23 * HOUR);
  const [sunrise] = runsOf(0);
  expect(Math.abs(sunrise!.trigger!.ts - SUMMER_SUNRISE)).toBeLessThan(MINUTE);
  // dusk came (sun below 3° at 20:09 EDT, 14 h 44 min after sunrise), and was declined
  // (the sun already below 3° when the runtime started was no crossing: one dusk run)
  expect(runsOf(1)).toHaveLength(1);
  const [dusk] = runsOf(1);
  expect(dusk!.trigger!.ts).toBe(SUMMER + 20 * HOUR + 9 * MINUTE);
  expect(dusk!.actions).toEqual([
    expect.objectContaining({
      kind: 'log',
      message: expect.stringMatching(/has had 14\.7 h of daylight already/),
    }),
  ]);
  expect(light()).toHaveLength(before);
  expect(bench.values.light).toBe(false);
});
