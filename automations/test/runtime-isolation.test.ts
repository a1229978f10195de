// Automation code in sandbox workers: code that loops, allocates without bound or asks
// for a million timers is stopped with a specific reason in its trace, and the other
// automations of its worker go on. A command the runtime's credential does not allow is
// refused by nats-server, and the run's trace says so.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kvm } from '@nats-io/kv';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnNatsServer } from '../../test/support/nats.js';
import { ManualClock } from '../src/clock.js';
import { AutomationRuntime } from '../src/runtime/runtime.js';
import { ran, START, startBus } from './support.js';

const PROBE = '0190a000-0000-7000-8000-000000000003';
const FAN = '0190a000-0000-7000-8000-000000000002';
const HEATER = '0190a000-0000-7000-8000-000000000004';
const ENTITIES = [
  { id: PROBE, name: 'Probe', platform: 'sensor' },
  { id: FAN, name: 'Coop fan', platform: 'switch' },
  { id: HEATER, name: 'Heater', platform: 'switch' },
];

const SDK = "import { defineAutomation } from '@sentinel/automations';\n";
const onProbe = (id: string, run: string) =>
  `${SDK}export default defineAutomation({ id: '${id}', mode: 'parallel', triggers: [{ kind: 'state', entity: 'Probe' }], run: async (ctx) => { ${run} } });\n`;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sentinel-automations-iso-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('sandbox workers', () => {
  it('a looping, an allocating and a timer-flooding automation are stopped; the others in their worker keep running', async () => {
    const bus = await startBus(ENTITIES);
    try {
      const files = join(dir, 'contained');
      await (await import('node:fs/promises')).mkdir(files);
      await writeFile(
        join(files, 'a-healthy.ts'),
        onProbe('healthy', "await ctx.command('Coop fan', ctx.trigger.value);"),
      );
      await writeFile(
        join(files, 'b-spins.ts'),
        onProbe('spins', 'if (ctx.trigger.value === 2) { for (;;) {} }'),
      );
      await writeFile(
        join(files, 'c-hog.ts'),
        onProbe(
          'hog',
          'if (ctx.trigger.value === 3) { const keep = []; for (;;) keep.push(new Array(1e5).fill(1)); }',
        ),
      );
      await writeFile(
        join(files, 'd-timers.ts'),
        onProbe('timers', "for (let i = 0; i < 1e6; i++) void ctx.sleep('1h');"),
      );
      const rt = await bus.runtime({ isolation: { groupSize: 10, timeLimitMs: 1000, memoryLimitMb: 24 } });
      expect((await rt.loadDirectory(files)).sort()).toEqual(['healthy', 'hog', 'spins', 'timers']);
      expect(rt.workers).toBe(1); // all four share one worker

      await bus.reading(rt, PROBE, 1);
      expect(rt.traces.of('timers').at(-1)).toMatchObject({
        result: 'error',
        error: 'too many pending sleeps (limit 1000 per run)',
      });
      await bus.reading(rt, PROBE, 2); // spins: the worker is replaced, the others loaded again
      expect(
        rt.traces
          .of('spins')
          .map((t) => t.error)
          .sort(),
      ).toEqual(
        [
          undefined,
          'disabled: its code ran for more than 1000 ms without yielding (time limit); fix it, then restart the runtime',
          'stopped: ran for more than 1000 ms without yielding (time limit); not run again until the runtime restarts',
        ].sort(),
      );
      await bus.reading(rt, PROBE, 3); // hog: out of memory
      expect(rt.traces.of('hog').map((t) => t.error)).toEqual(
        expect.arrayContaining([
          'stopped: exceeded the memory limit (24 MB heap per worker); not run again until the runtime restarts',
          'disabled: its code exceeded the memory limit (24 MB heap per worker); fix it, then restart the runtime',
        ]),
      );
      await bus.reading(rt, PROBE, 4);
      expect(rt.automationIds.sort()).toEqual(['healthy', 'timers']);
      // healthy ran for every reading; a run cut short by its neighbour is reported as such
      const healthy = rt.traces.of('healthy');
      expect(healthy.filter((t) => t.result === 'ok').map((t) => t.trigger!.value)).toEqual(
        expect.arrayContaining([1, 4]),
      );
      for (const t of healthy.filter((t) => t.result !== 'ok'))
        expect(t).toMatchObject({
          result: 'aborted',
          error: expect.stringMatching(/^its worker was replaced: (spins|hog) /),
        });
      expect(bus.commands.at(-1)).toEqual({ entity_id: FAN, value: 4 });
      expect(bus.clock.pendingCount).toBe(0); // the 1000 sleeps ended with their run
    } finally {
      await bus.stop();
    }
  });

  it('automation code has no require, process or network', async () => {
    const bus = await startBus(ENTITIES);
    try {
      const files = join(dir, 'reach');
      await (await import('node:fs/promises')).mkdir(files);
      await writeFile(
        join(files, 'reach.ts'),
        onProbe(
          'reach',
          "ctx.log([typeof require, typeof process, typeof fetch, typeof setTimeout, typeof WebSocket].join(','));",
        ),
      );
      const rt = await bus.runtime();
      await rt.loadDirectory(files);
      await bus.reading(rt, PROBE, 1);
      expect(ran(rt.traces.of('reach'))[0]!.actions).toMatchObject([
        { kind: 'log', message: 'undefined,undefined,undefined,undefined,undefined' },
      ]);
    } finally {
      await bus.stop();
    }
  });
});

