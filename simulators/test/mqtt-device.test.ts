// A simulated picket against a real MQTT broker (aedes), over TCP and over
// WebSocket: what a gateway would see on the wire.
import { CommandResultSchema, HelloSchema, type State, StateSchema } from '@sentinel/firmware';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PicketDevice, type PicketDeviceOptions, waitForEvent } from '../src/index.js';
import { DEFAULT_HELLO_ENTITIES } from './support/default-entities.js';
import { type PublishRecord, startTestBroker, type TestBroker } from './support/mqtt-broker.js';

const TOKENS = new Map([['kitchen', 'tok-kitchen']]);
const topic = (kind: string) => `picket/kitchen/${kind}`;
const stateOf = (p: PublishRecord): State => StateSchema.parse(JSON.parse(p.payload));

describe.each([
  { transport: 'MQTT over TCP', url: (broker: TestBroker) => broker.url },
  { transport: 'MQTT over WebSocket', url: (broker: TestBroker) => broker.wsUrl },
])('picket device, $transport', ({ url }) => {
  let broker: TestBroker;
  let device: PicketDevice | undefined;

  beforeEach(async () => {
    broker = await startTestBroker(TOKENS);
  });
  afterEach(async () => {
    await device?.stop();
    device = undefined;
    await broker.close();
  });

  function startDevice(options: Partial<PicketDeviceOptions> = {}): PicketDevice {
    device = new PicketDevice({
      id: 'kitchen',
      token: 'tok-kitchen',
      gateway: url(broker),
      intervalMs: 40,
      backoff: { initialMs: 20, maxMs: 200 },
      ...options,
    });
    device.start();
    return device;
  }

  it('connects as <id> with its token, a clean session and a retained offline will, then says online', async () => {
    const connected = waitForEvent(startDevice(), 'connected');
    await connected;
    const connect = await broker.connects.first((c) => c.clientId === 'kitchen');
    expect(connect).toEqual({
      clientId: 'kitchen',
      username: 'kitchen',
      password: 'tok-kitchen',
      clean: true,
      will: { topic: topic('status'), payload: 'offline', qos: 1, retain: true },
    });
    const status = await broker.publishes.first((p) => p.topic === topic('status'));
    expect(status).toMatchObject({ payload: 'online', retain: true, qos: 1, clientId: 'kitchen' });
  });

  it('says hello, then streams schema-valid states with seq 0, 1, 2, … at QoS 1', async () => {
    startDevice();
    await broker.publishes.first((p) => p.topic === topic('state') && stateOf(p).seq >= 3);

    const all = broker.publishes.items;
    const helloAt = all.findIndex((p) => p.topic === topic('hello'));
    const firstStateAt = all.findIndex((p) => p.topic === topic('state'));
    expect(helloAt).toBeGreaterThanOrEqual(0);
    expect(helloAt).toBeLessThan(firstStateAt);

    const hello = HelloSchema.parse(JSON.parse(all[helloAt]!.payload));
    expect(hello.entities).toEqual(DEFAULT_HELLO_ENTITIES);

    const states = broker.publishes.filter((p) => p.topic === topic('state'));
    expect(states.every((p) => p.qos === 1)).toBe(true);
    const parsed = states.map(stateOf);
    expect(parsed.slice(0, 4).map((s) => s.seq)).toEqual([0, 1, 2, 3]);
    for (const state of parsed) {
      expect(state.ts).toBeGreaterThan(Date.now() - 60_000);
      const { temperature, humidity, relay } = state.values;
      expect(temperature).toBeTypeOf('number');
      expect(Math.abs((temperature as number) - 21)).toBeLessThan(5);
      expect(Number.isInteger(Math.round((temperature as number) * 10))).toBe(true);
      expect(humidity).toBeGreaterThanOrEqual(0);
      expect(humidity).toBeLessThanOrEqual(100);
      expect(relay).toBe(false);
    }
  });

  it('publishes states at QoS 0 when asked', async () => {
    startDevice({ qos: 0 });
    const state = await broker.publishes.first((p) => p.topic === topic('state'));
    expect(state.qos).toBe(0);
  });

  it('switches the relay on command, answers on cmd/result and publishes the new state at once', async () => {
    // a long interval: only the command can explain a second state message
    const d = startDevice({ intervalMs: 60_000 });
    await waitForEvent(d, 'connected');
    await broker.publishes.first((p) => p.topic === topic('state'));

    await broker.publish(topic('cmd'), JSON.stringify({ cid: 'c-1', key: 'relay', value: true }));
    const result = await broker.publishes.first((p) => p.topic === topic('cmd/result'));
    expect(CommandResultSchema.parse(JSON.parse(result.payload))).toEqual({ cid: 'c-1', ok: true });
    const after = await broker.publishes.first((p) => p.topic === topic('state') && stateOf(p).seq === 1);
    expect(stateOf(after).values.relay).toBe(true);
    expect(broker.publishes.items.indexOf(result)).toBeLessThan(broker.publishes.items.indexOf(after));

    await broker.publish(topic('cmd'), JSON.stringify({ cid: 'c-2', key: 'relay', value: false }));
    const off = await broker.publishes.first((p) => p.topic === topic('state') && stateOf(p).seq === 2);
    expect(stateOf(off).values.relay).toBe(false);
  });

  it('refuses unknown keys, read-only entities and bad values with ok:false and a reason', async () => {
    const d = startDevice({ intervalMs: 60_000 });
    await waitForEvent(d, 'connected');
    const results = async (cid: string) =>
      CommandResultSchema.parse(
        JSON.parse(
          (await broker.publishes.first((p) => p.topic === topic('cmd/result') && p.payload.includes(cid)))
            .payload,
        ),
      );

    await broker.publish(topic('cmd'), JSON.stringify({ cid: 'unknown', key: 'heater', value: true }));
    await broker.publish(topic('cmd'), JSON.stringify({ cid: 'readonly', key: 'temperature', value: 30 }));
    await broker.publish(topic('cmd'), JSON.stringify({ cid: 'badvalue', key: 'relay', value: 'on' }));
    expect(await results('unknown')).toEqual({ cid: 'unknown', ok: false, error: 'unknown key "heater"' });
    expect(await results('readonly')).toEqual({
      cid: 'readonly',
      ok: false,
      error: 'temperature is read-only',
    });
    expect(await results('badvalue')).toEqual({
      cid: 'badvalue',
      ok: false,
      error: 'relay expects value true or false',
    });
    // no state follows a refused command
    expect(broker.publishes.filter((p) => p.topic === topic('state'))).toHaveLength(1);
  });

  it('reports a command that fails the schema and carries on', async () => {
    const d = startDevice({ intervalMs: 60_000 });
    await waitForEvent(d, 'connected');
    const problem = waitForEvent(d, 'problem');
    await broker.publish(topic('cmd'), '{"key":"relay"}');
    const [reported] = await problem;
    expect(reported.code).toBe('bad_frame');
    await broker.publish(topic('cmd'), JSON.stringify({ cid: 'after', key: 'relay', value: true }));
    await broker.publishes.first((p) => p.topic === topic('cmd/result') && p.payload.includes('after'));
  });

  it('leaves its will behind when the connection dies, then comes back online', async () => {
    const d = startDevice();
    await waitForEvent(d, 'connected');
    const back = waitForEvent(d, 'connected');
    broker.client('kitchen')!.conn.destroy();

    const will = await broker.publishes.first((p) => p.topic === topic('status') && p.payload === 'offline');
    expect(will).toMatchObject({ retain: true, qos: 1 });
    await back;
    const statuses = broker.publishes.filter((p) => p.topic === topic('status')).map((p) => p.payload);
    expect(statuses).toEqual(['online', 'offline', 'online']);
  });

  it('reconnects after the broker restarts, says hello again and never reuses a seq', async () => {
    const d = startDevice();
    await waitForEvent(d, 'connected');
    await broker.publishes.first((p) => p.topic === topic('state') && stateOf(p).seq >= 2);
    const back = waitForEvent(d, 'connected');
    await broker.restart();
    await back;
    const highestBefore = Math.max(
      ...broker.publishes.filter((p) => p.topic === topic('state')).map((p) => stateOf(p).seq),
    );
    await broker.publishes.next((p) => p.topic === topic('state') && stateOf(p).seq > highestBefore);

    expect(broker.connects.filter((c) => c.clientId === 'kitchen')).toHaveLength(2);
    expect(broker.publishes.filter((p) => p.topic === topic('hello'))).toHaveLength(2);
    const seqs = broker.publishes.filter((p) => p.topic === topic('state')).map((p) => stateOf(p).seq);
    // resends after the restart repeat a seq on purpose; a fresh reading never does
    expect(new Set(seqs).size).toBeGreaterThanOrEqual(highestBefore + 2);
    expect(Math.max(...seqs)).toBe(new Set(seqs).size - 1);
  });

  it('is refused with a wrong token, says so, and keeps retrying', async () => {
    const d = startDevice({ token: 'wrong' });
    const [problem] = await waitForEvent(d, 'problem');
    expect(problem.code).toBe('refused');
    const [retry] = await waitForEvent(d, 'retrying');
    expect(retry.delayMs).toBeGreaterThan(0);
    await waitForEvent(d, 'problem', { filter: (p) => p.code === 'refused' });
    expect(broker.connects.filter((c) => c.clientId === 'kitchen').length).toBeGreaterThanOrEqual(2);
    expect(d.status).not.toBe('connected');
  });

  it('stops cleanly: announces offline itself, and the broker sees a normal disconnect', async () => {
    const d = startDevice();
    await waitForEvent(d, 'connected');
    const gone = broker.gone.next((id) => id === 'kitchen');
    await d.stop();
    await gone;
    const statuses = broker.publishes.filter((p) => p.topic === topic('status'));
    expect(statuses.map((p) => [p.payload, p.clientId])).toEqual([
      ['online', 'kitchen'],
      ['offline', 'kitchen'],
    ]);
    expect(d.status).toBe('idle');
  });
});
