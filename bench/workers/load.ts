// Load generator: one process holding many simulated picket devices (MQTT.js
// clients), each publishing `picket/<id>/state` as fast as its window allows,
// or (paced) all of them together at a fixed rate.
//
// Flow control (the same for every target, so results compare):
// - QoS 1: a device has at most `window` publishes waiting for their PUBACK.
// - Both QoS: this process has at most devices × window messages' readings
//   "in flight end to end" — sent and not yet reported by the subscriber
//   (credit from the orchestrator). Without this, QoS 0 would queue without bound somewhere
//   (a broker's outgoing buffer, NATS) and the latency would measure the
//   queue's length, not the system. A reading not seen after `lossTimeoutMs`
//   is taken as lost and frees its slot, so QoS 0 loss cannot stall the run.
import mqtt, { type MqttClient } from 'mqtt';
import { encodeSendTime, nowMs } from '../lib/clock.js';
import { serveRequests } from '../lib/ipc.js';
import type { CreditMessage, DeviceCredentials, LoadReply, LoadRequest, QoS } from '../lib/protocol.js';

interface Device {
  id: string;
  topic: string;
  client: MqttClient;
  seq: number;
  /** QoS 1 publishes waiting for PUBACK */
  inflight: number;
  /** QoS 0: waiting for the socket to drain */
  blocked: boolean;
  connected: boolean;
}

interface Run {
  scenario: number;
  qos: QoS;
  window: number;
  padText: string;
  lossTimeoutMs: number;
  running: boolean;
  sentMessages: number;
  sentReadings: number;
  acked: number;
  publishErrors: number;
  firstError?: string;
  /** readings the subscriber reported (credit) */
  received: number;
  /** messages per second for this process; 0: as fast as the window allows */
  messagesPerS: number;
  /** pacing: messages that may go now, refilled at messagesPerS (a bucket of 20 ms, at least 2) */
  tokens: number;
  tokensAt: number;
  /** (time, sentReadings) every 100 ms, to forgive readings older than lossTimeoutMs */
  history: { t: number; sent: number }[];
  historyTimer: NodeJS.Timeout;
}

const PUMP_BUDGET = 1000;

let devices: Device[] = [];
let keys: string[] = ['temperature'];
let run: Run | undefined;
let cursor = 0;
let pumpScheduled = false;
let pacedTimer: NodeJS.Timeout | undefined;

function schedulePump(): void {
  if (pumpScheduled || !run?.running) return;
  pumpScheduled = true;
  setImmediate(pump);
}

/** Readings this process may still put in flight. */
function freeCredit(r: Run): number {
  const cutoff = nowMs() - r.lossTimeoutMs;
  let forgiven = 0;
  for (const sample of r.history) {
    if (sample.t <= cutoff) forgiven = sample.sent;
    else break;
  }
  const settled = Math.max(r.received, forgiven);
  return devices.length * r.window * keys.length - (r.sentReadings - settled);
}

/** With pacing, how many messages may go now; schedules the next pump when none may. */
function pacedBudget(r: Run): number {
  if (r.messagesPerS === 0) return PUMP_BUDGET;
  const now = performance.now();
  r.tokens = Math.min(
    r.tokens + ((now - r.tokensAt) * r.messagesPerS) / 1000,
    Math.max(2, r.messagesPerS / 50),
  );
  r.tokensAt = now;
  const budget = Math.min(PUMP_BUDGET, Math.floor(r.tokens));
  if (budget === 0 && !pacedTimer) {
    pacedTimer = setTimeout(() => {
      pacedTimer = undefined;
      pump();
    }, 1);
  }
  return budget;
}

function pump(): void {
  pumpScheduled = false;
  const r = run;
  if (!r?.running || devices.length === 0) return;
  const allowed = pacedBudget(r);
  let budget = allowed;
  let credit = freeCredit(r);
  let progress = true;
  while (budget > 0 && progress) {
    progress = false;
    for (let i = 0; i < devices.length && budget > 0; i++) {
      if (credit < keys.length) break; // the next credit message or PUBACK pumps again
      const device = devices[cursor]!;
      cursor = (cursor + 1) % devices.length;
      if (!device.connected || device.blocked || (r.qos === 1 && device.inflight >= r.window)) continue;
      publish(r, device);
      credit -= keys.length;
      budget -= 1;
      progress = true;
    }
    if (credit < keys.length) break;
  }
  if (r.messagesPerS > 0) {
    r.tokens -= allowed - budget;
    // out of tokens: pacedBudget's timer pumps again, unless time has refilled them already
    if (budget === 0 && pacedBudget(r) > 0) schedulePump();
  } else if (budget === 0) {
    schedulePump();
  }
}

function publish(r: Run, device: Device): void {
  const { ts, value } = encodeSendTime(nowMs());
  let values = '';
  for (const key of keys) values += `${values ? ',' : ''}"${key}":${value}`;
  const payload = `{"seq":${device.seq++},"ts":${ts},"values":{${values}}${r.padText}}`;
  r.sentMessages += 1;
  r.sentReadings += keys.length;
  if (r.qos === 1) {
    device.inflight += 1;
    device.client.publish(device.topic, payload, { qos: 1 }, (error) => {
      device.inflight -= 1;
      if (error) noteError(r, error);
      else r.acked += 1;
      schedulePump();
    });
    return;
  }
  let synchronous = true;
  device.blocked = true;
  device.client.publish(device.topic, payload, { qos: 0 }, (error) => {
    device.blocked = false;
    if (error) noteError(r, error);
    if (!synchronous) schedulePump();
  });
  synchronous = false;
}

function noteError(r: Run, error: Error): void {
  r.publishErrors += 1;
  r.firstError ??= error.message;
}

