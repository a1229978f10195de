// The HTTP layer's guards through a real gateway: authentication and roles, the
// cross-site and DNS-rebinding defences, bad input answered with a specific 4xx JSON
// error that is counted, changes nothing and logs nothing at error level.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HttpStack, loungeDevice, metric, startHttpStack, upgradeStatus } from './support-http.js';

let stack: HttpStack;
let ids: Record<string, string>;
let commands: unknown[];
let admin: string;
let viewer: string;
let metricsToken: string;

beforeAll(async () => {
  stack = await startHttpStack();
  ({ ids, commands } = await loungeDevice(stack));
  admin = stack.people.cookieFor('admin');
  viewer = stack.people.cookieFor('viewer');
  metricsToken = stack.people.tokenFor('viewer', 'prometheus');
});

afterAll(async () => {
  await stack?.stop();
});

const refusals = async (code: string) =>
  metric(
    (await stack.call('GET', '/metrics', { token: metricsToken })).text,
    'sentinel_http_refused_total',
    `code="${code}"`,
  );
const errorLogs = () => stack.gateway.logs.filter((line) => Number(line.level) >= 50);
const lampName = async () =>
  (await stack.call('GET', '/api/entities', { cookie: admin }))
    .json<{ id: string; name: string }[]>()
    .find((e) => e.id === ids.lamp)?.name;

describe('authentication and roles', () => {
  it('answers 401 to /api/* without a session or token, and with unknown ones', async () => {
    for (const path of ['/api/entities', '/api/devices', '/api/status', '/status', '/metrics', '/api/docs']) {
      const answer = await stack.call('GET', path);
      expect(answer.status, path).toBe(401);
      expect(answer.json()).toMatchObject({ error: { code: 'unauthenticated' } });
    }
    expect((await stack.call('GET', '/api/entities', { cookie: 'forged' })).status).toBe(401);
    expect((await stack.call('GET', '/api/entities', { token: 'forged' })).status).toBe(401);
    const malformed = await stack.call('GET', '/api/entities', { headers: { authorization: 'Basic eDp5' } });
    expect(malformed.json()).toMatchObject({ error: { code: 'unauthenticated', message: /Bearer/ } });
  });

  it("refuses a viewer's command with 403 naming the role, and the device gets nothing", async () => {
    const before = commands.length;
    const refused = await stack.call('POST', `/api/entities/${ids.lamp}/command`, {
      cookie: viewer,
      body: { value: true },
    });
    expect(refused.status).toBe(403);
    expect(refused.json()).toMatchObject({ error: { code: 'forbidden', message: /operator/ } });
    const operator = await stack.call('POST', `/api/entities/${ids.lamp}/command`, {
      token: stack.people.tokenFor('operator'),
      body: { value: true },
    });
    expect(operator.status).toBe(200);
    expect(operator.json()).toEqual({ ok: true });
    expect(commands.length).toBe(before + 1);
    const failed = await stack.call('POST', `/api/entities/${ids.temperature}/command`, {
      cookie: admin,
      body: { value: 1 },
    });
    expect(failed.status).toBe(422);
    expect(failed.json()).toMatchObject({ ok: false, error: { code: 'not_supported' } });
    expect(stack.people.auditEntries.filter((e) => e.action === 'command').map((e) => e.outcome)).toEqual([
      'ok',
      'failed',
    ]);
  });

  it('refuses the live feed without credentials', async () => {
    const live = `ws://127.0.0.1:${stack.gateway.httpPort}/api/live`;
    expect(await upgradeStatus(live)).toBe(401);
    expect(await upgradeStatus(live, { cookie: 'sentinel_session=forged' })).toBe(401);
    // a page elsewhere opening the feed with the browser's cookie
    expect(
      await upgradeStatus(live, { cookie: `sentinel_session=${viewer}`, origin: 'http://evil.example' }),
    ).toBe(403);
    expect(await upgradeStatus(live, { cookie: `sentinel_session=${viewer}` })).toBeUndefined();
  });
});

