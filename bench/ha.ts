// `npm run bench -- ha`: the Home Assistant export (CONTRACT.md §7) seen from the
// broker. A real `sentinel gateway --ha-mqtt` on a real nats-server publishes to
// Debian's mosquitto; a subscriber on that broker (where Home Assistant would be)
// times what arrives:
//   - discovery: --entities entities (--per-device per device) written to the
//     registry, then Home Assistant's birth message (`homeassistant/status` online):
//     time until every device config has arrived (and is retained, checked by a
//     fresh subscriber), median of --trials;
//   - states: --rate state changes/s put on sentinel.state.<entity_id> for
//     --seconds: delivered/s and latency p50/p99 from the NATS publish to the
//     subscriber.
// The peer of each figure is the floor: the same publishes (topics, payloads, QoS,
// retain) made by a bare MQTT.js client in the bench process.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import mqtt, { type MqttClient } from 'mqtt';
import { connectTestBus } from '../test/support/bus.js';
import { killStrays } from '../test/support/cli.js';
import { type ClusterNode, removeNodeData, startClusterNode, until } from '../test/support/cluster.js';
import { startMosquitto, type TestMosquitto } from '../test/support/mosquitto.js';
import { startNats, type TestNats } from '../test/support/nats.js';
import { LatencyHistogram } from './lib/histogram.js';
import { errorMessage, log } from './lib/log.js';
import { type OptionValues, opt, readBenchOptions } from './lib/options.js';
import { REPO_ROOT } from './lib/processes.js';
import { formatMs, formatRate, formatRatio, formatTable, ratioOf } from './lib/report.js';

export const HA_OPTIONS = {
  entities: {
    flag: 'entities',
    arg: '<n>',
    env: 'BENCH_HA_ENTITIES',
    help: 'entities exported',
    schema: opt.int(1, 1000),
  },
  perDevice: {
    flag: 'per-device',
    arg: '<n>',
    env: 'BENCH_HA_PER_DEVICE',
    help: 'entities per device (one discovery config per device)',
    schema: opt.int(1, 10),
  },
  trials: {
    flag: 'trials',
    arg: '<n>',
    env: 'BENCH_TRIALS',
    help: 'discovery passes measured (median)',
    schema: opt.int(1, 5),
  },
  rate: {
    flag: 'rate',
    arg: '<n>',
    env: 'BENCH_HA_RATE',
    help: 'state changes per second',
    schema: opt.int(1, 1000),
  },
  seconds: {
    flag: 'seconds',
    arg: '<s>',
    env: 'BENCH_SECONDS',
    help: 'length of each state run',
    schema: opt.int(1, 10),
  },
};

type Options = OptionValues<typeof HA_OPTIONS>;

interface Message {
  topic: string;
  payload: Buffer;
  at: number;
}

/** What the household broker shows a subscriber: every message, awaitable. */
class BrokerView {
  readonly messages: Message[] = [];
  #onMessage: ((m: Message) => void) | undefined;

  private constructor(readonly client: MqttClient) {
    client.on('message', (topic, payload) => {
      const message = { topic, payload, at: performance.now() };
      this.messages.push(message);
      this.#onMessage?.(message);
    });
  }

  static async connect(url: string, filters: string[]): Promise<BrokerView> {
    const client = await mqtt.connectAsync(url, { clientId: `bench-ha-view-${process.pid}` });
    const view = new BrokerView(client);
    await client.subscribeAsync(filters, { qos: 0 });
    return view;
  }

  /** Calls `on` for every message until it returns true; resolves at that message. */
  until(on: (m: Message) => boolean, timeoutMs: number): Promise<Message> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#onMessage = undefined;
        reject(new Error(`the broker view waited ${timeoutMs} ms in vain`));
      }, timeoutMs);
      this.#onMessage = (m) => {
        if (!on(m)) return;
        clearTimeout(timer);
        this.#onMessage = undefined;
        resolve(m);
      };
    });
  }
}

interface DiscoveryResult {
  oursMs: number[];
  floorMs: number[];
  /** messages in one of our passes (configs, availability, states) */
  messages: number;
  configs: number;
}

interface StateResult {
  sent: number;
  delivered: number;
  perSecond: number;
  latency: LatencyHistogram;
}

const DEVICE_PREFIX = 'picket-bench-ha-';
const deviceId = (i: number) => `${DEVICE_PREFIX}${String(i).padStart(4, '0')}`;
const entityId = (i: number) => `01900000-0000-7000-8000-${String(i).padStart(12, '0')}`;

