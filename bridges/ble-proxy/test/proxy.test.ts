// The proxy on the simulated noble bindings and a real nats-server: batches,
// status, GATT with slot accounting and scan pausing, and survival of adapter
// resets, a pulled dongle, noble errors and NATS going away.
import type { NatsConnection } from '@nats-io/transport-node';
import { decodeAdvBatch, type ProxyStatus, parseAdStructures } from '@sentinel/protocol';
import { BleAir, bthomeV2, SimulatedBleSensor, SimulatedPeripheral } from '@sentinel/simulators';
import { afterEach, describe, expect, it } from 'vitest';
import { type SimulatedProxyOptions, startSimulatedProxy } from '../../../test/support/ble.js';
import { collect, connectTestBus } from '../../../test/support/bus.js';
import { startNats } from '../../../test/support/nats.js';

function world() {
  const peripheral = new SimulatedPeripheral([
    {
      uuid: '180f',
      characteristics: [{ uuid: '2a19', properties: ['read', 'notify'], value: Uint8Array.of(77) }],
    },
  ]);
  const sensors = [1, 2, 3, 4].map(
    (n) =>
      new SimulatedBleSensor({
        mac: `A4:C1:38:00:00:0${n}`,
        advertiseEveryMs: 20,
        measureEveryMs: 100,
        rssi: { p1: -40 - n },
        advertisement: (m) => bthomeV2(`A4:C1:38:00:00:0${n}`, { packetId: m & 0xff, temperature: 20 + n }),
        peripheral,
      }),
  );
  return { air: new BleAir(sensors), peripheral };
}

let cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

async function setUp(options: SimulatedProxyOptions = {}) {
  const nats = await startNats();
  cleanups.push(() => nats.stop());
  const { air, peripheral } = world();
  const bus = await connectTestBus(nats.url);
  cleanups.push(() => bus.close());
  // listening before the proxy starts: its first status counts too
  const statuses = await collect<ProxyStatus>(bus, 'sentinel.ble.proxy.p1.status');
  const { proxy, bindings, nc, stop } = await startSimulatedProxy(air, 'p1', nats.url, {
    resetMs: 30,
    statusIntervalMs: 200,
    backoffMs: 50,
    ...options,
  });
  cleanups.push(async () => {
    air.stop();
    await stop();
  });
  air.start();
  return { nats, air, peripheral, bindings, nc, proxy, bus, statuses };
}

const request = async (bus: NatsConnection, op: string, body: unknown) =>
  (await bus.request(`sentinel.ble.proxy.p1.gatt.${op}`, JSON.stringify(body), { timeout: 10_000 })).json<
    Record<string, unknown>
  >();

