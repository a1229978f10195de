// The Matter adapter against a scripted matter server (the API's envelope, written by the
// bridge's own JSON writer), for what the real bridge will not send on demand: garbage and
// unknown messages (counted with a reason, the connection and the node carry on), a node
// id beyond 2^53, a Matter status error and a silent server as command replies, a node's
// reachability, a dead first server in the --matter-url list, and a schema we do not speak.
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type WebSocket, WebSocketServer } from 'ws';
import { parseMatterJson, stringifyMatterJson } from '../../bridges/matter/src/index.js';
import { collect, connectTestBus, entityIdsOf, kvValue } from '../../test/support/bus.js';
import { until } from '../../test/support/cluster.js';
import { startTestGateway, type TestGateway } from '../../test/support/gateway.js';
import { startNats, type TestNats } from '../../test/support/nats.js';
import { ConfigError, resolveGatewayConfig } from '../src/config.js';
import { MatterApiClient, MatterConnectionError } from '../src/matter/client.js';
import { matterUrls } from '../src/matter/index.js';

type Request = { message_id: string; command: string; args?: Record<string, unknown> };
type Answer = { result: unknown } | { error_code: number; details: string } | 'silence';

/** A matter server speaking the API's envelope, answering commands as the test says. */
async function scriptedServer(info: Record<string, unknown> = {}) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(wss, 'listening');
  const sockets = new Set<WebSocket>();
  const requests: Request[] = [];
  let connections = 0;
  const server = {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/ws`,
    requests,
    get connections() {
      return connections;
    },
    answer: (_request: Request): Answer => ({ result: null }),
    send(message: unknown) {
      const text = typeof message === 'string' ? message : stringifyMatterJson(message);
      for (const socket of sockets) socket.send(text);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.terminate();
        wss.close(() => resolve());
      }),
  };
  wss.on('connection', (socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.send(
      stringifyMatterJson({
        fabric_id: 1n,
        compressed_fabric_id: 0xa1b2c3d4e5f60718n,
        schema_version: 13,
        min_supported_schema_version: 11,
        sdk_version: 'scripted',
        wifi_credentials_set: false,
        thread_credentials_set: false,
        bluetooth_enabled: false,
        ...info,
      }),
    );
    socket.on('message', (data) => {
      const request = parseMatterJson(data.toString()) as Request;
      requests.push(request);
      const answer = server.answer(request);
      if (answer !== 'silence')
        socket.send(stringifyMatterJson({ message_id: request.message_id, ...answer }));
    });
  });
  return server;
}

/** beyond 2^53: JSON.parse would round it */
const NODE_ID = 0xfedcba9876543210n;
const DEVICE_ID = `matter-${NODE_ID}`;
const plug = (available: boolean, on: boolean) => ({
  node_id: NODE_ID,
  date_commissioned: '2026-01-01T00:00:00.000Z',
  last_interview: '2026-01-01T00:00:00.000Z',
  interview_version: 6,
  available,
  is_bridge: false,
  attributes: {
    '0/40/1': 'Acme',
    '0/40/3': 'Smart Plug',
    '0/40/5': 'Kettle',
    '1/29/0': [{ 0: 0x010a, 1: 1 }],
    '1/6/0': on,
  },
  attribute_subscriptions: [],
});

describe('Matter adapter: bad input, errors and reachability', () => {
  let nats: TestNats;
  let server: Awaited<ReturnType<typeof scriptedServer>>;
  let gateway: TestGateway;
  let bus: NatsConnection;
  let switchId: string;
  const command = async (request: unknown) =>
    (await bus.request(`sentinel.cmd.${switchId}`, JSON.stringify(request), { timeout: 10_000 })).json<{
      ok: boolean;
      error?: { code: string; message: string };
    }>();

  beforeAll(async () => {
    nats = await startNats();
    server = await scriptedServer();
    server.answer = (request) =>
      request.command === 'start_listening' ? { result: [plug(true, false)] } : { result: null };
    // the first server in the list is not there: the adapter goes on to the next
    const dead = await scriptedServer();
    const deadUrl = dead.url;
    await dead.close();
    gateway = await startTestGateway(nats, { matterUrl: `${deadUrl},${server.url}`, commandTimeoutMs: 1500 });
    bus = await connectTestBus(nats.url);
  });

  afterAll(async () => {
    await bus?.close();
    await gateway?.stop();
    await server?.close();
    await nats?.stop();
  });

  it('a node from the second server: device matter-<every digit of its 64-bit id>, a plug as an outlet switch', async () => {
    const device = await kvValue<Record<string, unknown>>(
      bus,
      'sentinel_devices',
      DEVICE_ID,
      (d) => d.online === true,
    );
    expect(device).toMatchObject({
      protocol: 'matter',
      name: 'Kettle',
      model: 'Smart Plug',
      manufacturer: 'Acme',
    });
    switchId = await until(async () => (await entityIdsOf(bus, DEVICE_ID))['switch-1']);
    expect(await kvValue(bus, 'sentinel_entities', switchId)).toMatchObject({
      platform: 'switch',
      device_class: 'outlet',
    });
    expect(await gateway.metricsText()).toMatch(
      /sentinel_matter_connection_failures_total\{reason="cannot_connect"\} [1-9]/,
    );
  });

  it('drops garbage and unknown messages with a reason each, and keeps the connection and the node', async () => {
    const states = await collect<{ value: unknown }>(bus, `sentinel.state.${switchId}`);
    server.send('{not json');
    server.send({ hello: 'world' });
    server.send({ message_id: 'never-asked', result: 1 });
    server.send({ event: 'mystery_event', data: {} });
    server.send({ event: 'attribute_updated', data: [NODE_ID, '1/6/0'] });
    server.send({ event: 'attribute_updated', data: [42, '1/6/0', true] });
    server.send({ event: 'attribute_updated', data: [NODE_ID, '1/six/0', true] });
    server.send({ event: 'node_added', data: { node_id: 'seven' } });
    server.send({ event: 'node_removed', data: 'seven' });
    // and then a real report, on the same connection
    server.send({ event: 'attribute_updated', data: [NODE_ID, '1/6/0', true] });
    await states.next((s) => s.value === true);
    const metrics = await gateway.metricsText();
    for (const reason of [
      'malformed_json',
      'schema_invalid',
      'unknown_message_id',
      'unknown_event',
      'bad_event',
      'unknown_node',
      'bad_path',
      'bad_node',
    ])
      expect(metrics).toMatch(
        new RegExp(`sentinel_matter_messages_rejected_total\\{reason="${reason}"\\} [1-9]`),
      );
    expect(server.connections).toBe(1);
    expect(await kvValue(bus, 'sentinel_devices', DEVICE_ID)).toMatchObject({ online: true });
    states.stop();
  });

  it('sends device_command with the exact node id and answers ok after the server did', async () => {
    expect(await command({ value: true })).toEqual({ ok: true });
    const sent = server.requests.findLast((r) => r.command === 'device_command');
    expect(sent?.args).toMatchObject({
      node_id: NODE_ID,
      endpoint_id: 1,
      cluster_id: 6,
      command_name: 'On',
      payload: {},
    });
  });

  it('a Matter status error from the node is a failed command reply with that status', async () => {
    server.answer = () => ({
      error_code: 7,
      details: 'On failed: Received status UnsupportedCommand (0x81)',
    });
    const reply = await command({ value: true });
    expect(reply).toMatchObject({ ok: false, error: { code: 'rejected' } });
    expect(reply.error?.message).toContain('UnsupportedCommand (0x81)');
    server.answer = () => ({ error_code: 5, details: 'Node does not exist' });
    expect(await command({ value: true })).toMatchObject({ ok: false, error: { code: 'unavailable' } });
    server.answer = () => 'silence';
    expect(await command({ value: false })).toMatchObject({ ok: false, error: { code: 'timeout' } });
    server.answer = () => ({ result: null });
    expect(await gateway.metricsText()).toMatch(/sentinel_matter_commands_total\{result="rejected"\} 1/);
  });

  it("follows the node's reachability from node_updated", async () => {
    const availability = await collect<{ available: boolean }>(
      bus,
      `sentinel.entity.${switchId}.availability`,
    );
    server.send({ event: 'node_updated', data: plug(false, true) });
    await availability.next((a) => !a.available);
    await kvValue(bus, 'sentinel_devices', DEVICE_ID, (d: { online: boolean }) => !d.online);
    expect(await command({ value: true })).toMatchObject({ ok: false, error: { code: 'unavailable' } });
    server.send({ event: 'node_updated', data: plug(true, true) });
    await availability.next((a) => a.available);
    expect(await command({ value: true })).toEqual({ ok: true });
    availability.stop();
  });

  it('refuses a server whose schema we do not speak', async () => {
    const future = await scriptedServer({ schema_version: 20, min_supported_schema_version: 18 });
    try {
      const error = await MatterApiClient.connect(future.url).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MatterConnectionError);
      expect((error as MatterConnectionError).reason).toBe('version_mismatch');
    } finally {
      await future.close();
    }
  });
});

describe('--matter-url', () => {
  it('takes ws:// and wss:// URLs, comma-separated, from the flag or SENTINEL_MATTER_URL', () => {
    const list = 'ws://127.0.0.1:5580/ws, wss://bridge.local/ws';
    expect(matterUrls(resolveGatewayConfig({}, { SENTINEL_MATTER_URL: list }).matterUrl)).toEqual([
      'ws://127.0.0.1:5580/ws',
      'wss://bridge.local/ws',
    ]);
    expect(resolveGatewayConfig({ matterUrl: 'ws://a/ws' }, { SENTINEL_MATTER_URL: list }).matterUrl).toBe(
      'ws://a/ws',
    );
    expect(matterUrls(resolveGatewayConfig({}, {}).matterUrl)).toBeUndefined();
  });

  it('refuses anything else, naming where it came from', () => {
    expect(() => resolveGatewayConfig({ matterUrl: 'http://127.0.0.1:5580/ws' })).toThrow(ConfigError);
    expect(() => resolveGatewayConfig({ matterUrl: 'ws://a/ws,nonsense' })).toThrow(
      /^--matter-url: use ws:\/\//,
    );
    expect(() => resolveGatewayConfig({}, { SENTINEL_MATTER_URL: 'localhost:5580' })).toThrow(
      /^SENTINEL_MATTER_URL:/,
    );
  });
});
