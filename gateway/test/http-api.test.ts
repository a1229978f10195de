// The HTTP side a person or a script uses, through the gateway's own people module
// (accounts in NATS, not a stand-in): status, devices and entities with their latest
// state, commands, metrics, the web app, log-in with throttling, and clear errors.
import type { NatsConnection } from '@nats-io/transport-node';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entityIdsOf } from '../../test/support/bus.js';
import { startStack, type TestGateway, type TestStack } from '../../test/support/gateway.js';
import { confirmCommands, connectDevice } from '../../test/support/picket.js';
import { LOUNGE_HELLO } from './support-http.js';

let stack: TestStack;
let gateway: TestGateway;
let bus: NatsConnection;
let device: MqttClient;
let ids: Record<string, string>;

const url = (path: string) => `http://127.0.0.1:${gateway.httpPort}${path}`;
const json = { 'content-type': 'application/json' };

beforeAll(async () => {
  stack = await startStack();
  ({ gateway, bus } = stack);
  const token = await gateway.addDevice('lounge');
  device = await connectDevice(gateway, 'lounge', token);
  await confirmCommands(device, 'lounge');
  await device.publishAsync('picket/lounge/hello', JSON.stringify(LOUNGE_HELLO), { qos: 1 });
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
    expect((await fetch(url('/status'))).status).toBe(401);
    expect(await (await gateway.api('/status')).json()).toMatchObject({
      node_id: 'test',
      devices_online: 1,
      entities: 2,
    });
    const devices = (await (await gateway.api('/api/devices')).json()) as { id: string; online: boolean }[];
    expect(devices).toEqual([
      expect.objectContaining({ id: 'picket-lounge', name: 'Lounge', online: true, sw_version: '3.1.0' }),
    ]);
    const entities = (await (await gateway.api('/api/entities')).json()) as {
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
    const operator = { authorization: `Bearer ${await gateway.token('operator')}`, ...json };
    const ok = await fetch(url(`/api/entities/${ids.lamp}/command`), {
      method: 'POST',
      headers: operator,
      body: '{"value":true}',
    });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ ok: true });
    const refused = await fetch(url(`/api/entities/${ids.temperature}/command`), {
      method: 'POST',
      headers: operator,
      body: '{"value":1}',
    });
    expect(refused.status).toBe(422);
    expect(await refused.json()).toMatchObject({ ok: false, error: { code: 'not_supported' } });
    const viewer = await fetch(url(`/api/entities/${ids.lamp}/command`), {
      method: 'POST',
      headers: { authorization: `Bearer ${await gateway.token('viewer')}`, ...json },
      body: '{"value":false}',
    });
    expect(viewer.status).toBe(403);
    const tooBig = await fetch(url(`/api/entities/${ids.lamp}/command`), {
      method: 'POST',
      headers: operator,
      body: 'x'.repeat(20_000),
    });
    expect(tooBig.status).toBe(413);
  });

  it('serves Prometheus metrics and the web UI, and says so when a page does not exist', async () => {
    expect((await fetch(url('/metrics'))).status).toBe(401);
    const metrics = await gateway.api('/metrics');
    expect(metrics.headers.get('content-type')).toContain('text/plain');
    expect(await metrics.text()).toMatch(/sentinel_readings_total\{protocol="picket",qos="1"\} 1/);
    const page = await fetch(url('/'));
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(await page.text()).toContain('<title>Sentinel Edge</title>');
    const missing = await gateway.api('/api/nope');
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: 'not_found' } });
  });

  it('logs in and out with the real accounts, throttles wrong passwords with Retry-After', async () => {
    await gateway.people.users.addWithPassword('carol', 'viewer', 'correct horse battery');
    const origin = url('');
    const login = (password: string) =>
      fetch(url('/api/session'), {
        method: 'POST',
        headers: { ...json, origin },
        body: JSON.stringify({ user: 'carol', password }),
      });
    const good = await login('correct horse battery');
    expect(good.status).toBe(200);
    const cookie = /sentinel_session=[^;]+/.exec(good.headers.get('set-cookie') ?? '')![0];
    const who = await fetch(url('/api/session'), { headers: { cookie } });
    expect(await who.json()).toMatchObject({ user: 'carol', role: 'viewer' });
    // a viewer reads, and may not manage tokens
    expect((await fetch(url('/api/entities'), { headers: { cookie } })).status).toBe(200);
    expect((await fetch(url('/api/tokens'), { headers: { cookie } })).status).toBe(403);
    const out = await fetch(url('/api/session'), { method: 'DELETE', headers: { cookie, origin } });
    expect(out.status).toBe(204);
    expect((await fetch(url('/api/entities'), { headers: { cookie } })).status).toBe(401);

    // five free failures for one account from one address, then backing off
    for (let i = 0; i < 5; i++) {
      const wrong = await login('wrong password!');
      expect(wrong.status).toBe(401);
      expect(await wrong.json()).toMatchObject({ error: { code: 'bad_credentials' } });
    }
    const throttled = await login('correct horse battery');
    expect(throttled.status).toBe(429);
    expect(Number(throttled.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await throttled.json()).toMatchObject({ error: { code: 'throttled' } });
    // recorded in the audit log, read back through the API
    const audit = (await (await gateway.api('/api/audit?limit=50')).json()) as {
      action: string;
      outcome: string;
    }[];
    expect(audit).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ action: 'login', outcome: 'ok' }),
        expect.objectContaining({ action: 'login_failed', outcome: 'throttled' }),
        expect.objectContaining({ action: 'logout', outcome: 'ok' }),
      ]),
    );
  });

  it('manages users and tokens through the API; a revoked token stops at once', async () => {
    const added = await gateway.api('/api/users', {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ name: 'dave', role: 'operator' }),
    });
    expect(added.status).toBe(201);
    const { onboarding_url } = (await added.json()) as { onboarding_url: string };
    const token = onboarding_url.split('#')[1]!;
    expect(await (await fetch(url(`/api/onboarding/${token}`))).json()).toEqual({
      user: 'dave',
      role: 'operator',
    });
    const again = await gateway.api('/api/users', {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ name: 'dave', role: 'viewer' }),
    });
    expect(again.status).toBe(409);

    const made = await gateway.api('/api/tokens', {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ role: 'viewer', name: 'grafana' }),
    });
    expect(made.status).toBe(201);
    const grafana = ((await made.json()) as { token: string }).token;
    const bearer = { authorization: `Bearer ${grafana}` };
    expect((await fetch(url('/api/entities'), { headers: bearer })).status).toBe(200);
    expect((await gateway.api('/api/tokens/grafana', { method: 'DELETE' })).status).toBe(204);
    expect((await fetch(url('/api/entities'), { headers: bearer })).status).toBe(401);
    expect((await gateway.api('/api/tokens/grafana', { method: 'DELETE' })).status).toBe(404);
  });
});
