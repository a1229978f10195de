// The subscriber at the far end: counts readings, measures their latency
// (receive time − send time encoded by the generator, see lib/clock.ts), and
// reports progress so the generators know what is no longer in flight.
//   gateway: NATS core subscription on `sentinel.state.>` (one message per reading)
//   bare brokers: MQTT subscription on `picket/+/state` (one message per state,
//   holding one reading per value)
import { connect as connectNats, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import mqtt, { type MqttClient } from 'mqtt';
import { decodeSendTime, nowMs } from '../lib/clock.js';
import { LatencyHistogram } from '../lib/histogram.js';
import { emitEvent, serveRequests } from '../lib/ipc.js';
import { generatorOf, type SinkProgress, type SinkReply, type SinkRequest } from '../lib/protocol.js';

/** Progress (= credit for the generators) goes out at most this often, and soon after readings arrive. */
const PROGRESS_INTERVAL_MS = 1;

interface Counters {
  scenario: number;
  received: number;
  perGenerator: number[];
  inWindow: number;
  fromMs: number;
  toMs: number;
  histogram: LatencyHistogram;
  foreign: number;
  negative: number;
  /** picket ids heard from, when asked to track them */
  devices?: Set<string>;
}

let generators = 1;
let counters = freshCounters(0);
let lastEmitted = -1;
let progressScheduled = false;

let mqttClient: MqttClient | undefined;
let nats: { connection: NatsConnection; subscription?: Subscription } | undefined;
let connectedTo = '';

function freshCounters(scenario: number, trackDevices = false): Counters {
  return {
    devices: trackDevices ? new Set() : undefined,
    scenario,
    received: 0,
    perGenerator: new Array<number>(generators).fill(0),
    inWindow: 0,
    fromMs: Number.POSITIVE_INFINITY,
    toMs: Number.NEGATIVE_INFINITY,
    histogram: new LatencyHistogram(),
    foreign: 0,
    negative: 0,
  };
}

/**
 * One message that carries `readings` readings, all sent at the time encoded by
 * ts/value. `source` names the device: `picket-<id>` or `picket/<id>/state`.
 * Messages that are not ours (no send time, no generator) count only as foreign.
 */
function onReadings(source: string, ts: unknown, value: unknown, readings: number): void {
  const receivedAt = nowMs();
  const c = counters;
  const sentAt = decodeSendTime(ts, value);
  const generator = generatorOf(source);
  if (sentAt === undefined || generator === undefined || generator >= c.perGenerator.length) {
    c.foreign += readings;
    return;
  }
  c.devices?.add(source.startsWith('picket/') ? source.split('/')[1]! : source.replace(/^picket-/, ''));
  c.received += readings;
  c.perGenerator[generator]! += readings;
  if (!progressScheduled) {
    progressScheduled = true;
    setTimeout(emitProgress, PROGRESS_INTERVAL_MS);
  }
  if (receivedAt < c.fromMs || receivedAt > c.toMs) return;
  c.inWindow += readings;
  let latency = receivedAt - sentAt;
  if (latency < 0) {
    c.negative += readings;
    latency = 0;
  }
  for (let i = 0; i < readings; i++) c.histogram.record(latency);
}

function onMqttMessage(topic: string, payload: Buffer): void {
  try {
    const state = JSON.parse(payload.toString()) as { ts?: unknown; values?: Record<string, unknown> };
    const values = state.values ?? {};
    let readings = 0;
    let first: unknown;
    for (const key in values) {
      if (readings === 0) first = values[key];
      readings += 1;
    }
    onReadings(topic, state.ts, first, Math.max(1, readings));
  } catch {
    counters.foreign += 1;
  }
}

function onNatsMessage(data: Uint8Array): void {
  try {
    const state = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString()) as {
      ts?: unknown;
      value?: unknown;
      source?: { device_id?: unknown };
    };
    const source = typeof state.source?.device_id === 'string' ? state.source.device_id : '';
    onReadings(source, state.ts, state.value, 1);
  } catch {
    counters.foreign += 1;
  }
}

async function closeConnections(): Promise<void> {
  if (mqttClient) {
    await mqttClient.endAsync(true).catch(() => undefined);
    mqttClient = undefined;
  }
  if (nats) {
    await nats.connection.close().catch(() => undefined);
    nats = undefined;
  }
  connectedTo = '';
}

async function subscribe(request: Extract<SinkRequest, { type: 'subscribe' }>): Promise<void> {
  generators = request.generators;
  const target = `${request.kind} ${request.url}`;
  if (connectedTo !== target) {
    await closeConnections();
    if (request.kind === 'mqtt') {
      mqttClient = await mqtt.connectAsync(request.url, {
        protocolVersion: 4,
        clientId: `bench-sink-${process.pid}`,
        clean: true,
        reconnectPeriod: 0,
        connectTimeout: 10_000,
      });
      (mqttClient.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
      mqttClient.on('message', onMqttMessage);
    } else {
      nats = { connection: await connectNats({ servers: request.url, name: 'bench-sink' }) };
    }
    connectedTo = target;
  }
  if (mqttClient) {
    await mqttClient.unsubscribeAsync('picket/+/state');
    await mqttClient.subscribeAsync('picket/+/state', { qos: request.qos });
  }
  if (nats && !nats.subscription) {
    nats.subscription = nats.connection.subscribe('sentinel.state.>', {
      callback: (error, message) => {
        if (!error) onNatsMessage(message.data);
      },
    });
    await nats.connection.flush();
  }
}

function emitProgress(): void {
  progressScheduled = false;
  if (counters.received === lastEmitted) return;
  lastEmitted = counters.received;
  const progress: SinkProgress = {
    type: 'progress',
    scenario: counters.scenario,
    perGenerator: [...counters.perGenerator],
  };
  emitEvent(progress);
}

serveRequests<SinkRequest, SinkReply>(async (request) => {
  switch (request.type) {
    case 'subscribe':
      await subscribe(request);
      return { type: 'subscribed' };
    case 'reset':
      counters = freshCounters(request.scenario, request.trackDevices);
      lastEmitted = -1;
      return { type: 'reset' };
    case 'window':
      counters.fromMs = request.fromMs;
      counters.toMs = request.toMs;
      return { type: 'window' };
    case 'seen':
      return { type: 'seen', ids: [...(counters.devices ?? [])] };
    case 'report':
      return {
        type: 'report',
        received: counters.received,
        inWindow: counters.inWindow,
        windowMs: counters.toMs - counters.fromMs,
        histogram: counters.histogram.snapshot(),
        foreign: counters.foreign,
        negative: counters.negative,
      };
    case 'unsubscribe':
      await closeConnections();
      return { type: 'unsubscribed' };
  }
});
