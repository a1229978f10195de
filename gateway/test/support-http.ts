// A real gateway with the Fastify HTTP layer and the in-memory people stand-in, a bus
// connection, and raw HTTP requests (node:http, so tests may send any Host header).
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { NatsConnection } from '@nats-io/transport-node';
import type { MqttClient } from 'mqtt';
import WebSocket from 'ws';
import { connectTestBus, entityIdsOf } from '../../test/support/bus.js';
import { startTestGateway, type TestGateway } from '../../test/support/gateway.js';
import { startNats, type TestNats } from '../../test/support/nats.js';
import { confirmCommands, connectDevice } from '../../test/support/picket.js';
import { TestPeople } from './support-people.js';

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  /** the body as sent (compressed when content-encoding says so) */
  raw: Buffer;
  text: string;
  json<T = Record<string, unknown>>(): T;
}

export interface RequestOptions {
  body?: unknown;
  /** a session cookie value */
  cookie?: string;
  /** an API token */
  token?: string;
  headers?: Record<string, string>;
}

export interface HttpStack {
  nats: TestNats;
  gateway: TestGateway;
  bus: NatsConnection;
  people: TestPeople;
  origin: string;
  call(method: string, path: string, options?: RequestOptions): Promise<Answer>;
  stop(): Promise<void>;
}

export async function startHttpStack(webRoot?: string): Promise<HttpStack> {
  const nats = await startNats();
  const people = new TestPeople();
  const gateway = await startTestGateway(nats, {}, { http: { auth: people, people, webRoot } });
  const bus = await connectTestBus(nats.url);
  const origin = `http://127.0.0.1:${gateway.httpPort}`;
  const call = (method: string, path: string, options: RequestOptions = {}) =>
    new Promise<Answer>((resolve, reject) => {
      const headers: Record<string, string> = { ...options.headers };
      let body: string | undefined;
      if (options.body !== undefined) {
        body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
        headers['content-type'] ??= 'application/json';
      }
      if (options.cookie) headers.cookie = `sentinel_session=${options.cookie}`;
      if (options.token) headers.authorization = `Bearer ${options.token}`;
      // what a browser adds to its own page's requests
      if (options.cookie && !('origin' in headers) && method !== 'GET') headers.origin = origin;
      const req = httpRequest(`${origin}${path}`, { method, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const raw = Buffer.concat(chunks);
          const text = raw.toString('utf8');
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            raw,
            text,
            json: <T>() => JSON.parse(text) as T,
          });
        });
      });
      req.on('error', reject);
      req.end(body);
    });
  return {
    nats,
    gateway,
    bus,
    people,
    origin,
    call,
    async stop() {
      await bus.close();
      await gateway.stop();
      await nats.stop();
    },
  };
}

export const LOUNGE_HELLO = {
  v: 1,
  fw: '3.1.0',
  chip: 'esp32',
  name: 'Lounge',
  entities: [
    { key: 'temperature', platform: 'sensor', unit: '°C' },
    { key: 'lamp', platform: 'switch' },
  ],
};

/** A picket device that says hello, confirms every command, and records the commands it got. */
export async function loungeDevice(stack: HttpStack, id = 'lounge') {
  const token = await stack.gateway.addDevice(id);
  const device: MqttClient = await connectDevice(stack.gateway, id, token);
  const commands: unknown[] = [];
  await confirmCommands(device, id, (command) => commands.push(command));
  await device.publishAsync(`picket/${id}/hello`, JSON.stringify(LOUNGE_HELLO), { qos: 1 });
  // the hello's PUBACK comes once the gateway handled it: its entities are in KV by now
  const ids = await entityIdsOf(stack.bus, `picket-${id}`);
  return { device, commands, ids, token };
}

/** The value of one Prometheus sample in /metrics text (0 when absent). */
export function metric(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `));
  return line ? Number(line.split(' ').pop()) : 0;
}

/** The HTTP status a WebSocket upgrade was refused with (undefined: it opened, and is closed again). */
export function upgradeStatus(
  url: string,
  headers: Record<string, string> = {},
): Promise<number | undefined> {
  const ws = new WebSocket(url, { headers });
  ws.on('error', () => {}); // the refusal is the answer
  return new Promise((resolve) => {
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode);
      res.resume();
      ws.terminate();
    });
    ws.on('open', () => {
      resolve(undefined);
      ws.close();
    });
  });
}
