// The smoker example through a simulated picket probe, a real gateway and nats-server,
// with the runtime on a clock the test moves one minute per reading.
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { collect } from '../../../test/support/bus.js';
import { type Bench, startBench } from './support.js';

const FILE = fileURLToPath(new URL('../smoker-water-pan.ts', import.meta.url));
const START = Date.UTC(2025, 6, 4, 9, 0, 0);
const MINUTE = 60_000;

let bench: Bench;
beforeAll(async () => {
  bench = await startBench(
    [{ key: 'chamber', name: 'Smoker chamber', platform: 'sensor', unit: '°C', initial: 20 }],
    START,
  );
  expect(await bench.runtime.loadFile(FILE)).toBe('smoker-water-pan');
});
afterAll(async () => {
  await bench?.stop();
});

/** one reading per minute; returns the minute (since START) of each */
async function minutes(values: (number | null)[]) {
  for (const v of values) {
    await bench.advance(MINUTE);
    await bench.report({ chamber: v });
  }
}
const at = () => (bench.clock.now() - START) / MINUTE;

it('warns once when the chamber climbs past 2 °C/min while cooking, not while preheating, not across an outage', async () => {
  const notes = await collect(bench.stack.bus, 'sentinel.notify.phone');
  const runs = () => bench.traces('smoker-water-pan');

  // preheating: 5 °C/min from 60, but below 100 °C: the trigger fires, the condition holds it back
  await minutes([60, 65, 70, 75, 80, 85, 90, 95]);
  expect(runs().map((t) => t.result)).toEqual(['conditions_failed']);
  // cooking steadily (rate under 1 °C/min re-arms)
  await minutes([105, 106, 106, 107, 106, 106, 107, 106, 106]);
  expect(runs()).toHaveLength(1);

  // an outage in the middle of a slow drift: 106 → unavailable → 125 is not a climb
  await minutes([106, null, 125, 125.5, 126, 126, 126.5]);
  expect(runs()).toHaveLength(1);
  expect(notes.received).toEqual([]);

  // the pan runs dry: +2.5 °C/min
  const dryFrom = at();
  let fired: number | undefined;
  let v = 126.5;
  for (let i = 0; i < 8 && fired === undefined; i++) {
    v += 2.5;
    await minutes([v]);
    if (runs().length === 2) fired = at();
  }
  // the first minute whose 5-minute slope passes 2/min: four points of the climb (span ≥ half the window)
  expect(fired! - dryFrom).toBe(4);
  expect(runs()[1]).toMatchObject({ result: 'ok', trigger: { kind: 'derivative', value: v } });
  expect(runs()[1]!.trigger!.rate).toBeGreaterThan(2);
  const note = await notes.next();
  expect(note).toMatchObject({
    channel: 'phone',
    automation_id: 'smoker-water-pan',
    ts: START + fired! * MINUTE,
    notification: { title: 'Refill the water pan', severity: 'warning', tag: 'smoker-water-pan' },
  });

  // still climbing, then slowing to 1.5 °C/min (inside the hysteresis band): no second warning
  for (const step of [2.5, 2.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 2.5, 2.5, 2.5, 2.5]) {
    v += step;
    await minutes([v]);
  }
  expect(runs()).toHaveLength(2);
  // flat again (under 1 °C/min re-arms), then a new climb warns again
  await minutes([v, v, v, v, v, v]);
  for (let i = 0; i < 6; i++) {
    v += 3;
    await minutes([v]);
  }
  expect(runs().map((t) => t.result)).toEqual(['conditions_failed', 'ok', 'ok']);
  expect(notes.received).toHaveLength(2);
  notes.stop();
});
