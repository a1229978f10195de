// The live feed (GET /api/live) through a real gateway: a snapshot, then readings and
// availability changes as they happen, registry changes, and revocation closing sockets.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type HttpStack, loungeDevice, startHttpStack } from './support-http.js';

let stack: HttpStack;
let lounge: Awaited<ReturnType<typeof loungeDevice>>;

beforeAll(async () => {
  stack = await startHttpStack();
  lounge = await loungeDevice(stack);
  await lounge.device.publishAsync(
    'picket/lounge/state',
    JSON.stringify({ seq: 1, values: { temperature: 20.5 } }),
    {
      qos: 1,
    },
  );
});

afterAll(async () => {
  await lounge?.device.endAsync();
  await stack?.stop();
});

type Message = Record<string, unknown> & { type: string };

/** A live-feed client that keeps every message; `next(predicate)` waits for a match. */
async function liveClient(headers: Record<string, string>) {
  const ws = new WebSocket(`ws://127.0.0.1:${stack.gateway.httpPort}/api/live`, { headers });
  const messages: Message[] = [];
  const waiters: { predicate: (m: Message) => boolean; resolve: (m: Message) => void }[] = [];
  ws.on('message', (data) => {
    const message = JSON.parse(data.toString()) as Message;
    messages.push(message);
    for (const waiter of [...waiters])
      if (waiter.predicate(message)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(message);
      }
  });
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    ws.on('open', () => resolve());
    ws.on('error', reject);
  });
  return {
    ws,
    messages,
    closed,
    next(predicate: (m: Message) => boolean): Promise<Message> {
      const found = messages.find(predicate);
      return found ? Promise.resolve(found) : new Promise((resolve) => waiters.push({ predicate, resolve }));
    },
  };
}

describe('the live feed', () => {
  it('starts with a snapshot of entities with their states and devices', async () => {
    const client = await liveClient({ cookie: `sentinel_session=${stack.people.cookieFor('viewer')}` });
    const snapshot = await client.next((m) => m.type === 'snapshot');
    expect(client.messages[0]).toBe(snapshot);
    const entities = snapshot.entities as { id: string; state: { value: unknown } | null }[];
    expect(entities.find((e) => e.id === lounge.ids.temperature)?.state).toMatchObject({ value: 20.5 });
    expect(entities.find((e) => e.id === lounge.ids.lamp)?.state).toBeNull();
    expect(snapshot.devices).toEqual([
      expect.objectContaining({ id: 'picket-lounge', online: true, entities: expect.any(Array) }),
    ]);
    client.ws.close();
  });

  it('pushes a published reading, an availability change and a rename to every client', async () => {
    const a = await liveClient({ cookie: `sentinel_session=${stack.people.cookieFor('viewer')}` });
    const b = await liveClient({ authorization: `Bearer ${stack.people.tokenFor('viewer')}` });
    await lounge.device.publishAsync(
      'picket/lounge/state',
      JSON.stringify({ seq: 2, values: { temperature: 23.25 } }),
      { qos: 1 },
    );
    for (const client of [a, b]) {
      const state = await client.next(
        (m) => m.type === 'state' && (m.state as { value: number }).value === 23.25,
      );
      expect(state.state).toMatchObject({
        entity_id: lounge.ids.temperature,
        source: { device_id: 'picket-lounge' },
      });
    }

    const admin = stack.people.cookieFor('admin');
    await stack.call('PATCH', `/api/entities/${lounge.ids.lamp}`, {
      cookie: admin,
      body: { name: 'Reading lamp' },
    });
    const renamed = await a.next(
      (m) => m.type === 'entity' && (m.entity as { name: string }).name === 'Reading lamp',
    );
    expect(renamed.entity).toMatchObject({ id: lounge.ids.lamp });

    await lounge.device.publishAsync('picket/lounge/status', 'offline', { qos: 1, retain: true });
    for (const client of [a, b]) {
      const gone = await client.next(
        (m) => m.type === 'availability' && m.entity_id === lounge.ids.temperature,
      );
      expect(gone).toMatchObject({ available: false, ts: expect.any(Number) });
      const device = await client.next(
        (m) => m.type === 'device' && (m.device as { online: boolean }).online === false,
      );
      expect(device.device).toMatchObject({ id: 'picket-lounge' });
    }
    await lounge.device.publishAsync('picket/lounge/status', 'online', { qos: 1, retain: true });
    await a.next(
      (m) => m.type === 'availability' && m.entity_id === lounge.ids.temperature && m.available === true,
    );
    a.ws.close();
    b.ws.close();
  });

  it('closes the sockets of a revoked session or token with 4401, and only those', async () => {
    const cookie = stack.people.cookieFor('viewer', 'leaving');
    const token = stack.people.tokenFor('viewer', 'old-script');
    const session = await liveClient({ cookie: `sentinel_session=${cookie}` });
    const script = await liveClient({ authorization: `Bearer ${token}` });
    const other = await liveClient({
      cookie: `sentinel_session=${stack.people.cookieFor('viewer', 'staying')}`,
    });
    await Promise.all([session, script, other].map((c) => c.next((m) => m.type === 'snapshot')));

    // logging out through the API revokes the session server-side
    const logout = await stack.call('DELETE', '/api/session', { cookie });
    expect(logout.status).toBe(204);
    expect(logout.headers['set-cookie']?.[0]).toMatch(/^sentinel_session=; .*Max-Age=0/);
    expect(await session.closed).toBe(4401);
    expect((await stack.call('GET', '/api/entities', { cookie })).status).toBe(401);

    const admin = stack.people.cookieFor('admin');
    expect((await stack.call('DELETE', '/api/tokens/old-script', { cookie: admin })).status).toBe(204);
    expect(await script.closed).toBe(4401);
    expect(other.ws.readyState).toBe(WebSocket.OPEN);
    other.ws.close();
  });
});
