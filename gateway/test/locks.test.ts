// Leader locks against a real nats-server (Debian's 2.9: no per-key TTL, no event
// on expiry): acquire, renew, release, expiry, a late renew refused, fenced writes.
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectTestBus } from '../../test/support/bus.js';
import { startNats, type TestNats } from '../../test/support/nats.js';
import { type Bus, openBus } from '../src/bus/bus.js';
import {
  ensureLockTtl,
  fencedUpdate,
  type LeaderHandle,
  type LeaderLease,
  type LeaseEndedError,
  LockConfigError,
  lockTimings,
  runWhileLeader,
  StaleLeaseError,
} from '../src/bus/locks.js';

let nats: TestNats;
const connections: NatsConnection[] = [];
const handles: LeaderHandle[] = [];
let bus: Bus;

const TTL = 3000;
const GRACE = 2000;

async function node(): Promise<Bus> {
  const nc = await connectTestBus(nats.url);
  connections.push(nc);
  return openBus(nc);
}

/** A subsystem that records its leases and can be awaited into (and out of) leadership. */
function subsystem() {
  const leases: LeaderLease[] = [];
  const stops: number[] = [];
  let onStart: (() => void) | undefined;
  return {
    leases,
    stops,
    started(): Promise<LeaderLease> {
      const count = leases.length;
      return new Promise((resolve) => {
        const check = () => {
          if (leases.length > count) resolve(leases.at(-1)!);
          else onStart = check;
        };
        check();
      });
    },
    start: async (lease: LeaderLease) => {
      leases.push(lease);
      onStart?.();
      return { stop: async () => void stops.push(Date.now()) };
    },
  };
}

function lead(b: Bus, nodeId: string, sub: ReturnType<typeof subsystem>, options = {}) {
  const handle = runWhileLeader(
    b,
    { subsystem: 'registry', nodeId, ttlMs: TTL, heartbeatMs: 500, graceMs: GRACE, ...options },
    sub.start,
  );
  handles.push(handle);
  return handle;
}

const aborted = (signal: AbortSignal) =>
  new Promise<LeaseEndedError>((resolve) =>
    signal.aborted
      ? resolve(signal.reason as LeaseEndedError)
      : signal.addEventListener('abort', () => resolve(signal.reason as LeaseEndedError)),
  );

beforeAll(async () => {
  nats = await startNats();
  bus = await node();
  await ensureLockTtl(bus.jsm, 'sentinel_locks', TTL);
});

afterEach(async () => {
  await Promise.all(handles.splice(0).map((h) => h.stop()));
  await bus.kv.locks.purge('registry');
});

afterAll(async () => {
  for (const nc of connections) await nc.close();
  await nats?.stop();
});

describe('leader locks', () => {
  it('gives the lease to one node; the other stands by and knows who leads', async () => {
    const [a, b] = [subsystem(), subsystem()];
    const first = lead(await node(), 'node-a', a);
    const lease = await a.started();
    expect(lease).toMatchObject({ subsystem: 'registry', nodeId: 'node-a' });
    expect(lease.revision).toBeGreaterThan(0);
    const second = lead(await node(), 'node-b', b);
    await until(() => second.holder?.node_id === 'node-a');
    expect(first.leader).toBe(true);
    expect(second.leader).toBe(false);
    expect(b.leases).toHaveLength(0);
    const record = (await bus.kv.locks.get('registry'))!.json<Record<string, unknown>>();
    expect(record).toMatchObject({ node_id: 'node-a', ttl_ms: TTL });
  });

  it('renews with a growing revision, and keeps the lease well past the TTL', async () => {
    const a = subsystem();
    const handle = lead(await node(), 'node-a', a);
    const lease = await a.started();
    const first = lease.revision;
    const watch = await bus.kv.locks.watch({ key: 'registry' });
    const renewals: number[] = [];
    // renewals over more than two TTLs: the lease never lapses while its holder lives
    const started = Date.now();
    for await (const entry of watch) {
      if (entry.operation === 'PUT') renewals.push(entry.revision);
      if (Date.now() - started > 2 * TTL) break;
    }
    watch.stop();
    expect(renewals.length).toBeGreaterThan(4);
    expect(lease.revision).toBeGreaterThan(first);
    expect(lease.signal.aborted).toBe(false);
    expect(handle.leader).toBe(true);
    expect(a.leases).toHaveLength(1);
  });

  it('hands over at once on release: the standby does not wait for the TTL', async () => {
    const [a, b] = [subsystem(), subsystem()];
    // a TTL far beyond the test's time: only the release can explain the takeover
    const first = lead(await node(), 'node-a', a, { ttlMs: 60_000, heartbeatMs: 5000, graceMs: 60_000 });
    const lease = await a.started();
    lead(await node(), 'node-b', b, { ttlMs: 60_000, heartbeatMs: 5000, graceMs: 60_000 });
    await until(() => handles[1]!.holder?.node_id === 'node-a');
    const stopped = first.stop();
    const reason = await aborted(lease.signal);
    expect(reason.reason).toBe('released');
    const next = await b.started();
    await stopped;
    expect(next.nodeId).toBe('node-b');
    expect(next.revision).toBeGreaterThan(lease.revision);
    // the subsystem was stopped before the lock was let go
    expect(a.stops).toHaveLength(1);
    expect((await bus.kv.locks.get('registry'))!.json()).toMatchObject({ node_id: 'node-b' });
  });

  it('after a crash, the lease expires and the standby takes over within TTL + grace; the cut-off leader steps down', async () => {
    const [a, b] = [subsystem(), subsystem()];
    const aBus = await node();
    lead(aBus, 'node-a', a);
    const lease = await a.started();
    lead(await node(), 'node-b', b);
    await until(() => handles[1]!.holder?.node_id === 'node-a');
    // node-a loses NATS: it cannot renew (nor release)
    const lastRenewal = (await bus.kv.locks.get('registry'))!;
    await aBus.nc.close();
    const [reason, next] = await Promise.all([aborted(lease.signal), b.started()]);
    expect(reason.reason).toBe('not_renewed');
    expect(next.nodeId).toBe('node-b');
    const takeover = (await bus.kv.locks.get('registry'))!;
    // measured on the server's clock: from node-a's last renewal to node-b's acquisition
    const gap = takeover.created.getTime() - lastRenewal.created.getTime();
    expect(gap).toBeGreaterThanOrEqual(TTL - 100);
    expect(gap).toBeLessThanOrEqual(TTL + GRACE);
    await until(() => a.stops.length === 1);
  });

  it("refuses a frozen leader's late renew: it learns it was taken over and stops", async () => {
    const [a, b] = [subsystem(), subsystem()];
    lead(await node(), 'node-a', a, { heartbeatMs: 1000 });
    const lease = await a.started();
    // what expiry would do while node-a is frozen: the key goes, node-b takes it
    await bus.kv.locks.purge('registry');
    lead(await node(), 'node-b', b);
    await b.started();
    const reason = await aborted(lease.signal);
    expect(reason.reason).toBe('taken_over');
    await until(() => a.stops.length === 1);
    expect((await bus.kv.locks.get('registry'))!.json()).toMatchObject({ node_id: 'node-b' });
    expect(handles[0]!.leader).toBe(false);
  });
});

