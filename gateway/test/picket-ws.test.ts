// The picket WebSocket endpoint: the same protocol as MQTT, one JSON object per
// frame, authenticated on the upgrade, with `ack` frames once readings are stored.
import { once } from 'node:events';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { collect, entityIdsOf, kvAll, kvValue } from '../../test/support/bus.js';
import { startStack, type TestGateway, type TestStack } from '../../test/support/gateway.js';
import { CONTRACT_HELLO } from '../../test/support/picket.js';

let stack: TestStack;
let gateway: TestGateway;
let bus: NatsConnection;

beforeAll(async () => {
  stack = await startStack({ maxMessageBytes: 2048 });
  ({ gateway, bus } = stack);
});

afterAll(async () => {
  await stack?.stop();
});

/** A WebSocket device whose frames from the gateway can be awaited in order. */
async function connect(id: string, token: string) {
  const ws = new WebSocket(`ws://127.0.0.1:${gateway.httpPort}/picket`, {
    headers: { authorization: `Bearer ${id}:${token}` },
  });
  const frames: Record<string, unknown>[] = [];
  const waiters: {
    match: (f: Record<string, unknown>) => boolean;
    resolve: (f: Record<string, unknown>) => void;
  }[] = [];
  ws.on('message', (data) => {
    const frame = JSON.parse(data.toString()) as Record<string, unknown>;
    frames.push(frame);
    for (const w of [...waiters])
      if (w.match(frame)) waiters.splice(waiters.indexOf(w), 1) && w.resolve(frame);
  });
  await once(ws, 'open');
  return {
    ws,
    frames,
    send: (frame: unknown) => ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame)),
    frame(match: (f: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
      const found = frames.find(match);
      return found ? Promise.resolve(found) : new Promise((resolve) => waiters.push({ match, resolve }));
    },
  };
}

const hello = {
  type: 'hello',
  v: 1,
  fw: '0.9.0',
  chip: 'esp32c3',
  name: 'Bedroom',
  entities: [
    { key: 'temperature', platform: 'sensor', unit: '°C' },
    { key: 'lamp', platform: 'switch' },
  ],
};

