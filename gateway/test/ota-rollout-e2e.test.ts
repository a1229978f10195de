// Rollouts end to end: a real `sentinel gateway` process on a real nats-server, simulated
// pickets that download, reboot and confirm (simulators/src/picket/ota.ts), and the
// `sentinel ota` CLI writing its requests into the bucket the `ota` leader answers from.
import { rm } from 'node:fs/promises';
import type { NatsConnection } from '@nats-io/transport-node';
import { openGatewayStore } from '@sentinel/gateway/store';
import { PicketDevice, type PicketDeviceOptions, waitForEvent } from '@sentinel/simulators';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectTestBus, kvValue } from '../../test/support/bus.js';
import { runCli } from '../../test/support/cli.js';
import { type ClusterNode, startClusterNode } from '../../test/support/cluster.js';
import { startNats, type TestNats } from '../../test/support/nats.js';
import type { Rollout } from '../src/ota/rollout/schema.js';
import { addToCatalog, appImage, dataDirForTest, OLD_VERSION } from './ota-support.js';

let nats: TestNats;
let nc: NatsConnection;
let node: ClusterNode;
let dataDir: string;
const sims = new Map<string, PicketDevice>();
/** every OTA event of every device, in order */
const events: Array<{ kind: string; start?: number; device: string; at: number }> = [];
type PicketOtaOptions = NonNullable<PicketDeviceOptions['ota']>;

beforeAll(async () => {
  nats = await startNats();
  nc = await connectTestBus(nats.url);
  dataDir = await dataDirForTest();
  node = await startClusterNode(nats.url, 'ota-a', undefined, dataDir);
  await addToCatalog(dataDir, appImage('1.5.0'));
  await addToCatalog(dataDir, appImage('1.6.0'));
  await addToCatalog(dataDir, appImage('1.3.0'));
}, 30_000);

