// The simulated Home Assistant spoken to frame by frame with a bare `ws` client: the
// auth phase, result codes, the compressed subscribe_entities updates, services that
// change entities, coalescing. (Home Assistant's own client drives it in
// gateway/test/ha-import.test.ts, where that library is a dependency.)
import { once } from 'node:events';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { SimulatedHomeAssistant } from '../src/index.js';

type Msg = Record<string, unknown> & { id?: number; type: string };

/** A raw client: every frame received, awaitable by predicate (arrays are coalesced frames, flattened). */
class RawClient {
  readonly frames: unknown[] = [];
  readonly messages: Msg[] = [];
  readonly #waiters: { match: (m: Msg) => boolean; resolve: (m: Msg) => void }[] = [];

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as Msg | Msg[];
      this.frames.push(frame);
      for (const m of Array.isArray(frame) ? frame : [frame]) {
        this.messages.push(m);
        for (const w of [...this.#waiters]) {
          if (w.match(m)) {
            this.#waiters.splice(this.#waiters.indexOf(w), 1);
            w.resolve(m);
          }
        }
      }
    });
  }

  static async open(ha: SimulatedHomeAssistant): Promise<RawClient> {
    const ws = new WebSocket(`ws://127.0.0.1:${ha.port}/api/websocket`);
    const client = new RawClient(ws);
    await once(ws, 'open');
    return client;
  }

  next(match: (m: Msg) => boolean, from = 0): Promise<Msg> {
    const seen = this.messages.slice(from).find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => this.#waiters.push({ match, resolve }));
  }

  send(message: unknown): void {
    this.ws.send(JSON.stringify(message));
  }

  async request(message: Msg & { id: number }): Promise<Msg> {
    const mark = this.messages.length;
    this.send(message);
    return this.next((m) => m.id === message.id && (m.type === 'result' || m.type === 'pong'), mark);
  }
}

async function authed(ha: SimulatedHomeAssistant, token = 'secret'): Promise<RawClient> {
  const client = await RawClient.open(ha);
  await client.next((m) => m.type === 'auth_required');
  client.send({ type: 'auth', access_token: token });
  await client.next((m) => m.type === 'auth_ok');
  return client;
}