describe('BLE proxy', () => {
  it('publishes batches of raw advertisements that keep every byte, and a status heartbeat', async () => {
    const { bus, statuses } = await setUp({ batchMax: 5 });
    const batches: ReturnType<typeof decodeAdvBatch>[] = [];
    const sub = bus.subscribe('sentinel.ble.proxy.p1.adv', {
      callback: (_e, m) => {
        batches.push(decodeAdvBatch(m.data));
      },
    });
    await statuses.next((s) => s.adapter === 'poweredOn' && s.scanning === 'active' && s.advertisements > 20);
    sub.unsubscribe();
    expect(batches.length).toBeGreaterThan(0);
    for (const batch of batches) {
      if (!batch.ok) throw new Error('a batch did not decode');
      expect(batch.entries.length).toBeLessThanOrEqual(5);
      for (const entry of batch.entries) {
        expect(entry.mac).toMatch(/^a4c13800000[1-4]$/);
        const ad = parseAdStructures(entry.ad);
        expect(ad.serviceData[0]!.uuid).toBe('fcd2');
        expect([...ad.serviceData[0]!.data.subarray(0, 2)]).toEqual([0x40, 0x00]);
      }
    }
    // sequence numbers without gaps
    const seqs = batches.map((b) => (b.ok ? b.batch.seq : -1));
    expect(seqs).toEqual(seqs.map((_, i) => seqs[0]! + i));
    const status = statuses.received.at(-1)!;
    expect(status).toMatchObject({ v: 1, proxy: 'p1', gatt: { used: 0, total: 3 }, dropped: { buffer: 0 } });
    expect(status.rss_bytes).toBeGreaterThan(0);
  });

  it('serves GATT with slot accounting, and pauses scanning while it works', async () => {
    const { bus, bindings, statuses } = await setUp({ slots: 2 });
    await statuses.next((s) => s.scanning === 'active');
    const stopsBefore = bindings.stats.scanStops;
    const a = await request(bus, 'connect', { mac: 'A4:C1:38:00:00:01' });
    const b = await request(bus, 'connect', { mac: 'a4c138000002' });
    expect(a).toMatchObject({ ok: true, proxy: 'p1' });
    expect(b).toMatchObject({ ok: true });
    expect(bindings.stats.scanStops).toBeGreaterThan(stopsBefore);
    expect(await request(bus, 'connect', { mac: 'A4:C1:38:00:00:03' })).toMatchObject({
      ok: false,
      error: { code: 'busy' },
    });
    expect(
      await request(bus, 'read', { connection: a.connection, service: '180f', characteristic: '2a19' }),
    ).toEqual({
      ok: true,
      data: '4d',
    });
    expect(
      await request(bus, 'read', { connection: a.connection, service: '180f', characteristic: 'beef' }),
    ).toMatchObject({
      ok: false,
      error: { code: 'not_found' },
    });
    await statuses.next((s) => s.gatt.used === 2 && s.scanning === 'active');
    expect(await request(bus, 'disconnect', { connection: b.connection })).toEqual({ ok: true });
    expect(await request(bus, 'connect', { mac: 'A4:C1:38:00:00:03' })).toMatchObject({ ok: true });
    // bad requests
    expect(await request(bus, 'connect', { mac: 'nope' })).toMatchObject({
      ok: false,
      error: { code: 'invalid' },
    });
    expect(
      await request(bus, 'read', { connection: 'c99', service: '180f', characteristic: '2a19' }),
    ).toMatchObject({
      ok: false,
      error: { code: 'not_connected' },
    });
    expect(
      (await bus.request('sentinel.ble.proxy.p1.gatt.read', 'garbage', { timeout: 5000 })).json(),
    ).toMatchObject({
      ok: false,
      error: { code: 'invalid', message: 'request is not JSON' },
    });
  });

  it('survives adapter resets, a pulled dongle and noble errors, retrying with backoff', async () => {
    const { bindings, statuses, proxy } = await setUp();
    await statuses.next((s) => s.scanning === 'active');
    bindings.powerCycle();
    await statuses.next((s) => s.adapter !== 'poweredOn');
    const heard = proxy.heard;
    await statuses.next(
      (s) => s.adapter === 'poweredOn' && s.scanning === 'active' && s.advertisements > heard + 10,
    );
    // the dongle is pulled: the supervisor keeps resetting, further apart, until it is back
    bindings.unplug();
    await statuses.next((s) => s.adapter === 'poweredOff' && s.restarts >= 2);
    bindings.failScanStarts(2); // and the first scans after it fail in noble
    bindings.plugIn();
    const after = proxy.heard;
    await statuses.next(
      (s) => s.adapter === 'poweredOn' && s.scanning === 'active' && s.advertisements > after + 10,
    );
    expect(statuses.received.at(-1)!.errors).toBeGreaterThanOrEqual(2);
  });

  it('keeps a bounded buffer while NATS is away, counts what it dropped, and sends the rest when back', async () => {
    const { nats, proxy, statuses, bus } = await setUp({ bufferCapacity: 50 });
    await statuses.next((s) => s.scanning === 'active');
    // subscribed before the outage: the subscription comes back with the connection
    const back = await collect<ProxyStatus>(bus, 'sentinel.ble.proxy.p1.status');
    await nats.kill();
    // 4 sensors every 20 ms: the 50 slots fill and overflow within a second
    while (proxy.dropped === 0) await new Promise((r) => setTimeout(r, 50));
    expect(proxy.bufferDepth).toBeLessThanOrEqual(50);
    const dropped = proxy.dropped;
    await nats.restart();
    const status = await back.next((s) => s.dropped.buffer >= dropped, 20_000);
    expect(status.buffer.capacity).toBe(50);
    expect(status.buffer.depth).toBeLessThanOrEqual(50);
  });
});
