// `sentinel automations replay`: readings recorded through a real gateway (a simulated
// picket probe stamping them with a past clock), then an automation replayed over them.
// It prints what it would have done at the simulated times, and sends nothing.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Bench, startBench } from '../../../examples/automations/test/support.js';
import { collect } from '../../../test/support/bus.js';
import { registerAutomationsReplayCommand } from '../src/commands/automations-replay.js';
import { automationsInProcess } from './in-process.js';

const START = Date.UTC(2025, 6, 4, 9, 0, 0);
const MINUTE = 60_000;
const iso = (minute: number) => new Date(START + minute * MINUTE).toISOString();

let bench: Bench;
let dir: string;
beforeAll(async () => {
  bench = await startBench(
    [
      { key: 'chamber', name: 'Smoker chamber', platform: 'sensor', unit: '°C', initial: 90 },
      { key: 'fan', name: 'Coop fan', platform: 'switch', initial: false },
    ],
    START,
  );
  dir = await mkdtemp(join(tmpdir(), 'sentinel-replay-test-'));
  // the history: minute → chamber reading
  const history: [number, number | null][] = [
    [0, 100],
    [5, 125], // beyond 120: the 10 minutes begin
    [10, 126],
    [20, 110], // back under 115: re-armed
    [25, 130],
    [30, null], // unavailable: the pending 10 minutes are cancelled
    [32, 131], // a fresh 10 minutes, ending after the replayed range
  ];
  for (const [minute, value] of history) {
    await bench.clock.set(START + minute * MINUTE);
    await bench.report({ chamber: value });
  }
});
afterAll(async () => {
  await bench?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const sentinel = (args: string[]) => automationsInProcess(registerAutomationsReplayCommand, args);

const AUTOMATION = `import { defineAutomation } from '@sentinel/automations';
export default defineAutomation({
  id: 'fan-when-hot',
  triggers: [{ kind: 'threshold', entity: 'Smoker chamber', above: 120, hysteresis: 5, for: '10m' }],
  run: async (ctx) => {
    await ctx.command('Coop fan', true);
    await ctx.notify('phone', { title: 'Smoker hot', message: ctx.trigger.description });
    await ctx.sleep('2m');
    await ctx.command('Coop fan', false);
  },
});
`;

it('prints each firing and action at its simulated time and publishes nothing on the real bus', async () => {
  const file = join(dir, 'fan-when-hot.ts');
  await writeFile(file, AUTOMATION);
  const commands = await collect(bench.stack.bus, 'sentinel.cmd.>');
  const notes = await collect(bench.stack.bus, 'sentinel.notify.>');
  const fan = `Coop fan (${bench.ids['Coop fan']})`;

  const { stdout, stderr, error } = await sentinel([
    'replay',
    file,
    '--from',
    iso(1), // the reading at minute 0 is the state it starts from (found in the warm-up)
    '--to',
    iso(40),
    '--nats',
    bench.stack.nats.url,
  ]);
  expect(error).toBeUndefined();
  expect(stdout.trim().split('\n')).toEqual([
    `${iso(15)}  fan-when-hot  fired threshold: Smoker chamber above 120 for 10m (126)`,
    `${iso(15)}  fan-when-hot  command ${fan} = true`,
    `${iso(15)}  fan-when-hot  notify phone: Smoker hot`,
    `${iso(17)}  fan-when-hot  command ${fan} = false`,
  ]);
  expect(stderr).toContain('replayed 12 readings, 1 runs, 2 commands (not sent)'); // 2 entities × 6 reports
  // nothing reached the real bus: a round trip after the replay finds no command and no notification
  await bench.stack.bus.flush();
  expect(commands.received).toEqual([]);
  expect(notes.received).toEqual([]);
  expect(bench.commands).toEqual([]);
  commands.stop();
  notes.stop();
});

it('lets each run finish before the clock moves to the next reading: its actions keep the time of the reading that started it', async () => {
  // each run's first action is a round trip on the bus, so a replay that moved its clock
  // to the next reading at once would stamp it (and start its sleep) minutes late
  const file = join(dir, 'fan-pulse.ts');
  await writeFile(
    file,
    `import { defineAutomation } from '@sentinel/automations';
export default defineAutomation({
  id: 'fan-pulse',
  mode: 'queued',
  triggers: [{ kind: 'state', entity: 'Smoker chamber' }],
  run: async (ctx) => {
    await ctx.command('Coop fan', true);
    await ctx.sleep('1m');
    await ctx.command('Coop fan', false);
  },
});
`,
  );
  const { stdout, error } = await sentinel([
    'replay',
    file,
    '--from',
    iso(1),
    '--to',
    iso(40),
    '--nats',
    bench.stack.nats.url,
  ]);
  expect(error).toBeUndefined();
  const fan = `Coop fan (${bench.ids['Coop fan']})`;
  expect(
    stdout
      .trim()
      .split('\n')
      .filter((line) => line.includes(' command ')),
  ).toEqual(
    [5, 10, 20, 25, 30, 32].flatMap((minute) => [
      `${iso(minute)}  fan-pulse  command ${fan} = true`,
      `${iso(minute + 1)}  fan-pulse  command ${fan} = false`,
    ]),
  );
});

it('refuses an automation that does not load, and bad times, with what to do', async () => {
  const file = join(dir, 'ghost.ts');
  await writeFile(file, AUTOMATION.replace("'Smoker chamber'", "'Smoker chimney'"));
  const ghost = await sentinel([
    'replay',
    file,
    '--from',
    iso(1),
    '--to',
    iso(40),
    '--nats',
    bench.stack.nats.url,
  ]);
  expect((ghost.error as Error).message).toBe(
    `${file} does not load: unknown entity "Smoker chimney" (not an id or name in sentinel_entities)`,
  );
  const backwards = await sentinel(['replay', file, '--from', iso(40), '--to', iso(1)]);
  expect((backwards.error as Error).message).toMatch(/^--to \(.*\) must be after --from$/);
  const garbage = await sentinel(['replay', file, '--from', 'last tuesday']);
  expect((garbage.error as Error).message).toBe(
    '--from last tuesday: not a time (use e.g. 2025-06-21T10:00:00Z, now, or -7d)',
  );
});
