// The runtime against a real nats-server, with a controllable clock: triggers fire
// exactly when they should, modes behave, failures stay contained, `for` survives a restart.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { collect } from '../../test/support/bus.js';
import { ManualClock } from '../src/clock.js';
import { defineAutomation } from '../src/sdk/define.js';
import { ran, START, startBus } from './support.js';

const CHAMBER = '0190a000-0000-7000-8000-000000000001';
const FAN = '0190a000-0000-7000-8000-000000000002';
const PROBE = '0190a000-0000-7000-8000-000000000003';
const ENTITIES = [
  { id: CHAMBER, name: 'Smoker chamber', platform: 'sensor', unit: '°C' },
  { id: FAN, name: 'Coop fan', platform: 'switch' },
  { id: PROBE, name: 'Probe', platform: 'sensor' },
];

let bus: Awaited<ReturnType<typeof startBus>>;
beforeEach(async () => {
  bus = await startBus(ENTITIES);
});
afterEach(async () => {
  await bus.stop();
});

const hot = (extra: Partial<Parameters<typeof defineAutomation>[0]> = {}) =>
  defineAutomation({
    id: 'too-hot',
    triggers: [{ kind: 'threshold', entity: 'Smoker chamber', above: 120, hysteresis: 5, for: '10m' }],
    run: async (ctx) => {
      await ctx.command('Coop fan', true);
    },
    ...extra,
  });

describe('threshold with for and hysteresis', () => {
  it('fires once after the value held for 10 minutes, re-arms only below the lower band', async () => {
    const rt = await bus.runtime();
    expect(await rt.add(hot())).toBe('too-hot');
    await bus.reading(rt, CHAMBER, 100);
    await bus.reading(rt, CHAMBER, 125); // crossing: the 10 minutes begin
    await bus.clock.advance(9 * 60_000);
    await bus.reading(rt, CHAMBER, 126);
    expect(rt.traces.of('too-hot')).toEqual([]);
    await bus.clock.advance(60_000);
    await rt.idle();
    expect(ran(rt.traces.of('too-hot'))).toHaveLength(1);
    expect(rt.traces.of('too-hot')[0]!.trigger).toMatchObject({
      kind: 'threshold',
      entity_id: CHAMBER,
      value: 126,
    });
    expect(bus.commands).toEqual([{ entity_id: FAN, value: true }]);

    // inside the band (115 < v ≤ 120) is not a re-arm: going back above does not fire again
    await bus.reading(rt, CHAMBER, 118);
    await bus.reading(rt, CHAMBER, 130);
    await bus.clock.advance(20 * 60_000);
    await rt.idle();
    expect(rt.traces.of('too-hot')).toHaveLength(1);

    // below 115 re-arms; a dip during the next `for` restarts it
    await bus.reading(rt, CHAMBER, 114);
    await bus.reading(rt, CHAMBER, 121);
    await bus.clock.advance(5 * 60_000);
    await bus.reading(rt, CHAMBER, 119);
    await bus.reading(rt, CHAMBER, 121);
    await bus.clock.advance(9 * 60_000);
    await rt.idle();
    expect(rt.traces.of('too-hot')).toHaveLength(1);
    await bus.clock.advance(60_000);
    await rt.idle();
    expect(ran(rt.traces.of('too-hot'))).toHaveLength(2);
  });

  it('an unavailable sensor cancels a pending for and never counts as a crossing', async () => {
    const rt = await bus.runtime();
    await rt.add(hot());
    await rt.add(
      defineAutomation({
        id: 'too-cold',
        triggers: [{ kind: 'threshold', entity: CHAMBER, below: 50 }],
        run: () => {},
      }),
    );
    await bus.reading(rt, CHAMBER, 125);
    await bus.clock.advance(5 * 60_000);
    await bus.reading(rt, CHAMBER, null); // unavailable: not below 50, and the 10 minutes stop
    await bus.clock.advance(10 * 60_000);
    await rt.idle();
    expect(rt.traces.of('too-hot')).toEqual([]);
    expect(rt.traces.of('too-cold')).toEqual([]);
    // back with a hot reading: a fresh 10 minutes
    await bus.reading(rt, CHAMBER, 125);
    await bus.clock.advance(9 * 60_000);
    await rt.idle();
    expect(rt.traces.of('too-hot')).toEqual([]);
    await bus.clock.advance(60_000);
    await rt.idle();
    expect(ran(rt.traces.of('too-hot'))).toHaveLength(1);
  });
});