describe('bad input in a sandbox worker', () => {
  it('a reading of the wrong type, an entity removed while watched and a clock step are traced; the worker goes on', async () => {
    const bus = await startBus(ENTITIES);
    try {
      const files = join(dir, 'bad-input');
      await mkdir(files);
      await writeFile(
        join(files, 'hot.ts'),
        `${SDK}export default defineAutomation({ id: 'hot', triggers: [{ kind: 'threshold', entity: 'Probe', above: 10 }], run: (ctx) => ctx.command('Coop fan', true) });\n`,
      );
      await writeFile(
        join(files, 'noon.ts'),
        `${SDK}export default defineAutomation({ id: 'noon', triggers: [{ kind: 'time', at: '12:00', tz: 'UTC' }], run: () => {} });\n`,
      );
      const rt = await bus.runtime();
      expect((await rt.loadDirectory(files)).sort()).toEqual(['hot', 'noon']);
      const warnings = (id: string) =>
        rt.traces
          .of(id)
          .filter((t) => t.result === 'warning')
          .map((t) => t.error);

      bus.nc.publish(
        `sentinel.state.${PROBE}`,
        JSON.stringify({ entity_id: PROBE, value: { c: 21 }, ts: START }),
      );
      await bus.nc.flush();
      await rt.idle();
      expect(warnings('hot')).toEqual([
        expect.stringMatching(new RegExp(`^ignored a bad reading on sentinel.state.${PROBE}: value: `)),
      ]);
      await bus.reading(rt, PROBE, 11); // the worker still evaluates readings
      expect(bus.commands).toEqual([{ entity_id: FAN, value: true }]);

      const removed = new Promise((resolve) =>
        rt.on('trace', (t) => t.error?.includes('removed') && resolve(t)),
      );
      await (await new Kvm(bus.nc).open('sentinel_entities')).delete(PROBE);
      await removed;
      expect(warnings('hot')[1]).toMatch(
        /^entity .* \("Probe"\) was removed from the registry while watched/,
      );

      await bus.clock.jump(START + 3 * 3_600_000); // 10:00 → 13:00 in one step
      await rt.idle();
      expect(warnings('noon')).toEqual([expect.stringMatching(/^the clock jumped forward by 3 h 0 min/)]);
      expect(ran(rt.traces.of('noon'))).toHaveLength(1); // 12:00 was passed: once, late
      expect(warnings('hot')).toHaveLength(2); // not driven by the clock
    } finally {
      await bus.stop();
    }
  });
});