describe('picket over WebSocket', () => {
  it('refuses a missing, malformed or wrong Authorization with 401 before any socket exists', async () => {
    const token = await gateway.addDevice('ws-auth');
    for (const authorization of [
      undefined,
      'Basic abc',
      `Bearer ws-auth:${token}x`,
      `Bearer nobody:${token}`,
      'Bearer :',
    ]) {
      const ws = new WebSocket(
        `ws://127.0.0.1:${gateway.httpPort}/picket`,
        authorization ? { headers: { authorization } } : {},
      );
      const [, response] = (await once(ws, 'unexpected-response')) as [unknown, { statusCode: number }];
      expect(response.statusCode).toBe(401);
    }
    const metrics = await gateway.metricsText();
    expect(metrics).toMatch(/sentinel_device_auth_failures_total\{transport="ws"\} 5/);
  });

  it('registers entities from a hello frame, acks stored readings, and routes commands', async () => {
    const device = await connect('bedroom', await gateway.addDevice('bedroom'));
    device.send(hello);
    await kvValue(
      bus,
      'sentinel_devices',
      'picket-bedroom',
      (d: { sw_version?: string }) => d.sw_version === '0.9.0',
    );
    const entities = [
      ...(
        await kvAll<{ id: string; device_id: string; bindings: { key: string }[] }>(bus, 'sentinel_entities')
      ).values(),
    ].filter((e) => e.device_id === 'picket-bedroom');
    const id = (key: string) => entities.find((e) => e.bindings[0]!.key === key)!.id;

    const states = await collect<{ value: number }>(bus, `sentinel.state.${id('temperature')}`);
    device.send({ type: 'state', seq: 7, values: { temperature: 18.25 } });
    expect(await device.frame((f) => f.type === 'ack')).toEqual({ type: 'ack', seq: 7 });
    expect(states.received.map((s) => s.value)).toEqual([18.25]); // stored (and published) before the ack

    // a command arrives as a frame; the reply waits for the device's cmd_result
    const reply = bus.request(`sentinel.cmd.${id('lamp')}`, JSON.stringify({ value: true }), {
      timeout: 5000,
    });
    const command = await device.frame((f) => f.type === 'cmd');
    expect(command).toMatchObject({ type: 'cmd', key: 'lamp', value: true });
    device.send({ type: 'cmd_result', cid: command.cid, ok: true });
    expect((await reply).json()).toEqual({ ok: true });
    states.stop();
    device.ws.close();
  });

  it('answers bad frames with an error frame naming the reason, and keeps the connection', async () => {
    const device = await connect('ws-bad', await gateway.addDevice('ws-bad'));
    device.send(hello);
    device.send('not json');
    expect(await device.frame((f) => f.reason === 'malformed_json')).toMatchObject({ type: 'error' });
    device.send({ type: 'reboot' });
    expect(await device.frame((f) => f.reason === 'schema_invalid')).toMatchObject({
      message: expect.stringContaining('reboot'),
    });
    device.send({ type: 'state', seq: 3, values: {} });
    expect(await device.frame((f) => f.reason === 'schema_invalid' && f.seq === 3)).toBeDefined();
    device.send({ type: 'state', seq: 4, values: { temperature: 1 }, pad: 'x'.repeat(4000) });
    expect(await device.frame((f) => f.reason === 'oversized')).toBeDefined();
    device.send({ type: 'cmd_result', cid: 'never-sent', ok: true });
    expect(await device.frame((f) => f.reason === 'unknown_command_id')).toBeDefined();
    device.send({ type: 'state', seq: 5, values: { temperature: 2 } });
    expect(await device.frame((f) => f.type === 'ack')).toEqual({ type: 'ack', seq: 5 });
    // a refused value beside a good one: the device hears why, and may still forget the message
    device.send({ type: 'state', seq: 6, values: { temperature: 3, nope: 1 } });
    expect(await device.frame((f) => f.reason === 'unknown_entity_key' && f.seq === 6)).toBeDefined();
    expect(await device.frame((f) => f.type === 'ack' && f.seq === 6)).toBeDefined();
    // and a state that is not one at all is never acknowledged
    expect(device.frames.some((f) => f.type === 'ack' && f.seq === 3)).toBe(false);
    expect(device.ws.readyState).toBe(WebSocket.OPEN);
    device.ws.close();
  });

  it('closes a socket that sends a frame over 1 MiB (WebSocket 1009), and no other', async () => {
    const other = await connect('ws-other', await gateway.addDevice('ws-other'));
    const huge = await connect('ws-huge', await gateway.addDevice('ws-huge'));
    const closed = once(huge.ws, 'close');
    huge.send({ type: 'state', seq: 1, values: { t: 1 }, pad: 'x'.repeat(1024 * 1024 + 1) });
    const [code] = (await closed) as [number];
    expect(code).toBe(1009);
    other.send({ type: 'hello', ...CONTRACT_HELLO });
    other.send({ type: 'state', seq: 1, values: { temperature: 3 } });
    expect(await other.frame((f) => f.type === 'ack')).toEqual({ type: 'ack', seq: 1 });
    other.ws.close();
  });

  it("refuses a device confirming another device's command, which stays pending for its own device", async () => {
    const owner = await connect('ws-owner', await gateway.addDevice('ws-owner'));
    const meddler = await connect('ws-meddler', await gateway.addDevice('ws-meddler'));
    owner.send({ type: 'hello', ...CONTRACT_HELLO });
    await kvValue(
      bus,
      'sentinel_devices',
      'picket-ws-owner',
      (d: { sw_version?: string }) => d.sw_version === '1.4.0',
    );
    const { relay } = await entityIdsOf(bus, 'picket-ws-owner');
    const reply = bus.request(`sentinel.cmd.${relay}`, JSON.stringify({ value: true }), { timeout: 5000 });
    const command = await owner.frame((f) => f.type === 'cmd');
    meddler.send({ type: 'cmd_result', cid: command.cid, ok: false, error: 'hijacked' });
    expect(await meddler.frame((f) => f.reason === 'unknown_command_id')).toBeDefined();
    owner.send({ type: 'cmd_result', cid: command.cid, ok: true });
    expect((await reply).json()).toEqual({ ok: true });
    owner.ws.close();
    meddler.ws.close();
  });

  it('marks the device offline when the socket closes, and a second connection replaces the first', async () => {
    const token = await gateway.addDevice('ws-twice');
    const availability = await collect<{ online: boolean }>(
      bus,
      'sentinel.device.picket-ws-twice.availability',
    );
    const first = await connect('ws-twice', token);
    await availability.next((a) => a.online);
    first.send({ type: 'hello', ...CONTRACT_HELLO });
    await kvValue(
      bus,
      'sentinel_devices',
      'picket-ws-twice',
      (d: { sw_version?: string }) => d.sw_version === '1.4.0',
    );
    const { relay } = await entityIdsOf(bus, 'picket-ws-twice');
    const firstClosed = once(first.ws, 'close');
    const second = await connect('ws-twice', token);
    const [code] = (await firstClosed) as [number];
    expect(code).toBe(4000);
    // the replaced connection closing did not take the device offline: the new one is commanded
    const reply = bus.request(`sentinel.cmd.${relay}`, JSON.stringify({ value: true }), { timeout: 5000 });
    const command = await second.frame((f) => f.type === 'cmd');
    second.send({ type: 'cmd_result', cid: command.cid, ok: true });
    expect((await reply).json()).toEqual({ ok: true });
    expect(availability.received.map((a) => a.online)).toEqual([true]);
    second.ws.close();
    await availability.next((a) => !a.online);
    availability.stop();
  });
});
