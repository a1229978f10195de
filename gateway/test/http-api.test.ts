// The HTTP side a person or a script uses: status, devices and entities with
// their latest state, commands, metrics, the web UI, and clear errors.
import type { NatsConnection } from '@nats-io/transport-node';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entityIdsOf } from '../../test/support/bus.js';
import { startStack, type TestGateway, type TestStack } from '../../test/support/gateway.js';
import { connectDevice } from '../../test/support/picket.js';

let stack: TestStack;
let gateway: TestGateway;
let bus: NatsConnection;
let device: MqttClient;
let ids: Record<string, string>;

const url = (path: string) => `http://127.0.0.1:${gateway.httpPort}${path}`;

beforeAll(async () => {
  stack = await startStack();
  ({ gateway, bus } = stack);
  const token = await gateway.addDevice('lounge');
  device = await connectDevice(gateway, 'lounge', token);
  await device.subscribeAsync('picket/lounge/cmd', { qos: 1 });
  device.on('message', (_topic, payload) => {
    const { cid } = JSON.parse(payload.toString());
    void device.publishAsync('picket/lounge/cmd/result', JSON.stringify({ cid, ok: true }), { qos: 1 });
  });
  const hello = {
    v: 1,
    fw: '3.1.0',
    chip: 'esp32',
    name: 'Lounge',
    entities: [
      { key: 'temperature', platform: 'sensor', unit: '°C' },
      { key: 'lamp', platform: 'switch' },
    ],
  };
  await device.publishAsync('picket/lounge/hello', JSON.stringify(hello), { qos: 1 });
  await device.publishAsync(
    'picket/lounge/state',
    JSON.stringify({ seq: 1, values: { temperature: 22.5 } }),
    { qos: 1 },
  );
  ids = await entityIdsOf(bus, 'picket-lounge');
});

afterAll(async () => {
  await device?.endAsync();
  await stack?.stop();
});

describe('HTTP API', () => {
  it('reports status, devices and entities with their latest state', async () => {
    expect(await (await fetch(url('/status'))).json()).toMatchObject({
      node_id: 'test',
      devices_online: 1,
      entities: 2,
    });
    const devices = (await (await fetch(url('/api/devices'))).json()) as { id: string; online: boolean }[];
    expect(devices).toEqual([
      expect.objectContaining({ id: 'picket-lounge', name: 'Lounge', online: true, sw_version: '3.1.0' }),
    ]);
    const entities = (await (await fetch(url('/api/entities'))).json()) as {
      id: string;
      state: { value: unknown } | null;
    }[];
    expect(entities.find((e) => e.id === ids.temperature)?.state).toMatchObject({
      value: 22.5,
      available: true,
    });
    expect(entities.find((e) => e.id === ids.lamp)?.state).toBeNull();
  });

  it('commands an entity and answers with the contract reply', async () => {
    const ok = await fetch(url(`/api/entities/${ids.lamp}/command`), {
      method: 'POST',
      body: '{"value":true}',
    });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ ok: true });
    const refused = await fetch(url(`/api/entities/${ids.temperature}/command`), {
      method: 'POST',
      body: '{"value":1}',
    });
    expect(refused.status).toBe(422);
    expect(await refused.json()).toMatchObject({ ok: false, error: { code: 'not_supported' } });
    const tooBig = await fetch(url(`/api/entities/${ids.lamp}/command`), {
      method: 'POST',
      body: 'x'.repeat(20_000),
    });
    expect(tooBig.status).toBe(413);
  });

  it('serves Prometheus metrics and the web UI, and says so when a page does not exist', async () => {
    const metrics = await fetch(url('/metrics'));
    expect(metrics.headers.get('content-type')).toContain('text/plain');
    expect(await metrics.text()).toMatch(/sentinel_readings_total\{protocol="picket",qos="1"\} 1/);
    const page = await fetch(url('/'));
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(await page.text()).toContain('<title>Sentinel Edge</title>');
    const missing = await fetch(url('/nope'));
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: 'no such page: /nope' });
    expect((await fetch(url('/status'), { method: 'DELETE' })).status).toBe(405);
  });
});
