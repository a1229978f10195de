// The latest-state cache against a real nats-server: a reading that arrives while the
// stored states are being read from KV sentinel_state (at start, or for one entity when
// it becomes available) is newer and stays — the stored one never comes back over it.
import type { NatsConnection } from '@nats-io/transport-node';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connectTestBus } from '../../test/support/bus.js';
import { startNats, type TestNats } from '../../test/support/nats.js';
import { type Bus, openBus } from '../src/bus/bus.js';
import { DurablePublisher } from '../src/bus/durable-publisher.js';
import { createMetrics } from '../src/metrics.js';
import { type StateMessage, StatePublisher } from '../src/model/state.js';

let nats: TestNats;
let nc: NatsConnection;
let bus: Bus;
const publishers: StatePublisher[] = [];

beforeAll(async () => {
  nats = await startNats();
  nc = await connectTestBus(nats.url);
  bus = await openBus(nc);
});
afterAll(async () => {
  for (const publisher of publishers) publisher.stop();
  await nc?.close();
  await nats?.stop();
});

function publisher(): StatePublisher {
  const state = new StatePublisher(
    nc,
    new DurablePublisher(nc, 5000),
    bus.kv.state,
    createMetrics(),
    pino({ level: 'silent' }),
    60_000,
  );
  publishers.push(state);
  return state;
}

const source = { protocol: 'picket', device_id: 'picket-race', key: 'temperature' };
const reading = (entity_id: string, value: number, ts: number): StateMessage => ({
  entity_id,
  value,
  ts,
  source,
});

/** What a previous run left in KV: an older reading, the device gone. */
async function stored(entityId: string, value: number, ts: number): Promise<void> {
  await bus.kv.state.put(entityId, JSON.stringify({ ...reading(entityId, value, ts), available: false }));
}

it('keeps a reading that arrives while the stored states load at start', async () => {
  await stored('race-load', 20, 1000);
  await stored('race-load-other', 7, 1000);
  const state = publisher();
  const loading = state.load();
  // in the same turn: before KV has answered
  void state.publish(reading('race-load', 25, 2000));
  expect(await loading).toBeGreaterThanOrEqual(2);
  expect(state.latest('race-load')).toMatchObject({ value: 25, ts: 2000 });
  // and an entity without a new reading shows the stored one
  expect(state.latest('race-load-other')).toMatchObject({ value: 7, ts: 1000, available: false });
});

it('keeps a reading that arrives while an entity becoming available reads its stored state', async () => {
  await stored('race-available', 20, 1000);
  // an entity this node knows nothing of yet (written by another node since it started)
  const state = publisher();
  const available = state.setAvailability('race-available', true);
  void state.publish(reading('race-available', 25, 2000));
  await available;
  expect(state.latest('race-available')).toMatchObject({ value: 25, ts: 2000, available: true });
});

it('does not take an older stored state over a newer one, nor a late resend over the stored one', async () => {
  await stored('race-older', 30, 5000);
  const state = publisher();
  await state.load();
  void state.publish(reading('race-older', 10, 4000));
  expect(state.latest('race-older')).toMatchObject({ value: 30, ts: 5000 });
});