describe('cross-site and rebinding', () => {
  it('refuses a cross-origin request that carries a valid session cookie, and changes nothing', async () => {
    const before = await refusals('cross_site');
    const name = await lampName();
    const attempts: Record<string, string>[] = [
      { origin: 'http://evil.example' },
      { origin: 'null' },
      // a form a page elsewhere posts: no CORS preflight for text/plain
      { origin: 'http://evil.example', 'content-type': 'text/plain' },
      // our address as a prefix of someone else's name
      { origin: `${stack.origin}.evil.example` },
    ];
    for (const headers of attempts) {
      const answer = await stack.call('PATCH', `/api/entities/${ids.lamp}`, {
        cookie: admin,
        body: { name: 'Pwned' },
        headers,
      });
      expect(answer.status).toBe(403);
      expect(answer.json()).toMatchObject({ error: { code: 'cross_site' } });
      expect(answer.headers['access-control-allow-origin']).toBeUndefined();
    }
    // a browser request without Origin shows its Sec-Fetch-Site
    const crossSite = await stack.call('POST', `/api/entities/${ids.lamp}/command`, {
      body: { value: false },
      headers: { cookie: `sentinel_session=${admin}`, 'sec-fetch-site': 'cross-site' },
    });
    expect(crossSite.status).toBe(403);
    // a cookie with neither header is not a script's request
    const bare = await stack.call('POST', `/api/entities/${ids.lamp}/command`, {
      body: { value: false },
      headers: { cookie: `sentinel_session=${admin}` },
    });
    expect(bare.status).toBe(403);
    expect(await lampName()).toBe(name);
    expect(await refusals('cross_site')).toBe(before + 6);

    // the gateway's own page, and a script with a token, pass
    expect(
      (await stack.call('PATCH', `/api/entities/${ids.lamp}`, { cookie: admin, body: { area: 'Den' } }))
        .status,
    ).toBe(200);
    const sameOrigin = await stack.call('PATCH', `/api/entities/${ids.lamp}`, {
      body: { area: 'Lounge' },
      headers: { cookie: `sentinel_session=${admin}`, 'sec-fetch-site': 'same-origin' },
    });
    expect(sameOrigin.status).toBe(200);
    const script = await stack.call('PATCH', `/api/entities/${ids.lamp}`, {
      token: stack.people.tokenFor('admin'),
      body: { area: 'Hall' },
    });
    expect(script.status).toBe(200);
  });

  it('refuses a foreign Host (DNS rebinding) with 421, and answers to its own names', async () => {
    const answer = await stack.call('GET', '/api/entities', {
      cookie: admin,
      headers: { host: 'evil.example' },
    });
    expect(answer.status).toBe(421);
    expect(answer.json()).toMatchObject({ error: { code: 'bad_host' } });
    const page = await stack.call('GET', '/', { headers: { host: 'attacker.example:8080' } });
    expect(page.status).toBe(421);
    for (const host of ['localhost', '127.0.0.1:1', '[::1]:8080'])
      expect((await stack.call('GET', '/api/status', { cookie: admin, headers: { host } })).status).toBe(200);
    const live = `ws://127.0.0.1:${stack.gateway.httpPort}/api/live`;
    expect(await upgradeStatus(live, { host: 'evil.example', cookie: `sentinel_session=${admin}` })).toBe(
      421,
    );
  });
});

describe('bad input', () => {
  it('answers each with a specific 4xx JSON error, counted, nothing changed, nothing logged as an error', async () => {
    const name = await lampName();
    const cases: [string, string, Parameters<HttpStack['call']>[2], number, string][] = [
      [
        'POST',
        '/api/entities/%E0%A4%A/command',
        { cookie: admin, body: { value: true } },
        400,
        'bad_request',
      ],
      ['GET', '/api/entities/%zz', { cookie: admin }, 400, 'bad_request'],
      [
        'POST',
        `/api/entities/${ids.lamp}/command`,
        { cookie: admin, body: 'x'.repeat(20_000) },
        413,
        'too_large',
      ],
      [
        'POST',
        `/api/entities/${ids.lamp}/command`,
        { cookie: admin, body: '{"value":true}', headers: { 'content-type': 'text/plain' } },
        415,
        'unsupported_media_type',
      ],
      ['POST', `/api/entities/${ids.lamp}/command`, { cookie: admin, body: '{"value":' }, 400, 'bad_request'],
      ['PATCH', `/api/entities/${ids.lamp}`, { cookie: admin, body: { name: '' } }, 400, 'bad_request'],
      [
        'PATCH',
        `/api/entities/${ids.lamp}`,
        { cookie: admin, body: { name: 'n'.repeat(10_000) } },
        400,
        'bad_request',
      ],
      ['PATCH', `/api/entities/${ids.lamp}`, { cookie: admin, body: { nickname: 'x' } }, 400, 'bad_request'],
      ['PATCH', '/api/entities/0190-nope', { cookie: admin, body: { name: 'Ghost' } }, 404, 'not_found'],
      ['GET', '/api/nope', { cookie: admin }, 404, 'not_found'],
      ['DELETE', '/api/status', { cookie: admin }, 404, 'not_found'],
    ];
    for (const [method, path, options, status, code] of cases) {
      const before = await refusals(code);
      const answer = await stack.call(method, path, options);
      expect(answer.status, `${method} ${path}`).toBe(status);
      expect(answer.json(), `${method} ${path}`).toMatchObject({
        error: { code, message: expect.any(String) },
      });
      expect(answer.headers['content-security-policy']).toContain("default-src 'self'");
      expect(answer.headers['x-content-type-options']).toBe('nosniff');
      expect(await refusals(code), `${method} ${path}`).toBe(before + 1);
    }
    expect(await lampName()).toBe(name);
    expect(errorLogs()).toEqual([]);
  });

  it('puts the security headers on every answer and never CORS headers', async () => {
    const page = await stack.call('GET', '/', { headers: { origin: 'http://evil.example' } });
    expect(page.headers['content-security-policy']).toBe(
      "default-src 'self'; img-src 'self' data:; style-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    );
    expect(page.headers['referrer-policy']).toBe('no-referrer');
    const preflight = await stack.call('OPTIONS', '/api/entities', {
      headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST' },
    });
    expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
    expect(preflight.headers['access-control-allow-methods']).toBeUndefined();
  });
});
