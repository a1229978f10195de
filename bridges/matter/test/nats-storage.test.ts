// The controller's fabric and nodes in a NATS KV bucket (real nats-server): a controller
// started anew on the same bucket (a restart, or another gateway node) has every node and
// commands it without re-pairing; a corrupted record stops the start with its key and
// reason, and nothing in the bucket is overwritten.
import { Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type SimulatedMatterDevice,
  startSimulatedMatterDevice,
} from '../../../simulators/src/matter/index.js';
import { startNats, type TestNats } from '../../../test/support/nats.js';
import { decodeSegment, encodeSegment } from '../src/controller/nats-storage.js';
import { CorruptRecordError, MATTER_BUCKET, MatterController, natsStorage } from '../src/index.js';

describe('controller state in NATS KV', () => {
  let nats: TestNats;
  let nc: NatsConnection;
  let light: SimulatedMatterDevice;
  let kv: Awaited<ReturnType<Kvm['create']>>;

  beforeAll(async () => {
    [nats, light] = await Promise.all([
      startNats(),
      startSimulatedMatterDevice({ type: 'on-off-light', passcode: 20202061, discriminator: 1061 }),
    ]);
    nc = await connect({ servers: nats.url });
    kv = await new Kvm(nc).create(MATTER_BUCKET, { history: 5 });
  });

  afterAll(async () => {
    await light?.stop();
    await nc?.close();
    await nats?.stop();
  });

  const start = (log?: (m: string, d?: Record<string, unknown>) => void) => {
    const storage = natsStorage(kv, { log });
    return { storage, controller: MatterController.start({ storage, loopbackOnly: true }) };
  };

  it('encodes any key into KV key characters and back', () => {
    for (const text of ['fabric', 'a b/c:d.e', 'ü€', '=3D']) {
      expect(encodeSegment(text)).toMatch(/^[-_=A-Za-z0-9]+$/);
      expect(decodeSegment(encodeSegment(text))).toBe(text);
    }
  });

  it('a controller started again on the bucket has the node and commands it, no re-pairing', async () => {
    const first = start();
    const controller = await first.controller;
    const node = await controller.commission(light.manualPairingCode, { ip: '127.0.0.1', port: light.port });
    await controller.setWifiCredentials('default', {
      ssid: 'sentinel-home',
      credentials: 'a-wpa-passphrase',
    });
    // in a record of its own, beside the fabric's
    expect(await kv.get('sentinel-controller.sentinel.network.wifi')).not.toBeNull();
    await first.storage.flush();
    await controller.close();
    expect(first.storage.stats.written).toBeGreaterThan(10);

    const second = start();
    const again = await second.controller;
    try {
      expect(second.storage.stats.loaded).toBeGreaterThan(10);
      expect(again.fabricId).toBe(controller.fabricId);
      expect(again.nodes().map((n) => n.node_id)).toEqual([node.node_id]);
      expect(again.wifiSsid).toBe('sentinel-home');
      // reached at its last known address (there is no mDNS on loopback)
      await again.invoke(node.node_id, 1, 6, 'On', null);
      expect(await light.isOn()).toBe(true);
      expect(await light.fabricCount()).toBe(1);
    } finally {
      await again.close();
    }
  });

  it('stored Wi-Fi credentials that do not fit are ignored, left in the bucket, and the controller runs', async () => {
    const key = 'sentinel-controller.sentinel.network.wifi';
    const good = await kv.get(key);
    // a well-formed record (matter.js's JSON inside) whose SSID is empty
    const value = JSON.stringify({ default: { ssid: '', credentials: 'x' } });
    await kv.put(key, JSON.stringify({ v: 1, value }));
    const revision = (await kv.get(key))?.revision;
    const controller = await start().controller;
    try {
      expect(controller.wifiSsid).toBeUndefined();
      expect(controller.nodes()).toHaveLength(1);
      expect((await kv.get(key))?.revision).toBe(revision);
    } finally {
      await controller.close();
      await kv.put(key, good!.string());
    }
  });

  it('a corrupted record stops the start with its key and reason; nothing is overwritten', async () => {
    const keys: string[] = [];
    for await (const key of await kv.keys()) keys.push(key);
    // the fabric table itself: losing it would mean pairing everything again
    const victim = keys.find((k) => k.endsWith('.fabrics.fabrics')) as string;
    expect(victim).toBeDefined();
    const before = new Map<string, number>();
    for (const key of keys) before.set(key, (await kv.get(key))?.revision ?? 0);
    await kv.put(victim, '{"v":1,"value":');
    const corruptRevision = (await kv.get(victim))?.revision;

    const lines: Array<Record<string, unknown> | undefined> = [];
    const attempt = start((_message, data) => lines.push(data));
    const failure = await attempt.controller.then(
      () => undefined,
      (error: unknown) => error,
    );
    let cause: unknown = failure;
    while (cause !== undefined && !(cause instanceof CorruptRecordError)) cause = (cause as Error).cause;
    expect(cause).toBeInstanceOf(CorruptRecordError);
    expect(cause).toMatchObject({ key: victim, reason: 'not_json' });
    expect(attempt.storage.stats.corrupt.not_json).toBe(1);
    expect(lines).toContainEqual(expect.objectContaining({ key: victim, reason: 'not_json' }));
    // every record as it was: the corrupt one too, for the operator to restore from history
    expect((await kv.get(victim))?.revision).toBe(corruptRevision);
    for (const key of keys) if (key !== victim) expect((await kv.get(key))?.revision).toBe(before.get(key));
    // restored from the bucket's history, the controller starts with its node
    const history = await kv.history({ key: victim });
    const versions: string[] = [];
    for await (const entry of history) versions.push(entry.string());
    await kv.put(victim, versions[versions.length - 2] as string);
    const restored = await start().controller;
    expect(restored.nodes()).toHaveLength(1);
    expect((await restored.ping(restored.nodes()[0]?.node_id as bigint)) ?? {}).toEqual({
      '127.0.0.1': true,
    });
    await restored.close();
  });
});
