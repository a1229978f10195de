// The HTTP API's routes through a real gateway (docs/http-api.md): entities with their
// states (also on a node that has just started), edits that survive the device's next
// hello, devices and their tokens, history downsampled on the server and as CSV, the
// OpenAPI document, and the web app's files.
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliCompressSync, brotliDecompressSync, gunzipSync, gzipSync } from 'node:zlib';
import { jetstream } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kvValue } from '../../test/support/bus.js';
import { startTestGateway } from '../../test/support/gateway.js';
import { connectDevice } from '../../test/support/picket.js';
import { type HttpStack, LOUNGE_HELLO, loungeDevice, startHttpStack } from './support-http.js';

let stack: HttpStack;
let lounge: Awaited<ReturnType<typeof loungeDevice>>;
let admin: string;
let viewer: string;
let web: string;

beforeAll(async () => {
  web = await mkdtemp(join(tmpdir(), 'sentinel-web-'));
  await mkdir(join(web, 'assets', 'chunks'), { recursive: true });
  await writeFile(join(web, 'index.html'), '<!doctype html><title>Sentinel Edge</title>');
  await writeFile(join(web, 'assets', 'main.js'), 'console.log(1)');
  // the compressed copies the build writes beside each script and style sheet
  await writeFile(join(web, 'assets', 'main.js.br'), brotliCompressSync('console.log(1)'));
  await writeFile(join(web, 'assets', 'main.js.gz'), gzipSync('console.log(1)'));
  await writeFile(join(web, 'assets', 'main.css'), 'body{}');
  await writeFile(join(web, 'assets', 'chunks', 'chart-ABCD1234.js'), 'export {}');
  await writeFile(join(web, 'secret.txt'), 'not an asset');
  await symlink(join(web, 'secret.txt'), join(web, 'assets', 'link.txt'));
  stack = await startHttpStack(web);
  lounge = await loungeDevice(stack);
  await lounge.device.publishAsync(
    'picket/lounge/state',
    JSON.stringify({ seq: 1, values: { temperature: 21.5 } }),
    {
      qos: 1,
    },
  );
  admin = stack.people.cookieFor('admin');
  viewer = stack.people.cookieFor('viewer');
});

afterAll(async () => {
  await lounge?.device.endAsync();
  await stack?.stop();
  await rm(web, { recursive: true, force: true });
});

type Entity = { id: string; name: string; area?: string; state: { value: unknown } | null };

