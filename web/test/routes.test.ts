import { describe, expect, it } from 'vitest';
import { ApiError, errorOf, describe as say } from '../src/errors.js';
import { health, normalizeProxy } from '../src/proxies.js';
import { canCommand, canManage } from '../src/roles.js';
import { parseRoute, paths, safeNext } from '../src/routes.js';

describe('routes', () => {
  it('parses every page', () => {
    expect(parseRoute('/')).toEqual({ page: 'dashboard' });
    expect(parseRoute('/login', '?next=%2Fdevices%2Fx')).toEqual({ page: 'login', next: '/devices/x' });
    expect(parseRoute('/onboarding')).toEqual({ page: 'onboarding' });
    expect(parseRoute('/devices/new')).toEqual({ page: 'add-device' });
    expect(parseRoute('/devices/picket-kitchen')).toEqual({ page: 'device', id: 'picket-kitchen' });
    expect(parseRoute('/entities/0190-ab/history', '?range=7d')).toEqual({
      page: 'history',
      id: '0190-ab',
      range: '7d',
    });
    expect(parseRoute('/users/')).toEqual({ page: 'users' });
    expect(parseRoute('/devices/%E0%A4%A')).toEqual({ page: 'not-found', path: '/devices/%E0%A4%A' });
    expect(parseRoute('/nope')).toEqual({ page: 'not-found', path: '/nope' });
  });

  it('round-trips ids through paths', () => {
    expect(parseRoute(paths.device('a b/c'))).toEqual({ page: 'device', id: 'a b/c' });
    expect(parseRoute(paths.history('x', '1h').split('?')[0]!, '?range=1h')).toMatchObject({
      id: 'x',
      range: '1h',
    });
  });

  it('returns after login only to a page of this site', () => {
    expect(safeNext('/devices/x')).toBe('/devices/x');
    expect(safeNext('//evil.example/')).toBe('/');
    expect(safeNext('https://evil.example/')).toBe('/');
    expect(safeNext('/login')).toBe('/');
    expect(paths.login('/ble')).toBe('/login?next=%2Fble');
    expect(paths.login('/')).toBe('/login');
  });
});

describe('roles and errors', () => {
  it('knows who may command and manage', () => {
    expect(canCommand('viewer')).toBe(false);
    expect(canCommand('operator')).toBe(true);
    expect(canManage('operator')).toBe(false);
    expect(canManage('admin')).toBe(true);
  });

  it('says what a refusal means', () => {
    const forbidden = errorOf(403, { error: { code: 'forbidden', message: 'operator needed' } });
    expect(say(forbidden, 'viewer', 'command entities')).toBe('Your role (viewer) cannot command entities.');
    const throttled = errorOf(429, { error: { code: 'throttled', message: 'slow down' } }, '42');
    expect(throttled.retryAfter).toBe(42);
    expect(say(throttled, undefined, 'log in')).toBe('Too many attempts, try again in 42 s.');
    const odd = errorOf(502, 'not json');
    expect(odd).toBeInstanceOf(ApiError);
    expect(odd.code).toBe('http_502');
    expect(say(new TypeError('Failed to fetch'), 'admin', 'add devices')).toBe(
      'Could not add devices: the gateway is not answering.',
    );
  });
});

describe('BLE proxy health', () => {
  const status = {
    proxy: 'pi-hall',
    interval_ms: 10_000,
    adapter: 'poweredOn',
    scanning: 'active',
    buffer: { depth: 0, capacity: 100 },
  };
  it('reads nested and flat answers', () => {
    expect(normalizeProxy({ status, age_ms: 3000 }, 0)).toEqual({ status, ageMs: 3000 });
    expect(normalizeProxy({ ...status, ts: 1000 }, 4000).ageMs).toBe(3000);
  });
  it('is healthy while heard and scanning', () => {
    expect(health(status, 5000)).toEqual({ tone: 'ok', text: 'Healthy' });
    expect(health(status, 25_000).tone).toBe('bad');
    expect(health({ ...status, adapter: 'poweredOff' }, 0).text).toBe('Bluetooth poweredOff');
    expect(health({ ...status, scanning: 'paused' }, 0).tone).toBe('warn');
  });
});
