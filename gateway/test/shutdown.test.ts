// SIGTERM stops the gateway within the contract's 5 s (CONTRACT.md §2) whatever state
// its NATS is in: away (killed), unreachable (frozen with SIGSTOP, so requests hang
// instead of failing), and away for longer than the leader lease.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type CliGateway, killStrays, startLocalGateway } from '../../test/support/cli.js';
import { TEST_LOCKS } from '../../test/support/cluster.js';
import { type SpawnedNats, spawnNatsServer } from '../../test/support/nats.js';

const CONTRACT_STOP_MS = 5000;

let dir: string;
let nats: SpawnedNats | undefined;
let gateway: CliGateway | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sentinel-test-shutdown-'));
});
afterEach(async () => {
  await gateway?.stop();
  gateway = undefined;
  // a frozen server takes SIGKILL
  nats?.child.kill('SIGKILL');
  nats = undefined;
});
afterAll(async () => {
  killStrays();
  await rm(dir, { recursive: true, force: true });
});

async function start(name: string): Promise<CliGateway> {
  const store = join(dir, name);
  nats = await spawnNatsServer(['-js', '-a', '127.0.0.1', '-p', '-1', '-sd', join(store, 'nats')]);
  gateway = await startLocalGateway([
    '--nats',
    `nats://127.0.0.1:${nats.port}`,
    '--data',
    store,
    '--node-id',
    name,
    '--lock-ttl',
    String(TEST_LOCKS.ttlMs),
    '--lock-heartbeat',
    String(TEST_LOCKS.heartbeatMs),
    '--lock-grace',
    String(TEST_LOCKS.graceMs),
  ]);
  // leading its subsystems, so a stop has locks to release and a node record to remove
  await gateway.logged((l) => l.msg === 'became leader' && l.subsystem === 'registry');
  return gateway;
}

const message = (text: string) => (line: Record<string, unknown>) => line.msg === text;

async function stopTimed(gw: CliGateway, outage: string) {
  const stopped = await gw.stop();
  console.info(`gateway stop after ${outage}: ${stopped.ms} ms (exit ${stopped.code})`);
  return stopped;
}

describe('SIGTERM with NATS in trouble', () => {
  it('stops within 5 s right after its nats-server died', async () => {
    const gw = await start('killed');
    nats?.child.kill('SIGKILL');
    await gw.logged(message('NATS disconnected; reconnecting'));
    const stopped = await stopTimed(gw, 'NATS killed');
    expect(stopped.code).toBe(0);
    expect(stopped.ms).toBeLessThan(CONTRACT_STOP_MS);
  });

  it('stops within 5 s while its nats-server is frozen (requests hang, nothing fails fast)', async () => {
    const gw = await start('frozen');
    nats?.child.kill('SIGSTOP');
    // the lease renewal hangs until its request times out
    await gw.logged(message('lock renewal failed; retrying'));
    const stopped = await stopTimed(gw, 'NATS frozen');
    expect(stopped.code).toBe(0);
    expect(stopped.ms).toBeLessThan(CONTRACT_STOP_MS);
  });

  it('stops within 5 s once it gave a frozen nats-server up (its reconnect dial hangs too)', async () => {
    const gw = await start('frozen-long');
    nats?.child.kill('SIGSTOP');
    // unanswered pings: the client drops the connection and dials the frozen server again
    await gw.logged(message('NATS disconnected; reconnecting'));
    const stopped = await stopTimed(gw, 'NATS frozen until the client gave up on it');
    expect(stopped.code).toBe(0);
    expect(stopped.ms).toBeLessThan(CONTRACT_STOP_MS);
  }, 90_000);

  it('stops within 5 s after an outage longer than its leader lease', async () => {
    const gw = await start('long');
    nats?.child.kill('SIGKILL');
    await gw.logged(message('NATS disconnected; reconnecting'));
    // past TTL + grace: the lease is gone and the subsystems stepped down
    await gw.logged(message('lost leadership; stopping'));
    const stopped = await stopTimed(gw, 'a long NATS outage');
    expect(stopped.code).toBe(0);
    expect(stopped.ms).toBeLessThan(CONTRACT_STOP_MS);
  }, 60_000);
});