export async function runHa(argv: string[]): Promise<number> {
  const options = readBenchOptions(
    'ha',
    'Home Assistant MQTT discovery of --entities entities and --rate state changes/s exported by a real\n' +
      'gateway to mosquitto, timed by a subscriber on the broker, beside a bare MQTT.js client\n' +
      'making the same publishes.',
    HA_OPTIONS,
    argv,
  );
  if (typeof options === 'number') return options;

  let broker: TestMosquitto | undefined;
  let nats: TestNats | undefined;
  let node: ClusterNode | undefined;
  let bus: NatsConnection | undefined;
  let view: BrokerView | undefined;
  let floor: MqttClient | undefined;
  const interrupted = () => {
    killStrays();
    process.exit(130);
  };
  process.once('SIGINT', interrupted);
  try {
    [broker, nats] = await Promise.all([startMosquitto(), startNats()]);
    log(`mosquitto at ${broker.url}, nats-server at ${nats.url}; starting a gateway with --ha-mqtt`);
    process.env.SENTINEL_HA_MQTT = broker.url;
    try {
      node = await startClusterNode(nats.url, 'bench-ha');
    } finally {
      delete process.env.SENTINEL_HA_MQTT;
    }
    bus = await connectTestBus(nats.url);
    view = await BrokerView.connect(broker.url, ['homeassistant/#', 'sentinel/#', 'floor/#']);
    floor = await mqtt.connectAsync(broker.url, { clientId: `bench-ha-floor-${process.pid}` });

    const devices = Math.ceil(options.entities / options.perDevice);
    log(`writing ${options.entities} entities on ${devices} devices to the registry`);
    const registered = Date.now();
    await register(bus, options);
    const configTopics = new Set(
      Array.from({ length: devices }, (_, i) => `homeassistant/device/${deviceId(i)}/config`),
    );
    await allRetained(broker.url, configTopics, options.entities, 120_000);
    log(`first discovery done ${Date.now() - registered} ms after the registry writes began`);
    const discovery = await measureDiscovery(view, floor, configTopics, options);
    // the passes left every config retained, as on the first start
    await allRetained(broker.url, configTopics, options.entities, 30_000);
    // the publisher sees its own configs come back: none may be taken for someone else's
    const metrics = await (await node.gateway.api('/metrics')).text();
    const foreign = /sentinel_ha_messages_rejected_total\{reason="foreign_discovery"\} (\d+)/.exec(
      metrics,
    )?.[1];
    if (foreign !== undefined && foreign !== '0')
      log(`WARNING: ${foreign} of our own configs counted as foreign`);
    const states = await measureStates(view, floor, bus, options);
    const table = report(discovery, states, options);
    process.stdout.write(`${table}\n`);
    const artifacts = join(REPO_ROOT, '.artifacts');
    await mkdir(artifacts, { recursive: true });
    await writeFile(
      join(artifacts, 'bench-ha.json'),
      `${JSON.stringify(
        {
          options,
          discovery,
          states: Object.fromEntries(
            Object.entries(states).map(([name, s]) => [
              name,
              {
                sent: s.sent,
                delivered: s.delivered,
                per_second: s.perSecond,
                p50_ms: s.latency.percentile(50),
                p99_ms: s.latency.percentile(99),
              },
            ]),
          ),
        },
        null,
        2,
      )}\n`,
    );
    return 0;
  } catch (error) {
    process.stderr.write(`bench ha: ${errorMessage(error)}\n`);
    return 1;
  } finally {
    process.off('SIGINT', interrupted);
    await floor?.endAsync(true).catch(() => undefined);
    await view?.client.endAsync(true).catch(() => undefined);
    await bus?.close().catch(() => undefined);
    if (node) {
      await node.stop().catch(() => undefined);
      await removeNodeData(node).catch(() => undefined);
    }
    killStrays();
    await nats?.stop();
    await broker?.stop();
  }
}

/** Devices and entities written straight to the registry's buckets, as a fleet's hellos would leave them. */
async function register(bus: NatsConnection, options: Options): Promise<void> {
  const kvm = new Kvm(bus);
  const [devicesKv, entitiesKv] = await Promise.all([
    kvm.open('sentinel_devices'),
    kvm.open('sentinel_entities'),
  ]);
  const devices = Math.ceil(options.entities / options.perDevice);
  const writes: Promise<unknown>[] = [];
  for (let d = 0; d < devices; d++) {
    const id = deviceId(d);
    writes.push(
      devicesKv.put(
        id,
        JSON.stringify({
          id,
          protocol: 'picket',
          name: `Bench ${d}`,
          model: 'picket-sim',
          online: true,
          last_seen: Date.now(),
        }),
      ),
    );
  }
  await Promise.all(writes);
  writes.length = 0;
  for (let e = 0; e < options.entities; e++) {
    const device = deviceId(Math.floor(e / options.perDevice));
    writes.push(
      entitiesKv.put(
        entityId(e),
        JSON.stringify({
          id: entityId(e),
          name: `Bench ${e} temperature`,
          platform: 'sensor',
          device_class: 'temperature',
          unit: '°C',
          state_class: 'measurement',
          device_id: device,
          bindings: [{ protocol: 'picket', device_id: device, key: `t${e}`, priority: 100 }],
        }),
      ),
    );
    if (writes.length >= 200) {
      await Promise.all(writes);
      writes.length = 0;
    }
  }
  await Promise.all(writes);
}