function sendHello(device: Device): Promise<unknown> {
  const hello = {
    v: 1,
    fw: 'bench',
    chip: 'esp32',
    entities: keys.map((key) => ({ key, platform: 'sensor', unit: '°C' })),
  };
  return device.client.publishAsync(`picket/${device.id}/hello`, JSON.stringify(hello), { qos: 1 });
}

/** See LoadRequest 'prime'. */
async function prime(ids: string[] | undefined, rehello: boolean): Promise<LoadReply> {
  const wanted = ids ? new Set(ids) : undefined;
  let published = 0;
  let failed = 0;
  let firstError: string | undefined;
  await Promise.all(
    devices
      .filter((device) => !wanted || wanted.has(device.id))
      .map(async (device) => {
        try {
          if (rehello) await sendHello(device);
          const { ts, value } = encodeSendTime(nowMs());
          const values = keys.map((key) => `"${key}":${value}`).join(',');
          await device.client.publishAsync(
            device.topic,
            `{"seq":${device.seq++},"ts":${ts},"values":{${values}}}`,
            { qos: 1 },
          );
          published += 1;
        } catch (error) {
          failed += 1;
          firstError ??= `${device.id}: ${error instanceof Error ? error.message : String(error)}`;
        }
      }),
  );
  return { type: 'primed', published, failed, firstError };
}

function connectDevice(url: string, credentials: DeviceCredentials): Promise<Device> {
  const { id, password } = credentials;
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, {
      protocolVersion: 4,
      clientId: id,
      username: id,
      password,
      keepalive: 60,
      clean: true,
      reconnectPeriod: 0,
      connectTimeout: 15_000,
      will: { topic: `picket/${id}/status`, payload: Buffer.from('offline'), qos: 1, retain: true },
    });
    const device: Device = {
      id,
      topic: `picket/${id}/state`,
      client,
      seq: 0,
      inflight: 0,
      blocked: false,
      connected: false,
    };
    const fail = (error: Error) => {
      client.end(true);
      reject(error);
    };
    client.once('error', fail);
    client.once('close', () => {
      device.connected = false;
      reject(new Error('connection closed before CONNACK'));
    });
    client.once('connect', () => {
      client.removeListener('error', fail);
      client.on('error', (error) => {
        if (run) noteError(run, error);
      });
      // benchmark clients send small messages back to back: no Nagle delay on our side
      (client.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
      device.connected = true;
      Promise.all([
        client.publishAsync(`picket/${id}/status`, 'online', { qos: 1, retain: true }),
        sendHello(device),
      ]).then(() => resolve(device), fail);
    });
  });
}

async function connectAll(
  url: string,
  credentials: DeviceCredentials[],
  concurrency: number,
): Promise<LoadReply> {
  let next = 0;
  let failed = 0;
  let firstError: string | undefined;
  const connected: Device[] = [];
  const worker = async () => {
    while (next < credentials.length) {
      const credential = credentials[next++]!;
      try {
        connected.push(await connectDevice(url, credential));
      } catch (error) {
        failed += 1;
        firstError ??= `${credential.id}: ${error instanceof Error ? error.message : String(error)}`;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
  devices = connected;
  cursor = 0;
  return { type: 'connected', connected: connected.length, failed, firstError };
}

async function stopRun(): Promise<LoadReply> {
  const r = run;
  if (!r) return { type: 'stopped', sentMessages: 0, sentReadings: 0, acked: 0, publishErrors: 0 };
  r.running = false;
  clearInterval(r.historyTimer);
  // let outstanding QoS 1 publishes finish (bounded)
  const deadline = Date.now() + 5000;
  while (devices.some((d) => d.inflight > 0) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return {
    type: 'stopped',
    sentMessages: r.sentMessages,
    sentReadings: r.sentReadings,
    acked: r.acked,
    publishErrors: r.publishErrors,
    firstError: r.firstError,
  };
}

async function disconnectAll(): Promise<void> {
  const closing = devices.map(
    (device) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 2000);
        device.client.end(true, {}, () => {
          clearTimeout(timer);
          resolve();
        });
      }),
  );
  devices = [];
  await Promise.all(closing);
}

serveRequests<LoadRequest, LoadReply>(
  async (request) => {
    switch (request.type) {
      case 'connect':
        keys = request.keys;
        await disconnectAll();
        return connectAll(request.url, request.devices, request.concurrency);
      case 'start': {
        if (run?.running) await stopRun();
        const padText = request.pad > 0 ? `,"pad":"${'x'.repeat(request.pad)}"` : '';
        const history: Run['history'] = [];
        const maxSamples = Math.ceil(request.lossTimeoutMs / 100) + 10;
        run = {
          scenario: request.scenario,
          qos: request.qos,
          window: request.window,
          padText,
          lossTimeoutMs: request.lossTimeoutMs,
          messagesPerS: request.messagesPerS,
          tokens: 0,
          tokensAt: performance.now(),
          running: true,
          sentMessages: 0,
          sentReadings: 0,
          acked: 0,
          publishErrors: 0,
          received: 0,
          history,
          historyTimer: setInterval(() => {
            history.push({ t: nowMs(), sent: run?.sentReadings ?? 0 });
            if (history.length > maxSamples) history.shift();
          }, 100),
        };
        schedulePump();
        return { type: 'started' };
      }
      case 'prime':
        return prime(request.ids, request.rehello);
      case 'stop':
        return stopRun();
      case 'disconnect':
        if (run?.running) await stopRun();
        await disconnectAll();
        return { type: 'disconnected' };
    }
  },
  (message) => {
    const credit = message as CreditMessage;
    if (credit.type === 'credit' && run && credit.scenario === run.scenario) {
      run.received = Math.max(run.received, credit.received);
      schedulePump();
    }
  },
);
