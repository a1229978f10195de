// Trigger state written under the `automations` lease (leaseFence, as `sentinel
// automations run` wires it): a leader that lost its lease without noticing yet (frozen,
// cut off) and still runs cannot overwrite what its successor wrote, and so does not
// fire a second time for a crossing the successor already handled.
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { AutomationRuntime, defineAutomation } from '@sentinel/automations';
import { type LeaderHandle, type LeaderLease, runWhileLeader } from '@sentinel/gateway';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { connectTestBus, kvValue } from '../../../test/support/bus.js';
import { startNats, type TestNats } from '../../../test/support/nats.js';
import { leaseFence } from '../src/commands/automations.js';

const PROBE = '0190d000-0000-7000-8000-000000000001';
const FAN = '0190d000-0000-7000-8000-000000000002';
// long enough that the deposed leader does not notice during the test, as a frozen one would not
const TTL_MS = 30_000;

let nats: TestNats;
let admin: NatsConnection;
const closing: (() => Promise<unknown>)[] = [];
const commands: string[] = [];

beforeEach(async () => {
  nats = await startNats();
  admin = await connectTestBus(nats.url);
  const kvm = new Kvm(admin);
  const entities = await kvm.create('sentinel_entities', { history: 1 });
  await kvm.create('sentinel_state', { history: 1 });
  await kvm.create('sentinel_automations', { history: 1 });
  await kvm.create('sentinel_locks', { history: 1, ttl: TTL_MS });
  await entities.put(PROBE, JSON.stringify({ id: PROBE, name: 'Probe', platform: 'sensor' }));
  await entities.put(FAN, JSON.stringify({ id: FAN, name: 'Fan', platform: 'switch' }));
  commands.length = 0;
  admin.subscribe('sentinel.cmd.*', {
    callback: (_e, msg) => {
      commands.push(msg.subject);
      msg.respond('{"ok":true}');
    },
  });
  await admin.flush();
});

afterEach(async () => {
  for (const close of closing.splice(0).reverse()) await close();
  await admin.close();
  await nats.stop();
});

/** A node: its own connection, the lease once it leads, and a runtime fenced by that lease. */
async function node(nodeId: string) {
  const nc = await connectTestBus(nats.url);
  const locks = await new Kvm(nc).open('sentinel_locks');
  let handle: LeaderHandle | undefined;
  const lease = await new Promise<LeaderLease>((resolve) => {
    handle = runWhileLeader(
      { kv: { locks } },
      { subsystem: 'automations', nodeId, ttlMs: TTL_MS, heartbeatMs: 10_000 },
      async (l) => {
        resolve(l);
        return { stop: async () => {} };
      },
    );
  });
  const runtime = await AutomationRuntime.start({ nc, fence: leaseFence(locks, lease) });
  closing.push(
    () => nc.close(),
    () => handle!.stop(),
    () => runtime.stop(),
  );
  await runtime.add(
    defineAutomation({
      id: 'too-hot',
      triggers: [{ kind: 'threshold', entity: PROBE, above: 120, hysteresis: 5 }],
      run: (ctx) => ctx.command(FAN, true).then(() => undefined),
    }),
  );
  return { runtime, lease };
}

/** publishes a reading and resolves once every runtime has evaluated it and finished its runs */
async function reading(runtimes: AutomationRuntime[], value: number): Promise<void> {
  const ts = Date.now();
  const seen = runtimes.map(
    (rt) =>
      new Promise<void>((resolve) => {
        const listener = (m: { ts: number; value: unknown }) => {
          if (m.ts === ts && m.value === value) {
            rt.off('state', listener);
            resolve();
          }
        };
        rt.on('state', listener);
      }),
  );
  admin.publish(`sentinel.state.${PROBE}`, JSON.stringify({ entity_id: PROBE, value, ts }));
  await Promise.all(seen);
  await Promise.all(runtimes.map((rt) => rt.idle()));
}

it('a deposed leader still running can neither overwrite its successor’s trigger state nor fire again', async () => {
  const a = await node('a');
  await reading([a.runtime], 125);
  expect(commands).toHaveLength(1);
  await kvValue<{ armed: boolean }>(admin, 'sentinel_automations', 'too-hot.trigger.0', (s) => !s.armed);

  // a's lease expires (as when a is frozen); b takes over while a still runs, unaware
  await (await new Kvm(admin).open('sentinel_locks')).delete('automations');
  const b = await node('b');
  expect(b.lease.revision).toBeGreaterThan(a.lease.revision);

  await reading([a.runtime, b.runtime], 100); // below the band: re-arms
  await reading([a.runtime, b.runtime], 125); // crosses again: b alone handles it
  expect(commands).toHaveLength(2);
  const state = await kvValue<{ armed: boolean; fence: Record<string, number> }>(
    admin,
    'sentinel_automations',
    'too-hot.trigger.0',
  );
  expect(state).toEqual({ armed: false, fence: { automations: b.lease.revision } });
  const refused = a.runtime.traces.of('too-hot').filter((t) => t.result === 'error');
  expect(refused.length).toBeGreaterThan(0);
  for (const t of refused)
    expect(t.error).toMatch(
      /^trigger failed: (too-hot\.trigger\.0 was written by a newer automations leader|the automations lock is no longer held by this lease)/,
    );
}, 30_000);