/**
 * What a Home Assistant starting now would find: each retained config and how many
 * entities it holds. A marker published after subscribing fences the retained
 * messages (the broker sends them before anything newer on that connection).
 */
async function retainedConfigs(url: string, topics: Set<string>): Promise<Map<string, number>> {
  const late = await mqtt.connectAsync(url, { clientId: `bench-ha-late-${process.pid}` });
  try {
    const found = new Map<string, number>();
    const fence = `bench/fence/${process.pid}/${Date.now()}`;
    const fenced = new Promise<void>((resolve) => {
      late.on('message', (topic, payload, packet) => {
        if (topic === fence) resolve();
        else if (packet.retain && payload.length > 0 && topics.has(topic))
          found.set(topic, Object.keys((JSON.parse(payload.toString()) as { cmps: object }).cmps).length);
      });
    });
    await late.subscribeAsync(['homeassistant/device/+/config', fence], { qos: 1 });
    await late.publishAsync(fence, 'fence', { qos: 1 });
    await fenced;
    return found;
  } finally {
    await late.endAsync(true);
  }
}

/** Resolves once the broker holds every device's config with all its entities. */
async function allRetained(url: string, topics: Set<string>, entities: number, timeoutMs: number) {
  let last = new Map<string, number>();
  await until(
    async () => {
      last = await retainedConfigs(url, topics);
      return (
        (last.size === topics.size && [...last.values()].reduce((a, b) => a + b, 0) === entities) || undefined
      );
    },
    timeoutMs,
    200,
  ).catch(() => {
    const count = [...last.values()].reduce((a, b) => a + b, 0);
    throw new Error(
      `the broker holds ${last.size} of ${topics.size} configs with ${count} of ${entities} entities after ${timeoutMs} ms`,
    );
  });
}

async function measureDiscovery(
  view: BrokerView,
  floor: MqttClient,
  configTopics: Set<string>,
  options: Options,
): Promise<DiscoveryResult> {
  const oursMs: number[] = [];
  const floorMs: number[] = [];
  let pass: Message[] = [];
  for (let trial = 1; trial <= options.trials; trial++) {
    const seen = new Set<string>();
    const from = view.messages.length;
    const started = performance.now();
    await floor.publishAsync('homeassistant/status', 'online', { qos: 1 });
    const last = await view.until((m) => {
      if (configTopics.has(m.topic)) seen.add(m.topic);
      return seen.size === configTopics.size;
    }, 60_000);
    oursMs.push(last.at - started);
    // what one pass publishes (the gateway's own config and its status come with it)
    pass = view.messages
      .slice(from, view.messages.indexOf(last) + 1)
      .filter((m) => m.topic !== 'homeassistant/status');
    log(`discovery #${trial}: ${formatMs(last.at - started)} ms for ${pass.length} messages`);
  }
  for (let trial = 1; trial <= options.trials; trial++) {
    // the floor: the same messages, QoS and retain as the gateway sends them, under floor/
    const expected = new Set(pass.filter((m) => configTopics.has(m.topic)).map((m) => `floor/${m.topic}`));
    const seen = new Set<string>();
    const done = view.until((m) => {
      if (expected.has(m.topic)) seen.add(m.topic);
      return seen.size === expected.size;
    }, 60_000);
    const started = performance.now();
    for (const m of pass) {
      const isState = m.topic.endsWith('/state') && m.topic !== 'sentinel/gateway/status';
      void floor.publishAsync(`floor/${m.topic}`, m.payload, { qos: isState ? 0 : 1, retain: true });
    }
    const last = await done;
    floorMs.push(last.at - started);
    log(`floor discovery #${trial}: ${formatMs(last.at - started)} ms`);
  }
  return { oursMs, floorMs, messages: pass.length, configs: configTopics.size };
}

/** Paces `send(i)` at `rate`/s for `seconds`, in 10 ms ticks. */
async function paced(rate: number, seconds: number, send: (i: number) => void): Promise<number> {
  const total = rate * seconds;
  const started = performance.now();
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate) + 1);
    while (sent < due) send(sent++);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return sent;
}

