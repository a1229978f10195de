// An in-process gateway for tests, on a test nats-server, with logs captured so
// tests can assert on the reasons the gateway gives.
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  type Gateway,
  type GatewayConfigInput,
  openGatewayStore,
  resolveGatewayConfig,
  startGateway,
} from '@sentinel/gateway';
import type { Role } from '@sentinel/gateway/store';
import { pino } from 'pino';
import { connectTestBus } from './bus.js';
import { startNats, type TestNats } from './nats.js';

export interface TestGateway extends Gateway {
  /** JSON log lines written so far */
  readonly logs: Record<string, unknown>[];
  /** resolves with the first log line (past or future) that matches */
  logged(predicate: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  addDevice(id: string): Promise<string>;
  removeDevice(id: string): Promise<void>;
  /** a new API token of that role (default admin), made through the gateway's People */
  token(role?: Role): Promise<string>;
  /** fetch on the gateway's HTTP port (path from `/`) with an admin API token */
  api(path: string, init?: RequestInit): Promise<Response>;
  /** the value of a `sentinel_session` cookie for a new user of that role (default admin), logged in over HTTP */
  sessionCookie(role?: Role): Promise<string>;
  /** the text of GET /metrics (with a token) */
  metricsText(): Promise<string>;
}

export async function startTestGateway(
  nats: TestNats,
  overrides: GatewayConfigInput = {},
  /** startGateway's other options (the HTTP layer's people: an Authenticator and PeopleApi) */
  options: Omit<Parameters<typeof startGateway>[1] & object, 'log'> = {},
): Promise<TestGateway> {
  const dataDir = await mkdtemp(join(tmpdir(), 'sentinel-test-gw-'));
  const logs: Record<string, unknown>[] = [];
  const lines = new EventEmitter<{ line: [Record<string, unknown>] }>();
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const text of chunk.toString().split('\n')) {
        if (!text) continue;
        const line = JSON.parse(text) as Record<string, unknown>;
        logs.push(line);
        lines.emit('line', line);
      }
      done();
    },
  });
  const config = resolveGatewayConfig({
    natsUrl: nats.url,
    mqttPort: 0,
    httpPort: 0,
    host: '127.0.0.1',
    dataDir,
    nodeId: 'test',
    logLevel: 'debug',
    ...overrides,
  });
  const gateway = await startGateway(config, { ...options, log: pino({ level: config.logLevel }, sink) });
  const store = await openGatewayStore({ natsUrl: gateway.natsUrl });
  const token = async (role: Role = 'admin') => (await gateway.people.tokens.create(role)).token;
  let adminToken: Promise<string> | undefined;
  let people = 0;
  const scheme = overrides.tls === 'auto' || overrides.tlsCert ? 'https' : 'http';
  const api = async (path: string, init: RequestInit = {}) => {
    adminToken ??= token('admin');
    const headers = new Headers(init.headers);
    if (!headers.has('authorization')) headers.set('authorization', `Bearer ${await adminToken}`);
    return fetch(`${scheme}://127.0.0.1:${gateway.httpPort}${path}`, { ...init, headers });
  };
  return Object.assign(Object.create(gateway) as Gateway, {
    logs,
    logged(predicate: (line: Record<string, unknown>) => boolean) {
      const found = logs.find(predicate);
      if (found) return Promise.resolve(found);
      return new Promise<Record<string, unknown>>((resolve) => {
        const listener = (line: Record<string, unknown>) => {
          if (!predicate(line)) return;
          lines.off('line', listener);
          resolve(line);
        };
        lines.on('line', listener);
      });
    },
    async addDevice(id: string) {
      return (await store.addDevice(id)).token;
    },
    async removeDevice(id: string) {
      await store.removeDevice(id);
    },
    token,
    api,
    async sessionCookie(role: Role = 'admin') {
      const name = `${role}-${++people}`;
      const password = `test password ${randomUUID()}`;
      await gateway.people.users.addWithPassword(name, role, password);
      const origin = `${scheme}://127.0.0.1:${gateway.httpPort}`;
      const response = await fetch(`${origin}/api/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin },
        body: JSON.stringify({ user: name, password }),
      });
      const cookie = /sentinel_session=([^;]+)/.exec(response.headers.get('set-cookie') ?? '')?.[1];
      if (!response.ok || !cookie)
        throw new Error(`log-in as ${name}: ${response.status} ${await response.text()}`);
      return cookie;
    },
    async metricsText() {
      const response = await api('/metrics');
      if (!response.ok) throw new Error(`GET /metrics: ${response.status} ${await response.text()}`);
      return response.text();
    },
    async stop() {
      await store.close();
      await gateway.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  }) as TestGateway;
}

export interface TestStack {
  nats: TestNats;
  gateway: TestGateway;
  /** a NATS connection of the test's own, as the rest of the platform has */
  bus: NatsConnection;
  stop(): Promise<void>;
}

/** A nats-server, a gateway on it, and a bus connection for the test. */
export async function startStack(overrides: GatewayConfigInput = {}): Promise<TestStack> {
  const nats = await startNats();
  const gateway = await startTestGateway(nats, overrides);
  const bus = await connectTestBus(nats.url);
  return {
    nats,
    gateway,
    bus,
    async stop() {
      await bus.close();
      await gateway.stop();
      await nats.stop();
    },
  };
}