describe('entities', () => {
  it('lists every entity with its latest state, also on a node that just started', async () => {
    const entities = (await stack.call('GET', '/api/entities', { cookie: viewer })).json<Entity[]>();
    expect(entities.find((e) => e.id === lounge.ids.temperature)?.state).toMatchObject({
      value: 21.5,
      available: true,
    });
    expect(entities.find((e) => e.id === lounge.ids.lamp)?.state).toBeNull();
    // a fresh gateway has seen no reading: the state comes from sentinel_state (written coalesced)
    await kvValue<{ value: unknown }>(
      stack.bus,
      'sentinel_state',
      lounge.ids.temperature,
      (s) => s.value === 21.5,
    );
    const second = await startTestGateway(
      stack.nats,
      { nodeId: 'second' },
      { http: { auth: stack.people, people: stack.people } },
    );
    try {
      const fresh = await fetch(`http://127.0.0.1:${second.httpPort}/api/entities`, {
        headers: { cookie: `sentinel_session=${viewer}` },
      });
      expect(
        ((await fresh.json()) as Entity[]).find((e) => e.id === lounge.ids.temperature)?.state,
      ).toMatchObject({
        value: 21.5,
      });
    } finally {
      await second.stop();
    }
  });

  it("renames an entity and sets its area; the name survives the device's next hello", async () => {
    const renamed = await stack.call('PATCH', `/api/entities/${lounge.ids.temperature}`, {
      cookie: admin,
      body: { name: '  Sofa corner ', area: 'Living room' },
    });
    expect(renamed.status).toBe(200);
    expect(renamed.json()).toMatchObject({
      name: 'Sofa corner',
      area: 'Living room',
      state: { value: 21.5 },
    });
    expect(
      (await stack.call('PATCH', `/api/entities/${lounge.ids.lamp}`, { cookie: viewer, body: { name: 'x' } }))
        .status,
    ).toBe(403);
    await lounge.device.publishAsync('picket/lounge/hello', JSON.stringify(LOUNGE_HELLO), { qos: 1 });
    const after = (await stack.call('GET', '/api/entities', { cookie: viewer })).json<Entity[]>();
    expect(after.find((e) => e.id === lounge.ids.temperature)).toMatchObject({
      name: 'Sofa corner',
      area: 'Living room',
    });
    expect(
      stack.people.auditEntries.some(
        (e) => e.action === 'entity.edit' && e.target === lounge.ids.temperature,
      ),
    ).toBe(true);
  });

  it('re-binds an entity to a replacement device (the hardware swap keeps the id)', async () => {
    const token = await stack.gateway.addDevice('spare');
    const spare = await connectDevice(stack.gateway, 'spare', token);
    try {
      await spare.publishAsync('picket/spare/hello', JSON.stringify({ ...LOUNGE_HELLO, name: 'Spare' }), {
        qos: 1,
      });
      const rebound = await stack.call('PUT', `/api/entities/${lounge.ids.temperature}/bindings`, {
        cookie: admin,
        body: [{ protocol: 'picket', device_id: 'picket-spare', key: 'temperature', priority: 100 }],
      });
      expect(rebound.status).toBe(200);
      expect(rebound.json()).toMatchObject({ id: lounge.ids.temperature, device_id: 'picket-spare' });
      await spare.publishAsync(
        'picket/spare/state',
        JSON.stringify({ seq: 1, values: { temperature: 18 } }),
        { qos: 1 },
      );
      const entities = (await stack.call('GET', '/api/entities', { cookie: viewer })).json<Entity[]>();
      expect(entities.find((e) => e.id === lounge.ids.temperature)?.state).toMatchObject({ value: 18 });
      // the spare's own temperature entity gave the source up
      const spareEntity = (await stack.call('GET', '/api/devices/picket-spare', { cookie: viewer })).json<{
        entities: { id: string; bindings: { key: string }[] }[];
      }>();
      expect(spareEntity.entities.map((e) => e.id)).toContain(lounge.ids.temperature);
    } finally {
      await spare.endAsync();
    }
  });
});