describe('derivative', () => {
  it('fires when the rate over the window exceeds the bound, once until it slows', async () => {
    const rt = await bus.runtime();
    await rt.add(
      defineAutomation({
        id: 'rising-fast',
        triggers: [{ kind: 'derivative', entity: CHAMBER, window: '5m', above: 2, hysteresis: 1 }],
        run: (ctx) =>
          ctx.notify('phone', { title: 'Refill the water pan', message: ctx.trigger.description }),
      }),
    );
    const notes = await collect(bus.nc, 'sentinel.notify.phone');
    // +1 °C per minute for 6 minutes: under the bound
    for (let i = 0; i <= 6; i++) {
      await bus.reading(rt, CHAMBER, 100 + i);
      await bus.clock.advance(60_000);
    }
    expect(rt.traces.of('rising-fast')).toEqual([]);
    // +3 °C per minute: the 5-minute slope passes 2/min
    let v = 106;
    for (let i = 0; i < 5 && rt.traces.of('rising-fast').length === 0; i++) {
      v += 3;
      await bus.reading(rt, CHAMBER, v);
      await bus.clock.advance(60_000);
    }
    expect(ran(rt.traces.of('rising-fast'))).toHaveLength(1);
    expect(rt.traces.of('rising-fast')[0]!.trigger!.rate).toBeGreaterThan(2);
    const note = await notes.next();
    expect(note).toMatchObject({
      channel: 'phone',
      automation_id: 'rising-fast',
      notification: { title: 'Refill the water pan', severity: 'info', actions: [] },
    });
    // still rising fast: no second alarm
    for (let i = 0; i < 3; i++) {
      v += 3;
      await bus.reading(rt, CHAMBER, v);
      await bus.clock.advance(60_000);
    }
    expect(rt.traces.of('rising-fast')).toHaveLength(1);
    notes.stop();
  });
});

const morning = defineAutomation({
  id: 'morning',
  triggers: [{ kind: 'time', at: '10:30', tz: 'UTC' }],
  run: () => {},
});
const quarterly = defineAutomation({
  id: 'quarterly',
  triggers: [{ kind: 'cron', expression: '*/15 * * * *', tz: 'UTC' }],
  run: () => {},
});

describe('time and cron', () => {
  it('fires at the time of day and on the cron schedule, driven by the clock', async () => {
    const rt = await bus.runtime();
    await rt.add(morning);
    await rt.add(quarterly);
    await bus.clock.advance(29 * 60_000);
    await rt.idle();
    expect(rt.traces.of('morning')).toEqual([]);
    expect(rt.traces.of('quarterly').map((t) => t.trigger!.ts)).toEqual([START + 15 * 60_000]);
    await bus.clock.advance(60_000);
    await rt.idle();
    expect(rt.traces.of('morning').map((t) => t.trigger!.ts)).toEqual([START + 30 * 60_000]);
    await bus.clock.advance(24 * 3_600_000);
    await rt.idle();
    expect(rt.traces.of('morning')).toHaveLength(2);
    expect(rt.traces.of('quarterly')).toHaveLength(2 + 24 * 4);
  });
});