describe('fenced writes', () => {
  it("accept the holder's writes and refuse a stale leader's, carrying the token into the record", async () => {
    const [a, b] = [subsystem(), subsystem()];
    // a heartbeat so long node-a will not notice its loss during the test: only fencing protects
    lead(await node(), 'node-a', a, { ttlMs: 60_000, heartbeatMs: 20_000, graceMs: 60_000 });
    const stale = await a.started();
    const devices = bus.kv.devices;
    await devices.purge('picket-fenced');
    await fencedUpdate(bus.kv.locks, stale, devices, 'picket-fenced', () => ({ online: true }));
    expect((await devices.get('picket-fenced'))!.json()).toEqual({
      online: true,
      fence: { registry: stale.revision },
    });

    await bus.kv.locks.purge('registry'); // node-a's lease lapses while it is frozen
    lead(await node(), 'node-b', b, { ttlMs: 60_000, heartbeatMs: 20_000, graceMs: 60_000 });
    const current = await b.started();
    expect(stale.signal.aborted).toBe(false); // node-a has not noticed yet

    const write = fencedUpdate(bus.kv.locks, stale, devices, 'picket-fenced', () => ({ online: false }));
    await expect(write).rejects.toBeInstanceOf(StaleLeaseError);
    await fencedUpdate(bus.kv.locks, current, devices, 'picket-fenced', (record) => ({
      ...record,
      online: false,
    }));
    expect((await devices.get('picket-fenced'))!.json()).toMatchObject({
      online: false,
      fence: { registry: current.revision },
    });
    // a record written under a higher token refuses a lower one even with the lock in hand
    const lower = { ...current, revision: stale.revision, leaseId: current.leaseId } as LeaderLease;
    await expect(
      fencedUpdate(bus.kv.locks, lower, devices, 'picket-fenced', () => ({ online: true })),
    ).rejects.toThrow(/newer registry leader/);
    expect((await devices.get('picket-fenced'))!.json()).toMatchObject({ online: false });
  });

  it('refuse once the lease signal is aborted', async () => {
    const a = subsystem();
    const handle = lead(await node(), 'node-a', a);
    const lease = await a.started();
    await handle.stop();
    await expect(
      fencedUpdate(bus.kv.locks, lease, bus.kv.devices, 'picket-after-stop', () => ({ x: 1 })),
    ).rejects.toBeInstanceOf(StaleLeaseError);
    expect(await bus.kv.devices.get('picket-after-stop')).toBeNull();
  });
});

describe('lock settings', () => {
  it('refuse a heartbeat that cannot renew in time, and bring the bucket to the TTL', async () => {
    expect(() => lockTimings({ ttlMs: 3000, heartbeatMs: 2000 })).toThrow(LockConfigError);
    expect(() => lockTimings({ ttlMs: 100 })).toThrow(LockConfigError);
    expect(lockTimings({})).toMatchObject({ ttlMs: 15_000, heartbeatMs: 5000, graceMs: 5000 });
    await ensureLockTtl(bus.jsm, 'sentinel_locks', 4000);
    expect((await bus.jsm.streams.info('KV_sentinel_locks')).config.max_age).toBe(4000 * 1e6);
    await ensureLockTtl(bus.jsm, 'sentinel_locks', TTL);
  });
});

/** Resolves once `condition` holds (checked on a short interval; a safety net, not timing). */
async function until(condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