describe('simulated Home Assistant, WebSocket API', () => {
  let ha: SimulatedHomeAssistant;
  beforeEach(async () => {
    ha = await SimulatedHomeAssistant.start({
      token: 'secret',
      entities: [
        {
          entity_id: 'light.kitchen',
          state: 'off',
          attributes: { friendly_name: 'Kitchen' },
          unique_id: 'hue-1',
          device_id: 'a1b2c3d4e5f60718293a4b5c6d7e8f90',
        },
        { entity_id: 'number.volume', state: '10', attributes: { min: 0, max: 50, step: 1 } },
      ],
      devices: [
        {
          id: 'a1b2c3d4e5f60718293a4b5c6d7e8f90',
          name: 'Hue bulb',
          name_by_user: 'Kitchen bulb',
          manufacturer: 'Signify',
          area_id: 'kitchen',
        },
      ],
    });
  });
  afterEach(async () => {
    await ha.stop();
  });

  it('asks for auth, refuses a wrong token and closes, accepts the right one', async () => {
    const bad = await RawClient.open(ha);
    expect((await bad.next((m) => m.type === 'auth_required')).ha_version).toMatch(/^\d{4}\.\d+/);
    bad.send({ type: 'auth', access_token: 'wrong' });
    expect((await bad.next((m) => m.type === 'auth_invalid')).message).toBeTypeOf('string');
    await once(bad.ws, 'close');
    const good = await authed(ha);
    expect(ha.connections).toBe(1);
    good.ws.close();
  });

  it('answers results with Home Assistant error codes', async () => {
    const c = await authed(ha);
    expect(await c.request({ id: 1, type: 'no_such_thing' })).toMatchObject({
      success: false,
      error: { code: 'unknown_command' },
    });
    expect(await c.request({ id: 1, type: 'ping' })).toMatchObject({ error: { code: 'id_reuse' } });
    expect(await c.request({ id: 2, type: 'ping' })).toMatchObject({ type: 'pong' });
    expect(
      await c.request({
        id: 3,
        type: 'call_service',
        domain: 'light',
        service: 'explode',
        target: { entity_id: 'light.kitchen' },
      }),
    ).toMatchObject({ success: false, error: { code: 'not_found' } });
    expect(await c.request({ id: 4, type: 'call_service', domain: 42 })).toMatchObject({
      error: { code: 'invalid_format' },
    });
    expect(
      await c.request({
        id: 5,
        type: 'call_service',
        domain: 'number',
        service: 'set_value',
        service_data: { value: 99 },
        target: { entity_id: 'number.volume' },
      }),
    ).toMatchObject({ error: { code: 'service_validation_error' } });
    expect(ha.state('number.volume')?.state).toBe('10');
    expect(await c.request({ id: 6, type: 'unsubscribe_events', subscription: 77 })).toMatchObject({
      error: { code: 'not_found' },
    });
    c.ws.close();
  });

  it('lists states, the entity registry and the device registry', async () => {
    const c = await authed(ha);
    const states = (await c.request({ id: 1, type: 'get_states' })).result as { entity_id: string }[];
    expect(states.map((s) => s.entity_id).sort()).toEqual(['light.kitchen', 'number.volume']);
    const registry = (await c.request({ id: 2, type: 'config/entity_registry/list' })).result as {
      entity_id: string;
      unique_id: string | null;
    }[];
    expect(registry.find((e) => e.entity_id === 'light.kitchen')?.unique_id).toBe('hue-1');
    const devices = (await c.request({ id: 3, type: 'config/device_registry/list' })).result;
    expect(devices).toEqual([
      expect.objectContaining({
        id: 'a1b2c3d4e5f60718293a4b5c6d7e8f90',
        name: 'Hue bulb',
        name_by_user: 'Kitchen bulb',
        manufacturer: 'Signify',
        area_id: 'kitchen',
      }),
    ]);
    expect(registry.find((e) => e.entity_id === 'light.kitchen')).toMatchObject({
      device_id: 'a1b2c3d4e5f60718293a4b5c6d7e8f90',
      area_id: null,
    });
    // a call by area reaches the entities of devices in it
    await c.request({
      id: 4,
      type: 'call_service',
      domain: 'light',
      service: 'turn_on',
      target: { area_id: 'kitchen' },
    });
    expect(ha.state('light.kitchen')?.state).toBe('on');
    c.ws.close();
  });

  it('streams compressed entity updates: a, then c for a service call (before its result), then r', async () => {
    const c = await authed(ha);
    const mark = c.messages.length;
    c.send({ id: 1, type: 'subscribe_entities' });
    const first = await c.next((m) => m.id === 1 && m.type === 'event', mark);
    expect(first.event).toMatchObject({
      a: { 'light.kitchen': { s: 'off', a: { friendly_name: 'Kitchen' } } },
    });
    const before = c.messages.length;
    const result = await c.request({
      id: 2,
      type: 'call_service',
      domain: 'light',
      service: 'toggle',
      target: { entity_id: 'light.kitchen' },
    });
    expect(result.success).toBe(true);
    const change = c.messages.slice(before).find((m) => m.id === 1 && m.type === 'event');
    expect(change?.event).toMatchObject({
      c: { 'light.kitchen': { '+': { s: 'on', a: { brightness: 255 } } } },
    });
    expect(c.messages.indexOf(change!)).toBeLessThan(c.messages.indexOf(result));
    ha.removeEntity('number.volume');
    expect((await c.next((m) => m.id === 1 && 'r' in ((m.event as object) ?? {}))).event).toEqual({
      r: ['number.volume'],
    });
    c.ws.close();
  });

  it('sends state_changed to subscribe_events and stops after unsubscribe_events', async () => {
    const c = await authed(ha);
    await c.request({ id: 1, type: 'subscribe_events', event_type: 'state_changed' });
    ha.setState('light.kitchen', 'on', { brightness: 10 });
    const event = await c.next((m) => m.id === 1 && m.type === 'event');
    expect(event.event).toMatchObject({
      event_type: 'state_changed',
      data: { entity_id: 'light.kitchen', old_state: { state: 'off' }, new_state: { state: 'on' } },
    });
    expect((await c.request({ id: 2, type: 'unsubscribe_events', subscription: 1 })).success).toBe(true);
    c.ws.close();
  });

  it('coalesces messages of one turn into one array once the client asks for it', async () => {
    const c = await authed(ha);
    await c.request({ id: 1, type: 'supported_features', features: { coalesce_messages: 1 } });
    const mark = c.frames.length;
    c.send({ id: 2, type: 'subscribe_entities' });
    await c.next((m) => m.id === 2 && m.type === 'event');
    const frame = c.frames.slice(mark).find(Array.isArray) as Msg[] | undefined;
    expect(frame?.map((m) => m.type)).toEqual(['result', 'event']);
    c.ws.close();
  });

  it('lets a test drop every connection, refuse new ones and change the token', async () => {
    const c = await authed(ha);
    ha.refuseConnections(true);
    ha.dropConnections();
    await once(c.ws, 'close');
    const refused = new WebSocket(`ws://127.0.0.1:${ha.port}/api/websocket`);
    await once(refused, 'error');
    ha.refuseConnections(false);
    ha.setToken('rotated');
    const old = await RawClient.open(ha);
    await old.next((m) => m.type === 'auth_required');
    old.send({ type: 'auth', access_token: 'secret' });
    await old.next((m) => m.type === 'auth_invalid');
    (await authed(ha, 'rotated')).ws.close();
  });
});