describe('clock jumps', () => {
  it('a jump forward fires a missed time trigger once, a step back fires nothing twice; both are traced with a reason', async () => {
    const rt = await bus.runtime();
    await rt.add(morning);
    await rt.add(quarterly);
    // not driven by the clock: told nothing
    await rt.add(
      defineAutomation({ id: 'probe', triggers: [{ kind: 'state', entity: PROBE }], run: () => {} }),
    );
    const warnings = (id: string) =>
      rt.traces
        .of(id)
        .filter((t) => t.result === 'warning')
        .map((t) => t.error);

    await bus.clock.jump(START + 3 * 3_600_000); // 10:00 → 13:00 in one step
    await rt.idle();
    // once each, at the new time: not the 12 quarter hours it skipped
    expect(ran(rt.traces.of('quarterly')).map((t) => t.trigger!.ts)).toEqual([START + 3 * 3_600_000]);
    expect(ran(rt.traces.of('morning'))).toHaveLength(1);
    for (const id of ['morning', 'quarterly'])
      expect(warnings(id)).toEqual([
        expect.stringMatching(/^the clock jumped forward by 3 h 0 min \(from 2025-06-21T10:00:00/),
      ]);
    expect(rt.traces.of('probe')).toEqual([]);

    await bus.clock.jump(START + 2 * 3_600_000); // back to 12:00
    await rt.idle();
    expect(warnings('quarterly')[1]).toMatch(/^the clock stepped back by 1 h 0 min .*do not fire again/);
    await bus.clock.advance(60 * 60_000 + 60_000); // 13:01: 12:15 … 13:00 came once already
    await rt.idle();
    expect(ran(rt.traces.of('quarterly'))).toHaveLength(1);
    await bus.clock.advance(14 * 60_000); // 13:15
    await rt.idle();
    expect(ran(rt.traces.of('quarterly')).map((t) => t.trigger!.ts)).toEqual([
      START + 3 * 3_600_000,
      START + 3 * 3_600_000 + 15 * 60_000,
    ]);
    expect(ran(rt.traces.of('morning'))).toHaveLength(1);
  });

  it('daylight saving time: a 02:30 trigger fires once on the night 02:30 happens twice, and once (at 03:30) on the night it does not exist', async () => {
    for (const [start, expected] of [
      // 26 Oct 2025, Amsterdam: 03:00 CEST → 02:00 CET
      [Date.UTC(2025, 9, 25, 12), ['2025-10-26T00:30:00.000Z', '2025-10-27T01:30:00.000Z']],
      // 30 Mar 2025: 02:00 CET → 03:00 CEST
      [Date.UTC(2025, 2, 29, 12), ['2025-03-30T01:30:00.000Z', '2025-03-31T00:30:00.000Z']],
    ] as const) {
      const clock = new ManualClock(start);
      const rt = await bus.runtime({ clock });
      await rt.add(
        defineAutomation({
          id: 'night',
          triggers: [{ kind: 'time', at: '02:30', tz: 'Europe/Amsterdam' }],
          run: () => {},
        }),
      );
      for (const _day of [1, 2]) {
        await clock.advance(24 * 3_600_000);
        await rt.idle();
      }
      expect(ran(rt.traces.of('night')).map((t) => new Date(t.trigger!.ts).toISOString())).toEqual(expected);
      await bus.stopRuntime(rt);
    }
  });
});

describe('modes', () => {
  const slow = (id: string, mode: 'single' | 'queued') =>
    defineAutomation({
      id,
      mode,
      triggers: [{ kind: 'state', entity: PROBE }],
      run: async (ctx) => {
        await ctx.sleep('1m');
        await ctx.command(FAN, ctx.trigger.value ?? null);
      },
    });

  it('a sleep the run did not await ends with the run: nothing is commanded after it returned', async () => {
    const rt = await bus.runtime();
    await rt.add(
      defineAutomation({
        id: 'leftover',
        triggers: [{ kind: 'state', entity: PROBE }],
        run: (ctx) => {
          void ctx.sleep('10s').then(() => ctx.command(FAN, true));
        },
      }),
    );
    await bus.reading(rt, PROBE, 1); // resolves once the run has returned
    expect(bus.clock.pendingCount).toBe(0);
    await bus.clock.advance(11_000);
    await rt.idle();
    expect(bus.commands).toEqual([]);
    expect(rt.traces.of('leftover')).toMatchObject([{ result: 'ok', actions: [] }]);
  });

  it('single drops a firing while running; queued runs each after the other', async () => {
    const rt = await bus.runtime();
    await rt.add(slow('one-at-a-time', 'single'));
    await rt.add(slow('in-line', 'queued'));
    const traces = await collect(bus.nc, 'sentinel.automations.trace.*');
    // readings without waiting for runs: both arrive while the first run sleeps
    const published = (value: number) =>
      new Promise<void>((resolve) => {
        const listener = (m: { entity_id: string; value: unknown }) => {
          if (m.entity_id === PROBE && m.value === value) {
            rt.off('state', listener);
            resolve();
          }
        };
        rt.on('state', listener);
        bus.nc.publish(
          `sentinel.state.${PROBE}`,
          JSON.stringify({ entity_id: PROBE, value, ts: bus.clock.now() }),
        );
      });
    await published(1);
    await published(2);
    expect(rt.traces.of('one-at-a-time').map((t) => t.result)).toEqual(['skipped']);
    await bus.clock.advance(60_000);
    await bus.clock.whenPending(1); // the queued run has started and sleeps
    await bus.clock.advance(60_000);
    await rt.idle();
    expect(rt.traces.of('one-at-a-time').map((t) => t.result)).toEqual(['skipped', 'ok']);
    expect(rt.traces.of('in-line').map((t) => [t.result, t.trigger!.value])).toEqual([
      ['ok', 1],
      ['ok', 2],
    ]);
    expect(bus.commands.map((c) => c.value).sort()).toEqual([1, 1, 2]);
    expect((await traces.next((t) => t.result === 'skipped')).error).toMatch(/already running/);
    traces.stop();
  });
});

describe('failures stay contained', () => {
  it('an automation throwing at run, or failing to load, leaves the others running', async () => {
    const rt = await bus.runtime();
    await rt.add(
      defineAutomation({
        id: 'broken',
        triggers: [{ kind: 'state', entity: PROBE }],
        run: () => {
          throw new Error('boom');
        },
      }),
    );
    expect(
      await rt.add(
        defineAutomation({
          id: 'ghost',
          triggers: [{ kind: 'state', entity: 'No such thing' }],
          run: () => {},
        }),
      ),
    ).toBeUndefined();
    expect(await rt.add({ id: 'Bad Id', triggers: [], run: 1 })).toBeUndefined();
    await rt.add(
      defineAutomation({
        id: 'healthy',
        triggers: [{ kind: 'state', entity: PROBE }],
        run: (ctx) => ctx.command(FAN, true),
      }),
    );
    await bus.reading(rt, PROBE, 1);
    await bus.reading(rt, PROBE, 2);
    expect(rt.traces.of('broken').map((t) => [t.result, t.error])).toEqual([
      ['error', 'boom'],
      ['error', 'boom'],
    ]);
    expect(rt.traces.of('ghost')[0]).toMatchObject({
      result: 'load_error',
      error: expect.stringMatching(/unknown entity "No such thing"/),
    });
    expect(rt.traces.of('automation')[0]).toMatchObject({
      result: 'load_error',
      error: expect.stringMatching(/^invalid automation: id/),
    });
    expect(ran(rt.traces.of('healthy'))).toHaveLength(2);
    expect(rt.automationIds.sort()).toEqual(['broken', 'healthy']);
  });

  it('loads TypeScript files: compile errors, throws at load, forbidden imports and endless loops become traces', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sentinel-automations-'));
    try {
      const sdk = "import { defineAutomation } from '@sentinel/automations';\n";
      await writeFile(
        join(dir, 'good.ts'),
        `${sdk}import { label } from './shared';\nexport default defineAutomation({ id: 'good', triggers: [{ kind: 'state', entity: 'Probe' }], run: async (ctx) => { ctx.log(label); await ctx.command('Coop fan', true); } });\n`,
      );
      await writeFile(join(dir, 'shared.ts'), "export const label: string = 'from a relative import';\n");
      await writeFile(join(dir, 'syntax.ts'), `${sdk}export default defineAutomation({ id: 'syntax', `);
      await writeFile(join(dir, 'throws.ts'), `${sdk}throw new Error('no config');\n`);
      await writeFile(
        join(dir, 'sneaky.ts'),
        `${sdk}import { readFileSync } from 'node:fs';\nexport default readFileSync;\n`,
      );
      await writeFile(join(dir, 'spins.ts'), `${sdk}while (true) {}\n`);
      // the same id a second time: refused before its triggers start (it would command too)
      await writeFile(
        join(dir, 'good2.ts'),
        `${sdk}export default defineAutomation({ id: 'good', triggers: [{ kind: 'state', entity: 'Probe' }], run: (ctx) => ctx.command('Coop fan', true) });\n`,
      );
      const rt = await bus.runtime();
      const ids = await rt.loadDirectory(dir);
      // shared.ts has no default export: it loads as a failed automation, the others are unaffected
      expect(ids).toEqual(['good']);
      expect(rt.traces.of('syntax')[0]!.error).toMatch(/^does not compile: .*\(line 2\)/);
      expect(rt.traces.of('throws')[0]!.error).toBe('throws at load: no config');
      expect(rt.traces.of('sneaky')[0]!.error).toMatch(/may import only @sentinel\/automations.*node:fs/);
      // the load's own timeout or the worker's watchdog, whichever a busy machine lets fire first
      expect(rt.traces.of('spins')[0]!.error).toMatch(
        /throws at load: Script execution timed out|stopped at load: ran for more than 1000 ms without yielding/,
      );
      expect(rt.traces.of('good2')[0]!.error).toBe('an automation with id "good" is already loaded');
      const commands = bus.commands.length;
      await bus.reading(rt, PROBE, 1);
      expect(bus.commands.length - commands).toBe(1);
      expect(rt.traces.of('good')[0]).toMatchObject({
        result: 'ok',
        actions: [
          { kind: 'log', message: 'from a relative import' },
          { kind: 'command', entity_id: FAN },
        ],
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('durable for', () => {
  it('a pending for: 10m survives a runtime restart and fires once', async () => {
    const first = await bus.runtime();
    await first.add(hot());
    await bus.reading(first, CHAMBER, 100);
    await bus.reading(first, CHAMBER, 125);
    await bus.clock.advance(4 * 60_000);
    await bus.stopRuntime(first);
    expect(bus.clock.pendingCount).toBe(0);

    await bus.clock.advance(3 * 60_000); // the runtime is down for 3 minutes
    const second = await bus.runtime();
    await second.add(hot());
    await bus.clock.advance(2 * 60_000);
    await second.idle();
    expect(second.traces.of('too-hot')).toEqual([]);
    await bus.clock.advance(60_000); // 10 minutes after the crossing
    await second.idle();
    expect(ran(second.traces.of('too-hot'))).toHaveLength(1);
    expect(bus.commands).toHaveLength(1);

    // fired is remembered too: another restart does not fire it again
    await bus.stopRuntime(second);
    const third = await bus.runtime();
    await third.add(hot());
    await bus.reading(third, CHAMBER, 127);
    await bus.clock.advance(30 * 60_000);
    await third.idle();
    expect(third.traces.of('too-hot')).toEqual([]);
  });
});
