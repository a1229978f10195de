// An in-process gateway for tests, on a test nats-server, with logs captured so
// tests can assert on the reasons the gateway gives.
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
  /** the text of GET /metrics */
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
    async metricsText() {
      return (await fetch(`http://127.0.0.1:${gateway.httpPort}/metrics`)).text();
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