describe('devices', () => {
  it('lists devices with their entities, and shows one with its entities and bindings', async () => {
    const devices = (await stack.call('GET', '/api/devices', { cookie: viewer })).json<
      { id: string; entities: string[] }[]
    >();
    expect(devices.find((d) => d.id === 'picket-lounge')?.entities).toContain(lounge.ids.lamp);
    const one = await stack.call('GET', '/api/devices/picket-lounge', { cookie: viewer });
    expect(one.json()).toMatchObject({ id: 'picket-lounge', name: 'Lounge', entities: expect.any(Array) });
    expect((await stack.call('GET', '/api/devices/picket-nope', { cookie: viewer })).status).toBe(404);
  });

  it('adds, renames, rotates and removes a picket device as an admin', async () => {
    const added = await stack.call('POST', '/api/devices', { cookie: admin, body: { id: 'porch' } });
    expect(added.status).toBe(201);
    const { token } = added.json<{ device_id: string; token: string }>();
    expect(added.json()).toMatchObject({ device_id: 'picket-porch' });
    expect((await stack.call('POST', '/api/devices', { cookie: admin, body: { id: 'porch' } })).status).toBe(
      409,
    );
    expect((await stack.call('POST', '/api/devices', { cookie: admin, body: { id: 'Bad Id' } })).status).toBe(
      400,
    );
    expect((await stack.call('POST', '/api/devices', { cookie: viewer, body: { id: 'other' } })).status).toBe(
      403,
    );

    const porch = await connectDevice(stack.gateway, 'porch', token);
    await porch.publishAsync('picket/porch/hello', JSON.stringify({ ...LOUNGE_HELLO, name: 'Porch' }), {
      qos: 1,
    });
    const renamed = await stack.call('PATCH', '/api/devices/picket-porch', {
      cookie: admin,
      body: { name: 'Front porch' },
    });
    expect(renamed.json()).toMatchObject({ name: 'Front porch' });
    await porch.publishAsync('picket/porch/hello', JSON.stringify({ ...LOUNGE_HELLO, name: 'Porch' }), {
      qos: 1,
    });
    expect((await stack.call('GET', '/api/devices/picket-porch', { cookie: viewer })).json()).toMatchObject({
      name: 'Front porch',
    });

    const closed = new Promise<void>((resolve) => porch.once('close', () => resolve()));
    const rotated = await stack.call('POST', '/api/devices/picket-porch/rotate', { cookie: admin, body: {} });
    expect(rotated.json<{ token: string }>().token).not.toBe(token);
    await closed; // the old token's connection ends at once
    await porch.endAsync(true);
    expect(
      (await stack.call('POST', '/api/devices/ble-a4c138000001/rotate', { cookie: admin, body: {} })).status,
    ).toBe(400);

    expect((await stack.call('DELETE', '/api/devices/picket-porch', { cookie: admin })).status).toBe(204);
    expect((await stack.call('GET', '/api/devices/picket-porch', { cookie: viewer })).status).toBe(404);
    expect((await stack.call('DELETE', '/api/devices/picket-porch', { cookie: admin })).status).toBe(404);
  });
});

describe('history', () => {
  it('downsamples readings the test published into min/max/mean buckets, and streams them as CSV', async () => {
    const entity = lounge.ids.lamp; // a fresh series: nothing published on it yet
    const js = jetstream(stack.bus);
    const now = Date.now();
    const readings: [number, unknown][] = [
      [now - 2 * 3600_000, 99], // before the range
      [now - 45 * 60_000, 1],
      [now - 45 * 60_000 + 1000, 3],
      [now - 5 * 60_000, 10],
      [now - 5 * 60_000 + 1000, 30],
      [now - 5 * 60_000 + 2000, 20],
      [now - 5 * 60_000 + 3000, 'text, "quoted"'],
    ];
    for (const [ts, value] of readings)
      await js.publish(
        `sentinel.state.${entity}`,
        JSON.stringify({ entity_id: entity, value, ts, source: {} }),
      );
    // another entity's readings are not mixed in
    await js.publish(
      `sentinel.state.${lounge.ids.temperature}`,
      JSON.stringify({ entity_id: lounge.ids.temperature, value: 500, ts: now - 60_000 }),
    );

    const answer = await stack.call('GET', `/api/entities/${entity}/history?range=1h&points=6`, {
      cookie: viewer,
    });
    expect(answer.status).toBe(200);
    const history = answer.json<{ from: number; to: number; bucket_ms: number; points: number[][] }>();
    expect(history.bucket_ms).toBe(600_000);
    expect(history.to - history.from).toBe(3600_000);
    expect(history.points).toHaveLength(6);
    expect(history.points[1]).toEqual([history.from + 600_000, 1, 3, 2, 2]);
    expect(history.points[5]).toEqual([history.from + 5 * 600_000, 10, 30, 20, 3]);
    for (const i of [0, 2, 3, 4]) expect(history.points[i]?.[4]).toBe(0);

    const csv = await stack.call('GET', `/api/entities/${entity}/history.csv?range=1h`, { cookie: viewer });
    expect(csv.headers['content-type']).toContain('text/csv');
    const lines = csv.text.trim().split('\n');
    expect(lines[0]).toBe('ts,iso_time,value');
    expect(lines.slice(1)).toEqual(
      readings
        .slice(1)
        .map(
          ([ts, value]) =>
            `${ts},${new Date(ts).toISOString()},${value === 'text, "quoted"' ? '"text, ""quoted"""' : value}`,
        ),
    );
    expect(
      (await stack.call('GET', `/api/entities/${entity}/history?range=2y`, { cookie: viewer })).status,
    ).toBe(400);
    expect((await stack.call('GET', '/api/entities/nope/history', { cookie: viewer })).status).toBe(404);
  });
});