describe('a run ends with its sleeps', () => {
  // the main thread keeps a sandboxed run's sleeps on the runtime's clock: they must end
  // with the run (returned, restarted or stopped), or they pile up and fire for nobody.
  // One runtime and worker for the three (the last test stops it), each automation on its own sensor.
  const LEFT = '0190a000-0000-7000-8000-000000000011';
  const NAP = '0190a000-0000-7000-8000-000000000012';
  const WAIT = '0190a000-0000-7000-8000-000000000013';
  const on = (id: string, sensor: string, mode: string, run: string) =>
    `${SDK}export default defineAutomation({ id: '${id}', mode: '${mode}', triggers: [{ kind: 'state', entity: '${sensor}' }], run: async (ctx) => { ${run} } });\n`;
  let bus: Awaited<ReturnType<typeof startBus>>;
  let rt: AutomationRuntime;
  beforeAll(async () => {
    bus = await startBus([
      ...ENTITIES,
      { id: LEFT, name: 'Left', platform: 'sensor' },
      { id: NAP, name: 'Nap', platform: 'sensor' },
      { id: WAIT, name: 'Wait', platform: 'sensor' },
    ]);
    const files = join(dir, 'sleeps');
    await mkdir(files);
    await writeFile(
      join(files, 'leftover.ts'),
      on(
        'leftover',
        'Left',
        'parallel',
        "void ctx.sleep('10s').then(() => ctx.command('Coop fan', true)); ctx.log('returns');",
      ),
    );
    await writeFile(
      join(files, 'napper.ts'),
      on('napper', 'Nap', 'parallel', "await ctx.sleep('1m'); await ctx.command('Coop fan', true);"),
    );
    await writeFile(
      join(files, 'waits.ts'),
      on(
        'waits',
        'Wait',
        'restart',
        "await ctx.sleep(ctx.trigger.value === 1 ? '10m' : '1m'); await ctx.command('Coop fan', ctx.trigger.value);",
      ),
    );
    rt = await bus.runtime();
    expect(await rt.loadDirectory(files)).toEqual(['leftover', 'napper', 'waits']);
  });
  afterAll(async () => {
    await bus.stop();
  });

  /** a reading on the bus; the test waits for what it starts (a sleep, a trace) itself */
  const publish = async (entityId: string, value: number) => {
    bus.nc.publish(
      `sentinel.state.${entityId}`,
      JSON.stringify({ entity_id: entityId, value, ts: bus.clock.now() }),
    );
    await bus.nc.flush();
  };

  it('a sleep the run did not await is cancelled when the run returns: nothing is commanded 10 s later', async () => {
    await bus.reading(rt, LEFT, 1); // resolves once the run has returned
    expect(bus.clock.pendingCount).toBe(0); // its sleep ended with it
    await bus.clock.advance(11_000);
    await rt.idle();
    expect(bus.commands).toEqual([]);
    expect(rt.traces.of('leftover')).toMatchObject([
      { result: 'ok', actions: [{ kind: 'log', message: 'returns' }] },
    ]);
    expect(rt.traces.of('leftover')[0]!.actions).toHaveLength(1);
  });

  it('a run that awaits its sleep commands after it; a restart cancels the sleeping run it replaces', async () => {
    const before = bus.clock.pendingCount; // 0 unless an earlier test failed
    await publish(WAIT, 1); // sleeps 10 minutes
    await bus.clock.whenPending(before + 1);
    const asleep = bus.clock.now();
    await bus.clock.advance(30_000);
    const replaced = new Promise((resolve) => rt.once('trace', resolve));
    await publish(WAIT, 2); // restarts: the first run and its sleep end, the second sleeps a minute
    await replaced;
    await bus.clock.whenPending(before + 1); // the second run sleeps
    await bus.clock.advance(60_000);
    await rt.idle();
    expect(bus.commands).toEqual([{ entity_id: FAN, value: 2 }]);
    expect(bus.clock.pendingCount).toBe(0); // nothing left of the first run's 10 minutes
    expect(rt.traces.of('waits')).toMatchObject([
      {
        result: 'aborted',
        error: 'restarted by a new trigger (mode restart)',
        trigger: { value: 1 },
        actions: [],
      },
      {
        result: 'ok',
        trigger: { value: 2 },
        actions: [{ kind: 'command', entity_id: FAN, value: 2, ts: asleep + 90_000, reply: { ok: true } }],
      },
    ]);
  });

  // last: it stops the runtime
  it('a run asleep when the runtime stops ends aborted with the reason, and never commands', async () => {
    bus.commands.length = 0;
    const before = bus.clock.pendingCount; // 0 unless an earlier test failed
    await publish(NAP, 1);
    await bus.clock.whenPending(before + 1); // the run sleeps
    await bus.stopRuntime(rt);
    expect(bus.clock.pendingCount).toBe(0);
    await bus.clock.advance(2 * 60_000);
    expect(bus.commands).toEqual([]);
    expect(rt.traces.of('napper')).toMatchObject([
      { result: 'aborted', error: 'the runtime is stopping', actions: [] },
    ]);
  });
});

