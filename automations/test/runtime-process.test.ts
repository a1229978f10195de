import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { collect, connectTestBus, kvValue } from '../../test/support/bus.js';
import { killStrays, runCli, startAutomationsRuntime } from '../../test/support/cli.js';
import { startNats, type TestNats } from '../../test/support/nats.js';

const CHAMBER = '0190a000-0000-7000-8000-000000000001';
const FAN = '0190a000-0000-7000-8000-000000000002';
const FOR_MS = 2500;
const LOCK_TTL_MS = 1500;

let nats: TestNats;
let nc: NatsConnection;
let dir: string;
let commands: Awaited<ReturnType<typeof collect<{ value: unknown; at: number }>>>;

beforeEach(async () => {
  nats = await startNats();
  nc = await connectTestBus(nats.url);
  const kvm = new Kvm(nc);
  const entities = await kvm.create('sentinel_entities', { history: 1 });
  await kvm.create('sentinel_state', { history: 1 });
  await kvm.create('sentinel_automations', { history: 1 });
  // the gateway makes this bucket with the lease as its max_age
  await kvm.create('sentinel_locks', { history: 1, ttl: LOCK_TTL_MS });
  await entities.put(CHAMBER, JSON.stringify({ id: CHAMBER, name: 'Smoker chamber', platform: 'sensor' }));
  await entities.put(FAN, JSON.stringify({ id: FAN, name: 'Coop fan', platform: 'switch' }));
  // the gateway's command routing, reduced to: reply ok and tell the test when
  nc.subscribe('sentinel.cmd.*', {
    callback: (_e, msg) => {
      msg.respond(JSON.stringify({ ok: true }));
      nc.publish('test.commands', JSON.stringify({ ...msg.json<object>(), at: Date.now() }));
    },
  });
  commands = await collect(nc, 'test.commands');
  dir = await mkdtemp(join(tmpdir(), 'sentinel-automations-proc-'));
  await writeFile(
    join(dir, 'too-hot.ts'),
    `import { defineAutomation } from '@sentinel/automations';
export default defineAutomation({
  id: 'too-hot',
  triggers: [{ kind: 'threshold', entity: 'Smoker chamber', above: 120, for: ${FOR_MS} }],
  run: (ctx) => ctx.command('Coop fan', true),
});
`,
  );
});

afterEach(async () => {
  killStrays();
  await nc.close();
  await nats.stop();
  await rm(dir, { recursive: true, force: true });
});

const startRuntime = (nodeId: string) =>
  startAutomationsRuntime([dir, '--nats', nats.url, '--node-id', nodeId, '--lock-ttl', String(LOCK_TTL_MS)]);

async function reading(value: number): Promise<void> {
  const message = JSON.stringify({ entity_id: CHAMBER, value, ts: Date.now() });
  await (await new Kvm(nc).open('sentinel_state')).put(CHAMBER, message);
  nc.publish(`sentinel.state.${CHAMBER}`, message);
}

/** the threshold's durable state once the `for` has begun: when it began */
const pendingSince = async () =>
  (
    await kvValue<{ pending_since?: number }>(
      nc,
      'sentinel_automations',
      'too-hot.trigger.0',
      (s) => !!s.pending_since,
    )
  ).pending_since!;

/** the run's trace once the runtime has written it to KV (in the background, within a second) */
const storedRun = () =>
  kvValue<{ result: string }[]>(nc, 'sentinel_automations', 'too-hot.traces', (traces) =>
    traces.some((t) => t.result === 'ok'),
  );

it('a pending for survives a restart of the runtime process and fires at its original end', async () => {
  const first = startRuntime('one');
  await first.running;
  await reading(100);
  await reading(125);
  const since = await pendingSince();
  first.child.kill('SIGTERM');
  await once(first.child, 'exit');

  const second = startRuntime('one');
  const readyAt = await second.running;
  const fired = await commands.next();
  expect(fired.value).toBe(true);
  // at the end of the `for` that began before the restart, not a fresh one from the new start
  expect(fired.at).toBeGreaterThanOrEqual(since + FOR_MS - 50);
  expect(fired.at).toBeLessThan(readyAt + FOR_MS);

  await storedRun();
  const trace = await runCli(['automations', 'trace', 'too-hot', '--nats', nats.url]);
  expect(trace.code, trace.stderr).toBe(0);
  expect(trace.stdout).toMatch(/too-hot-\d+ ok/);
  expect(trace.stdout).toContain(`command ${FAN} true → ok`);
  expect(commands.received).toHaveLength(1);
}, 30_000);

it('two runtimes: one executes; SIGKILL moves execution to the other with the pending for resumed', async () => {
  const a = startRuntime('a');
  await a.running;
  const b = startRuntime('b');
  await b.standby;
  await reading(125);
  const since = await pendingSince();
  a.child.kill('SIGKILL');
  const takeover = await b.running;
  const fired = await commands.next();
  expect(fired.at).toBeGreaterThanOrEqual(since + FOR_MS - 50);
  // resumed: a fresh `for` would have ended FOR_MS after the takeover
  expect(fired.at).toBeLessThan(takeover + FOR_MS);
  await storedRun();
  const trace = await runCli(['automations', 'trace', 'too-hot', '--nats', nats.url, '--json']);
  const runs = trace.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { result: string });
  expect(runs.filter((r) => r.result === 'ok')).toHaveLength(1);
  expect(commands.received).toHaveLength(1);
}, 30_000);
