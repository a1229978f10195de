// A gateway that crashed leaves its devices marked online in KV. When it comes
// back, those that do not reconnect within the grace period are marked offline;
// those that do stay online, and devices another node holds are left alone.
import { Kvm } from '@nats-io/kv';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { collect, connectTestBus, kvValue } from '../../test/support/bus.js';
import { startTestGateway, type TestGateway } from '../../test/support/gateway.js';
import { startNats, type TestNats } from '../../test/support/nats.js';
import { connectDevice } from '../../test/support/picket.js';

let nats: TestNats;
let gateway: TestGateway | undefined;

beforeAll(async () => {
  nats = await startNats();
});
afterAll(async () => {
  await gateway?.stop();
  await nats?.stop();
});

it('marks the devices it held offline when they do not come back within the grace period', async () => {
  // what a crashed node 'test' left behind: three devices it held, one another node holds
  const first = await startTestGateway(nats);
  const token = await first.addDevice('comes-back');
  await first.stop();
  const bus = await connectTestBus(nats.url);
  const devices = await new Kvm(bus).open('sentinel_devices');
  const record = (id: string, node: string) =>
    JSON.stringify({ id, protocol: 'picket', name: id, online: true, last_seen: 1, node_id: node });
  await devices.put('picket-gone', record('picket-gone', 'test'));
  await devices.put('picket-comes-back', record('picket-comes-back', 'test'));
  await devices.put('picket-elsewhere', record('picket-elsewhere', 'other-node'));
  const availability = await collect<{ device_id: string; online: boolean }>(
    bus,
    'sentinel.device.*.availability',
  );

  gateway = await startTestGateway(nats, { reconnectGraceMs: 1500 });
  const client = await connectDevice(gateway, 'comes-back', token);
  expect(await availability.next((a) => a.device_id === 'picket-gone')).toMatchObject({ online: false });
  expect(
    await kvValue<{ online: boolean }>(bus, 'sentinel_devices', 'picket-gone', (d) => !d.online),
  ).toBeDefined();
  expect((await devices.get('picket-comes-back'))?.json<{ online: boolean }>().online).toBe(true);
  expect((await devices.get('picket-elsewhere'))?.json<{ online: boolean }>().online).toBe(true);
  expect(availability.received.filter((a) => !a.online).map((a) => a.device_id)).toEqual(['picket-gone']);
  await client.endAsync();
  await bus.close();
});