describe('the credential decides', () => {
  it('a command the runtime credential does not allow is refused by the server and shown in the trace', async () => {
    const store = await mkdtemp(join(tmpdir(), 'sentinel-automations-auth-'));
    const conf = join(store, 'nats.conf');
    // the automations role in small: may command the fan only
    await writeFile(
      conf,
      `jetstream { store_dir: "${store}" }
authorization { users = [
  { user: admin, password: admin }
  { user: runtime, password: runtime, permissions: {
      publish: { allow: ["sentinel.cmd.${FAN}", "sentinel.automations.trace.>", "$JS.API.>", "$KV.sentinel_automations.>"] }
      subscribe: { allow: ["sentinel.state.>", "sentinel.entity.*.availability", "_INBOX.>"] } } }
] }
`,
    );
    const server = await spawnNatsServer(['-c', conf, '-a', '127.0.0.1', '-p', '-1']);
    const url = `nats://127.0.0.1:${server.port}`;
    const admin = await connect({ servers: url, user: 'admin', pass: 'admin' });
    const runtimeNc = await connect({ servers: url, user: 'runtime', pass: 'runtime' });
    let rt: AutomationRuntime | undefined;
    try {
      const kvm = new Kvm(admin);
      const entities = await kvm.create('sentinel_entities', { history: 1 });
      await kvm.create('sentinel_state', { history: 1 });
      await kvm.create('sentinel_automations', { history: 1 });
      for (const e of ENTITIES) await entities.put(e.id, JSON.stringify(e));
      const commands: string[] = [];
      admin.subscribe('sentinel.cmd.*', {
        callback: (_e, msg) => {
          commands.push(msg.subject);
          msg.respond(JSON.stringify({ ok: true }));
        },
      });
      await admin.flush();
      const files = join(store, 'automations');
      await (await import('node:fs/promises')).mkdir(files);
      await writeFile(
        join(files, 'both.ts'),
        onProbe('both', "await ctx.command('Heater', true); await ctx.command('Coop fan', true);"),
      );
      const clock = new ManualClock(START);
      rt = await AutomationRuntime.start({
        nc: runtimeNc,
        clock,
        commandTimeoutMs: 5000,
        connection: { servers: [url], user: 'runtime', pass: 'runtime' },
      });
      await rt.loadDirectory(files);
      const done = new Promise((resolve) => rt!.once('trace', resolve));
      admin.publish(`sentinel.state.${PROBE}`, JSON.stringify({ entity_id: PROBE, value: 1, ts: START }));
      await done;
      const trace = rt.traces.of('both')[0]!;
      expect(trace.result).toBe('ok');
      expect(trace.actions).toMatchObject([
        {
          kind: 'command',
          entity_id: HEATER,
          reply: { ok: false, error: { code: 'forbidden', message: expect.stringMatching(/permission/i) } },
        },
        { kind: 'command', entity_id: FAN, reply: { ok: true } },
      ]);
      expect(commands).toEqual([`sentinel.cmd.${FAN}`]);

      // workers that cannot connect with the credential they are given: each file says so, once
      const denied = await AutomationRuntime.start({
        nc: runtimeNc,
        clock,
        connection: { servers: [url], user: 'runtime', pass: 'wrong' },
      });
      try {
        expect(await denied.loadDirectory(files)).toEqual([]);
        expect(denied.traces.of('both')).toMatchObject([
          {
            result: 'load_error',
            error: expect.stringMatching(/^its sandbox worker did not start: .*authorization/i),
          },
        ]);
      } finally {
        await denied.stop();
      }
    } finally {
      await rt?.stop();
      await runtimeNc.close();
      await admin.close();
      await server.stop();
      await rm(store, { recursive: true, force: true });
    }
  });
});
