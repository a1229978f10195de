// `sentinel simulate picket` against a real gateway: the simulated fleet shows
// up as entities, reports readings, obeys commands, and goes offline on stop.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { collect, kvAll } from '../../test/support/bus.js';
import { killStrays, SENTINEL_BIN, track } from '../../test/support/cli.js';
import { startStack, type TestGateway, type TestStack } from '../../test/support/gateway.js';
import type { TestNats } from '../../test/support/nats.js';

let stack: TestStack;
let nats: TestNats;
let gateway: TestGateway;
let bus: NatsConnection;

beforeAll(async () => {
  stack = await startStack();
  ({ nats, gateway, bus } = stack);
});

afterAll(async () => {
  killStrays();
  await stack?.stop();
});

it.each([
  ['MQTT', (gw: TestGateway) => `mqtt://127.0.0.1:${gw.mqttPort}`, 'mq'],
  ['MQTT over WebSocket', (gw: TestGateway) => `ws://127.0.0.1:${gw.httpPort}/mqtt`, 'mqws'],
  ['the picket WebSocket', (gw: TestGateway) => `ws://127.0.0.1:${gw.httpPort}/picket`, 'wsim'],
])(
  'a fleet simulated over %s becomes entities that report and obey',
  async (_name, url, prefix) => {
    const online = await collect<{ device_id: string; online: boolean }>(
      bus,
      'sentinel.device.*.availability',
    );
    const child: ChildProcess = track(
      spawn(
        process.execPath,
        [
          SENTINEL_BIN,
          'simulate',
          'picket',
          '--gateway',
          url(gateway),
          '--count',
          '3',
          '--id-prefix',
          prefix,
          '--interval',
          '200',
          '--register',
          '--nats',
          nats.url,
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      ),
    );
    const ids = [1, 2, 3].map((n) => `picket-${prefix}-${n}`);
    const anyReading = await collect<{ source: { device_id: string } }>(bus, 'sentinel.state.>');
    // a reading means the device is online and its hello registered its entities
    for (const id of ids) await anyReading.next((s) => s.source.device_id === id, 20_000);
    anyReading.stop();

    const entities = [
      ...(
        await kvAll<{ id: string; device_id: string; platform: string }>(bus, 'sentinel_entities')
      ).values(),
    ];
    const relay = entities.find((e) => e.device_id === ids[0] && e.platform === 'switch')!;
    const temperature = entities.find((e) => e.device_id === ids[1] && e.platform === 'sensor')!;
    const readings = await collect<{ value: number }>(bus, `sentinel.state.${temperature.id}`);
    expect(typeof (await readings.next()).value).toBe('number');

    const relayStates = await collect<{ value: boolean }>(bus, `sentinel.state.${relay.id}`);
    const reply = await bus.request(`sentinel.cmd.${relay.id}`, JSON.stringify({ value: true }), {
      timeout: 10_000,
    });
    expect(reply.json()).toEqual({ ok: true });
    expect((await relayStates.next((s) => s.value === true)).value).toBe(true);

    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
    for (const id of ids) await online.next((a) => a.device_id === id && !a.online);
    online.stop();
    readings.stop();
    relayStates.stop();
  },
  60_000,
);