async function measureStates(
  view: BrokerView,
  floor: MqttClient,
  bus: NatsConnection,
  options: Options,
): Promise<{ gateway: StateResult; floor: StateResult }> {
  const topicOf = (e: number) =>
    `sentinel/${deviceId(Math.floor(e / options.perDevice))}/${entityId(e)}/state`;
  const run = async (name: string, prefix: string, send: (i: number) => void): Promise<StateResult> => {
    const sentAt = new Map<number, number>();
    const latency = new LatencyHistogram();
    let first = 0;
    let lastAt = 0;
    const total = options.rate * options.seconds;
    // values are 1,000,000 + i: a number the sensor shows as is, and the sample's id
    const done = view.until(
      (m) => {
        if (!m.topic.startsWith(prefix) || !m.topic.endsWith('/state')) return false;
        const i = Number(m.payload.toString()) - 1_000_000;
        const at = sentAt.get(i);
        if (at === undefined) return false;
        sentAt.delete(i);
        latency.record(m.at - at);
        if (latency.size === 1) first = m.at;
        lastAt = m.at;
        return latency.size === total;
      },
      30_000 + options.seconds * 1000,
    );
    const sent = await paced(options.rate, options.seconds, (i) => {
      sentAt.set(i, performance.now());
      send(i);
    });
    await done.catch(() => log(`${name}: ${sentAt.size} of ${sent} state changes never arrived`));
    const perSecond = latency.size > 1 ? (latency.size - 1) / ((lastAt - first) / 1000) : 0;
    log(
      `${name}: ${latency.size}/${sent} delivered, ${formatRate(perSecond)}/s, p50 ${formatMs(latency.percentile(50))} ms, p99 ${formatMs(latency.percentile(99))} ms`,
    );
    return { sent, delivered: latency.size, perSecond, latency };
  };
  const encoder = new TextEncoder();
  const gateway = await run('gateway', 'sentinel/', (i) => {
    const e = i % options.entities;
    bus.publish(
      `sentinel.state.${entityId(e)}`,
      encoder.encode(JSON.stringify({ entity_id: entityId(e), value: 1_000_000 + i, ts: Date.now() })),
    );
  });
  const bare = await run('bare MQTT.js', 'floor/', (i) => {
    const e = i % options.entities;
    void floor.publishAsync(`floor/${topicOf(e)}`, String(1_000_000 + i), { qos: 0, retain: true });
  });
  return { gateway, floor: bare };
}

function median(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function report(
  discovery: DiscoveryResult,
  states: { gateway: StateResult; floor: StateResult },
  options: Options,
): string {
  const ours = median(discovery.oursMs);
  const bare = median(discovery.floorMs);
  const p = (s: StateResult, q: number) => s.latency.percentile(q);
  const rows = [
    [
      `discovery of ${options.entities} entities: ms until all ${discovery.configs} configs arrived`,
      formatMs(ours),
      formatMs(bare),
      formatRatio(ratioOf(ours, bare)),
    ],
    [
      `states exported: delivered/s (asked ${options.rate}/s)`,
      formatRate(states.gateway.perSecond),
      formatRate(states.floor.perSecond),
      formatRatio(ratioOf(states.gateway.perSecond, states.floor.perSecond)),
    ],
    [
      'states: latency p50 ms',
      formatMs(p(states.gateway, 50)),
      formatMs(p(states.floor, 50)),
      formatRatio(ratioOf(p(states.gateway, 50), p(states.floor, 50))),
    ],
    [
      'states: latency p99 ms',
      formatMs(p(states.gateway, 99)),
      formatMs(p(states.floor, 99)),
      formatRatio(ratioOf(p(states.gateway, 99), p(states.floor, 99))),
    ],
    [
      'states: delivered / sent',
      `${states.gateway.delivered}/${states.gateway.sent}`,
      `${states.floor.delivered}/${states.floor.sent}`,
      undefined,
    ],
  ];
  const notes =
    `discovery: Home Assistant's birth message → the last device config at a subscriber on the broker, median of ${options.trials} ` +
    `(one pass = ${discovery.messages} messages: configs, availability, states); the floor publishes those same messages. ` +
    `states: sentinel.state.<entity_id> publish (NATS) → subscriber on mosquitto, over ${options.seconds} s; the floor publishes to mosquitto directly.`;
  return `${formatTable(['Home Assistant export', 'gateway', 'bare MQTT.js', 'gateway ÷ floor'], rows, [
    false,
    true,
    true,
    true,
  ])}\n\n${notes}`;
}
