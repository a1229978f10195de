// "Nothing acknowledged is lost": a QoS 1 reading is PUBACKed only after JetStream
// stored it. Kill nats-server (SIGKILL) under load, bring it back, and count.
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connectTestBus, entityIdsOf, kvValue } from '../../test/support/bus.js';
import { startStack, type TestGateway, type TestStack } from '../../test/support/gateway.js';
import type { TestNats } from '../../test/support/nats.js';
import { connectDevice } from '../../test/support/picket.js';

let stack: TestStack;
let nats: TestNats;
let gateway: TestGateway;

beforeAll(async () => {
  stack = await startStack({ deviceRate: 0 });
  ({ nats, gateway } = stack);
});

afterAll(async () => {
  await stack?.stop();
});

/** Every value stored in SENTINEL_HISTORY for one entity, in stream order. */
async function storedValues(bus: NatsConnection, entityId: string): Promise<number[]> {
  const subject = `sentinel.state.${entityId}`;
  const jsm = await jetstreamManager(bus);
  const { state } = await jsm.streams.info('SENTINEL_HISTORY');
  const values: number[] = [];
  // nats-server 2.9 has no multi-message get; one request per stored message is fine for a few thousand
  for (let seq = state.first_seq; seq <= state.last_seq; seq++) {
    const msg = await jsm.streams.getMessage('SENTINEL_HISTORY', { seq }).catch(() => null);
    if (msg?.subject === subject) values.push(msg.json<{ value: number }>().value);
  }
  return values;
}

/** A device with one sensor `key`, connected (reconnecting as firmware does) and registered. */
async function sensorDevice(id: string, key: string) {
  const client = await connectDevice(gateway, id, await gateway.addDevice(id), { reconnectPeriod: 100 });
  const hello = { v: 1, fw: '1', chip: 'esp32', entities: [{ key, platform: 'sensor' }] };
  await client.publishAsync(`picket/${id}/hello`, JSON.stringify(hello), { qos: 1 });
  const entityId = (await entityIdsOf(stack.bus, `picket-${id}`))[key]!;
  return { client, entityId };
}

it('loses no acknowledged QoS 1 reading when nats-server is killed under load, and stores none twice', async () => {
  const { client, entityId } = await sensorDevice('durable', 'counter');

  const total = 3000;
  const acked = new Set<number>();
  let pendingDuringOutage = 0;
  let killAt = 0;
  let restarted!: Promise<void>;
  let killedOnce = false;
  const publishes: Promise<unknown>[] = [];
  // keep a window of 100 readings in flight, like a device with a backlog
  let next = 0;
  await new Promise<void>((resolve) => {
    const pump = () => {
      while (next < total && next - acked.size < 100) {
        const seq = next++;
        publishes.push(
          client
            .publishAsync('picket/durable/state', JSON.stringify({ seq, values: { counter: seq } }), {
              qos: 1,
            })
            .then(() => {
              acked.add(seq);
              if (!killedOnce && acked.size >= 1000) {
                killedOnce = true;
                killAt = acked.size;
                restarted = nats.kill().then(async () => {
                  pendingDuringOutage = next - acked.size;
                  await nats.restart();
                });
              }
              if (acked.size === total) resolve();
              pump();
            }),
        );
      }
    };
    pump();
  });
  await restarted;
  await Promise.all(publishes);
  expect(killAt).toBeGreaterThanOrEqual(1000);
  expect(pendingDuringOutage).toBeGreaterThan(0);
  expect(acked.size).toBe(total);

  const bus = await connectTestBus(nats.url);
  const stored = await storedValues(bus, entityId);
  // the latest state in KV caught up after the outage too
  const latest = await kvValue<{ value: number }>(
    bus,
    'sentinel_state',
    entityId,
    (s) => s.value === total - 1,
  );
  expect(latest.value).toBe(total - 1);
  await bus.close();
  const storedSet = new Set(stored);
  const lost = [...acked].filter((seq) => !storedSet.has(seq));
  expect(lost).toEqual([]);
  expect(stored.length).toBe(storedSet.size); // resent readings were not stored twice
  expect(
    Number(/sentinel_durable_publish_retries_total (\d+)/.exec(await gateway.metricsText())?.[1]),
  ).toBeGreaterThan(0);
  await client.endAsync();
}, 60_000);

it('holds the PUBACK of a QoS 1 reading while NATS is down, and sends it once the reading is stored', async () => {
  const { client, entityId } = await sensorDevice('patient', 'level');
  await nats.kill();
  await gateway.logged((line) => line.msg === 'NATS disconnected; reconnecting');
  let acknowledgedAt = 0;
  const publish = client
    .publishAsync('picket/patient/state', JSON.stringify({ seq: 1, values: { level: 7 } }), { qos: 1 })
    .then(() => {
      acknowledgedAt = Date.now();
    });
  // the gateway tries to store it, fails, and keeps the device waiting
  await gateway.logged((line) => line.msg === 'durable publish failed; retrying');
  expect(acknowledgedAt).toBe(0);
  const restartedAt = Date.now();
  await nats.restart();
  await publish;
  expect(acknowledgedAt).toBeGreaterThanOrEqual(restartedAt);

  const bus = await connectTestBus(nats.url);
  expect(await storedValues(bus, entityId)).toEqual([7]);
  await bus.close();
  await client.endAsync();
}, 60_000);