afterAll(async () => {
  await Promise.all([...sims.values()].map((d) => d.stop()));
  await node?.stop();
  await nc?.close();
  await nats?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

/** Registered, connected devices on OLD_VERSION, their hello registered. */
async function devices(ids: string[], ota: PicketOtaOptions = {}): Promise<PicketDevice[]> {
  const store = await openGatewayStore({ natsUrl: nats.url });
  try {
    return await Promise.all(
      ids.map(async (id) => {
        const { token } = await store.addDevice(id);
        const sim = new PicketDevice({
          id,
          token,
          gateway: node.mqttUrl,
          intervalMs: 60_000,
          hello: { fw: OLD_VERSION },
          backoff: { initialMs: 20, maxMs: 200 },
          ota: { rebootMs: 20, ...ota },
        });
        sim.on('ota', (event) => events.push({ ...event, device: id, at: performance.now() }));
        sims.set(id, sim);
        const acked = waitForEvent(sim, 'acked', { timeoutMs: 15_000 });
        sim.start();
        await acked;
        return sim;
      }),
    );
  } finally {
    await store.close();
  }
}

const ota = (...args: string[]) => runCli(['ota', ...args, '--nats', nats.url]);
const rolloutWhere = (predicate: (r: Rollout) => boolean, timeoutMs = 30_000) =>
  kvValue<Rollout>(nc, 'sentinel_ota', 'rollout', predicate, timeoutMs);
const downloadsOf = (id: string) => events.filter((e) => e.device === id && e.kind === 'download');

describe('a rollout across 20 devices', () => {
  it('updates the canary first, then the batches; every device ends on the new version, confirmed', async () => {
    const ids = Array.from({ length: 20 }, (_, i) => `roll-${String(i).padStart(2, '0')}`);
    const sims = await devices(ids);
    const started = await ota(
      'rollout',
      '1.5.0',
      '--devices',
      ids.join(','),
      '--canary',
      '2',
      '--batch',
      '9',
    );
    expect(started.stderr).toBe('');
    expect(started.code).toBe(0);
    expect(JSON.parse(started.stdout)).toMatchObject({
      version: '1.5.0',
      status: 'running',
      stage: 'canary (1/3)',
    });

    const done = await rolloutWhere((r) => r.status !== 'running', 60_000);
    expect(done.status).toBe('completed');
    expect(done.stages.map((s) => s.length)).toEqual([2, 9, 9]);
    for (const sim of sims) {
      expect(sim.hello.fw).toBe('1.5.0');
      expect(sim.ota).toEqual({ slot: 1, version: '1.5.0', pending: undefined });
    }
    expect(Object.values(done.devices).every((d) => d.state === 'confirmed')).toBe(true);
    // no batch device started downloading before both canaries were confirmed
    const canaryConfirmed = Math.max(
      ...done.stages[0]!.map((id) => events.find((e) => e.device === id && e.kind === 'confirmed')!.at),
    );
    const batchStart = Math.min(...done.stages[1]!.map((id) => downloadsOf(id)[0]!.at));
    expect(batchStart).toBeGreaterThan(canaryConfirmed);

    const status = await ota('status');
    expect(JSON.parse(status.stdout)).toMatchObject({ status: 'completed', devices: { confirmed: 20 } });
    // a second rollout of the same version offers nothing: every device runs it already
    const again = await ota('rollout', '1.5.0', '--devices', ids.join(','));
    expect(JSON.parse(again.stdout)).toMatchObject({ status: 'completed', devices: { skipped: 20 } });
    expect(events.filter((e) => e.kind === 'download' && e.start === 0)).toHaveLength(20);
  }, 90_000);
});

describe('bad input', () => {
  it('unknown devices, a version not in the catalog, a downgrade: refused, named, nothing offered', async () => {
    const before = events.length;
    // each is refused on its own, so they are asked at once (a CLI start is slow on a busy machine)
    const [unknown, missing, down, usage] = await Promise.all([
      ota('rollout', '1.6.0', '--devices', 'roll-00,ghost-1'),
      ota('rollout', '7.0.0', '--devices', 'roll-00'),
      ota('rollout', '1.3.0', '--devices', 'roll-00,roll-01'),
      ota('rollout', '1.6.0', '--devices', 'Bad Id'),
    ]);
    expect(unknown!.code).toBe(1);
    expect(unknown!.stderr).toContain('refused (unknown_devices): unknown device: ghost-1');
    expect(missing!.stderr).toContain(
      'refused (not_in_catalog): version 7.0.0 is not in the firmware catalog',
    );
    expect(down!.stderr).toContain(
      'refused (downgrade): 1.3.0 is older than what roll-00 (1.5.0), roll-01 (1.5.0) run; pass --allow-downgrade',
    );
    expect(usage!.code).toBe(2);
    expect(events.length).toBe(before);
    expect(JSON.parse((await ota('status')).stdout)).toMatchObject({ version: '1.5.0', status: 'completed' });
  });
});

describe('a device that does not come back', () => {
  it('is rolled back, and the rollout pauses naming it; the next devices are not offered', async () => {
    const [silent, ...rest] = await devices(['quiet-0', 'quiet-1', 'quiet-2'], { confirmWindowMs: 3500 });
    silent!.injectOtaFault({ kind: 'never-reconnects' });
    // listening from the start: the device's confirm window can run out while the CLI below runs
    const rolledBack = waitForEvent(silent!, 'ota', {
      filter: (e) => e.kind === 'rolled-back',
      timeoutMs: 30_000,
    });
    const result = await ota('rollout', '1.6.0', '--devices', 'quiet-0,quiet-1,quiet-2', '--deadline', '2s');
    expect(result.code).toBe(0);
    const paused = await rolloutWhere((r) => r.status !== 'running');
    expect(paused).toMatchObject({ status: 'paused', paused_device: 'quiet-0' });
    expect(paused.paused_reason).toBe('quiet-0 did not come back on 1.6.0 within the deadline (2s)');
    const status = await ota('status');
    expect(JSON.parse(status.stdout)).toMatchObject({ status: 'paused', paused_device: 'quiet-0' });
    // the device gives up on the image it could not confirm and boots the old one
    await rolledBack;
    expect(silent!.ota).toMatchObject({ slot: 0, version: OLD_VERSION });
    for (const sim of rest) {
      expect(downloadsOf(sim.id)).toEqual([]);
      expect(sim.hello.fw).toBe(OLD_VERSION);
    }
    const aborted = await ota('abort');
    expect(JSON.parse(aborted.stdout)).toMatchObject({ status: 'aborted' });
  }, 60_000);
});

describe('a gateway killed mid-rollout', () => {
  it('resumes the rollout where it was once restarted; updated devices are not offered again', async () => {
    const ids = Array.from({ length: 6 }, (_, i) => `crash-${i}`);
    const sims = await devices(ids);
    await ota('rollout', '1.6.0', '--devices', ids.join(','), '--canary', '1', '--batch', '2');
    // the canary is done and a device of the first batch is back on the new image, its
    // confirm under way: a report lost with the gateway is never sent again
    await rolloutWhere((r) => r.stage >= 1 && r.stages[1]!.some((id) => r.devices[id]!.state === 'booted'));
    await node.kill();
    node = await node.restart();
    const done = await rolloutWhere((r) => r.status !== 'running', 30_000);
    expect(done.status).toBe('completed');
    for (const sim of sims) expect(sim.hello.fw).toBe('1.6.0');
    // the canary was updated before the crash: one download, never offered again
    expect(downloadsOf(done.stages[0]![0]!)).toHaveLength(1);
    expect(Object.values(done.devices).every((d) => d.state === 'confirmed')).toBe(true);
  }, 90_000);
});