describe('the rest of the surface', () => {
  it('serves /status and /api/status with one body, and metrics to a token', async () => {
    const status = (await stack.call('GET', '/status', { cookie: viewer })).json();
    expect(status).toMatchObject({
      node_id: 'test',
      entities: expect.any(Number),
      leaders: expect.any(Object),
    });
    expect((await stack.call('GET', '/api/status', { cookie: viewer })).json()).toMatchObject({
      node_id: 'test',
    });
    const metrics = await stack.call('GET', '/metrics', { token: stack.people.tokenFor('viewer') });
    expect(metrics.headers['content-type']).toContain('text/plain');
    expect(metrics.text).toContain('sentinel_readings_total');
  });

  it('answers GET /api/session for a session and a token', async () => {
    expect((await stack.call('GET', '/api/session', { cookie: viewer })).json()).toMatchObject({
      user: 'viewer-user',
      role: 'viewer',
      expires: expect.any(Number),
    });
    expect(
      (await stack.call('GET', '/api/session', { token: stack.people.tokenFor('operator', 'ci') })).json(),
    ).toEqual({
      token: 'ci',
      role: 'operator',
    });
  });

  it('logs in with a session cookie of the right attributes, and counts wrong passwords', async () => {
    stack.people.addUserWithPassword('alice', 'operator', 'a long enough password');
    const wrong = await stack.call('POST', '/api/session', { body: { user: 'alice', password: 'nope' } });
    expect(wrong.status).toBe(401);
    expect(wrong.json()).toMatchObject({ error: { code: 'bad_credentials' } });
    const ok = await stack.call('POST', '/api/session', {
      body: { user: 'alice', password: 'a long enough password' },
    });
    expect(ok.status).toBe(200);
    expect(ok.json()).toEqual({ user: 'alice', role: 'operator' });
    const cookie = ok.headers['set-cookie']?.[0] ?? '';
    expect(cookie).toMatch(/^sentinel_session=[0-9a-f]+; HttpOnly; SameSite=Strict; Path=\/; Max-Age=\d+$/);
    expect(stack.people.auditEntries.filter((e) => e.action === 'login').map((e) => e.outcome)).toEqual([
      'refused',
      'ok',
    ]);
  });

  it('keeps the flasher routes for admins only, with their answers', async () => {
    const good = { device_id: 'attic', gateway_urls: ['ws://gw.local:8080/picket'], nvs_size: 0x6000 };
    expect((await stack.call('POST', '/api/provision', { cookie: viewer, body: good })).status).toBe(403);
    expect((await stack.call('GET', '/flash')).status).toBe(401);
    const page = await stack.call('GET', '/flash', { cookie: admin });
    expect(page.headers['content-security-policy']).toMatch(/style-src 'self' 'sha256-[A-Za-z0-9+/=]+'/);
    const first = await stack.call('POST', '/api/provision', { cookie: admin, body: good });
    expect(first.status).toBe(200);
    expect(first.json()).toMatchObject({ device_id: 'picket-attic', nvs: expect.any(String) });
    expect((await stack.call('POST', '/api/provision', { cookie: admin, body: good })).json()).toMatchObject({
      error: { code: 'conflict', message: /already registered/ },
    });
    const bad = await stack.call('POST', '/api/provision', {
      cookie: admin,
      body: { ...good, gateway_urls: ['http://x'] },
    });
    expect(bad.json()).toMatchObject({ error: { code: 'bad_request', message: /gateway_urls\.0/ } });
    expect(
      (await stack.call('POST', '/api/provision', { cookie: admin, body: 'x'.repeat(10_000) })).status,
    ).toBe(413);
    expect((await stack.call('GET', '/firmware/x/%E0%A4%A', { cookie: admin })).status).toBe(400);
    expect((await stack.call('GET', '/api/firmware', { cookie: admin })).json()).toEqual({
      builds: [],
      problems: [],
    });
  });

  it('serves the OpenAPI document listing the routes', async () => {
    const doc = (await stack.call('GET', '/api/docs', { cookie: viewer })).json<{
      openapi: string;
      paths: Record<string, object>;
    }>();
    expect(doc.openapi).toMatch(/^3\./);
    for (const path of [
      '/api/entities',
      '/api/entities/{id}',
      '/api/entities/{id}/command',
      '/api/entities/{id}/history',
      '/api/devices/{id}/rotate',
      '/api/session',
      '/api/users',
      '/api/tokens',
      '/api/audit',
      '/api/provision',
      '/api/ble/proxies',
    ])
      expect(Object.keys(doc.paths), path).toContain(path);
    expect(doc.paths['/api/entities/{id}/command']).toHaveProperty('post.requestBody');
  });

  it('serves the web app: index.html for pages, assets with their types and caching, nothing outside', async () => {
    for (const path of ['/', '/devices/picket-lounge', '/onboarding']) {
      const page = await stack.call('GET', path);
      expect(page.status, path).toBe(200);
      expect(page.headers['content-type']).toContain('text/html');
      expect(page.text).toContain('<title>Sentinel Edge</title>');
    }
    const js = await stack.call('GET', '/assets/main.js');
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(js.headers['cache-control']).toBe('no-cache');
    expect(
      (await stack.call('GET', '/assets/main.js', { headers: { 'if-none-match': String(js.headers.etag) } }))
        .status,
    ).toBe(304);
    expect((await stack.call('GET', '/assets/main.css')).headers['content-type']).toBe(
      'text/css; charset=utf-8',
    );
    const chunk = await stack.call('GET', '/assets/chunks/chart-ABCD1234.js');
    expect(chunk.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    for (const path of [
      '/assets/../secret.txt',
      '/assets/%2e%2e/secret.txt',
      '/assets/link.txt',
      '/assets/nope.js',
    ]) {
      const answer = await stack.call('GET', path);
      expect(answer.text, path).not.toContain('not an asset');
      expect(answer.status === 404 || answer.text.includes('<title>'), path).toBe(true);
    }
    expect((await stack.call('GET', '/assets/nope.js')).status).toBe(404);
  });

  it("sends the build's compressed copy a browser accepts: brotli, else gzip, else the file itself", async () => {
    const get = (acceptEncoding?: string) =>
      stack.call(
        'GET',
        '/assets/main.js',
        acceptEncoding ? { headers: { 'accept-encoding': acceptEncoding } } : {},
      );
    const br = await get('gzip, deflate, br');
    expect(br.headers['content-encoding']).toBe('br');
    expect(br.headers.vary).toContain('accept-encoding');
    expect(brotliDecompressSync(br.raw).toString()).toBe('console.log(1)');
    const gzip = await get('br;q=0, gzip');
    expect(gzip.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gzip.raw).toString()).toBe('console.log(1)');
    expect(gzip.headers.etag).not.toBe(br.headers.etag);
    const plain = await get();
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.text).toBe('console.log(1)');
    // a file the build did not compress goes as it is
    expect(
      (await stack.call('GET', '/assets/main.css', { headers: { 'accept-encoding': 'br' } })).headers[
        'content-encoding'
      ],
    ).toBeUndefined();
  });
});
