// `npm run bench -- ble`: BLE advertisements decoded per second on one core
// (bench/ble-decode.ts), and end to end: N simulated proxies (real proxy processes
// on simulated radios, `sentinel ble-proxy --simulate`) × M sensors → a real
// nats-server → the gateway's BLE adapter (dedupe, decode) → sentinel.state.>,
// with each proxy's RSS under that load. Peer: the same batches published raw
// over NATS to a bare subscriber, in the same run.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from '@nats-io/transport-node';
import { resolveGatewayConfig, startGateway } from '@sentinel/gateway';
import { encodeAdStructures, encodeAdvBatch, type ProxyStatus } from '@sentinel/protocol';
import { bthomeV2 } from '@sentinel/simulators';
import { pino } from 'pino';
import type { Registry } from 'prom-client';
import { startNats } from '../test/support/nats.js';
import { measureDecodeRate } from './ble-decode.js';
import { formatTable } from './lib/report.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));

/** The proxy as a Pi runs it: the plain-JavaScript bundle of `npm run build:ble-proxy`, without tsx. */
async function buildProxyBundle(): Promise<string> {
  // inside the repository, so the bundle finds noble (kept outside it) in node_modules
  const out = join(REPO, '.artifacts', 'bench-ble-proxy');
  const build = spawn(process.execPath, [join(REPO, 'bin/run-ts.js'), 'scripts/build-ble-proxy.ts', out], {
    cwd: REPO,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const [code] = (await once(build, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`building the BLE proxy bundle failed (exit ${code})`);
  return join(out, 'sentinel-ble-proxy.mjs');
}

interface Options {
  proxies: number;
  sensors: number;
  seconds: number;
  advertiseMs: number;
  measureMs: number;
}

function parse(argv: string[]): Options | string {
  const o: Options = { proxies: 2, sensors: 200, seconds: 10, advertiseMs: 100, measureMs: 1000 };
  const flags: Record<string, keyof Options> = {
    '--proxies': 'proxies',
    '--sensors': 'sensors',
    '--seconds': 'seconds',
    '--advertise-ms': 'advertiseMs',
    '--measure-ms': 'measureMs',
  };
  for (let i = 0; i < argv.length; i += 2) {
    const key = flags[argv[i]!];
    const value = Number(argv[i + 1]);
    if (!key || !Number.isInteger(value) || value <= 0) return `bad option ${argv[i]} ${argv[i + 1] ?? ''}`;
    o[key] = value;
  }
  return o;
}

const HELP = `usage: npm run bench -- ble [--proxies 2] [--sensors 200] [--seconds 10] [--advertise-ms 100] [--measure-ms 1000]
`;

const log = (line: string) => process.stderr.write(`bench ble: ${line}\n`);

/** The decode rate on one core against its JSON.parse peer (bench/ble-decode.ts). */
async function decodeRows(): Promise<string[][]> {
  const r = await measureDecodeRate();
  // a rate over a mix that no longer decodes would measure the error path, not decoding
  if (r.failures > 0) throw new Error(`${r.failures} advertisements of the decode mix failed to decode`);
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  return [
    [
      'decoded advertisements/s, one core (format mix of bench/ble-decode.ts)',
      fmt(r.decodedPerSecond),
      r.peer.name,
      `${fmt(r.peer.perSecond)} (×${r.ratio.toFixed(3)})`,
    ],
  ];
}

/** Sum of a counter over all its label values, from the gateway's registry. */
async function counterTotal(registry: Registry, name: string): Promise<number> {
  const metric = await registry.getSingleMetric(name)?.get();
  return (metric?.values ?? []).reduce((sum, v) => sum + v.value, 0);
}

/**
 * The adapter's own ceiling: one publisher sends batches of advertisements that are
 * all new (distinct sensors, fresh packet ids), as fast as NATS takes them, for 5 s;
 * what the adapter got through (counted by its own metrics) per second, once the
 * devices exist (steady state).
 */
async function adapterCapacity(url: string, registry: Registry, readings: () => number) {
  const pub = await connect({ servers: url });
  const sensors = 2000;
  const batches: string[] = [];
  for (let round = 0; round < 64; round++) {
    const entries = Array.from({ length: sensors }, (_, i) => ({
      mac: `b4c1${i.toString(16).padStart(8, '0')}`,
      addressType: 'public' as const,
      rssi: -60,
      ts: Date.now(),
      ad: encodeAdStructures({
        serviceData: bthomeV2(`B4:C1:00:00:00:00`, {
          packetId: round,
          temperature: 20 + round / 10,
          humidity: 45,
        }).serviceData,
      }),
    }));
    for (let i = 0; i < entries.length; i += 100)
      batches.push(encodeAdvBatch('bench', batches.length, entries.slice(i, i + 100)));
  }
  // round 0 registers 2000 devices and their entities (KV writes): done before measuring
  const perRound = sensors / 100;
  const registered = readings();
  for (let i = 0; i < perRound; i++) pub.publish('sentinel.ble.proxy.bench.adv', batches[i]!);
  await pub.flush();
  const deadline = Date.now() + 120_000;
  while (readings() - registered < sensors * 2 && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 200));
  const a0 = await counterTotal(registry, 'sentinel_ble_advertisements_total');
  const r0 = readings();
  const started = Date.now();
  let sent = perRound;
  while (Date.now() - started < 5000 && sent < batches.length) {
    for (let i = 0; i < 20 && sent < batches.length; i++)
      pub.publish('sentinel.ble.proxy.bench.adv', batches[sent++]!);
    await pub.flush();
    // let the adapter (same process) keep up instead of measuring a queue
    await new Promise((r) => setImmediate(r));
  }
  await pub.flush();
  await new Promise((r) => setTimeout(r, 500));
  const elapsed = (Date.now() - started) / 1000;
  const advertisements = ((await counterTotal(registry, 'sentinel_ble_advertisements_total')) - a0) / elapsed;
  await pub.close();
  return { advertisements, readings: (readings() - r0) / elapsed };
}

/** Peer: the same batches, published raw to a bare subscriber. */
async function rawNatsRate(url: string, sensors: number, seconds: number): Promise<number> {
  const pub = await connect({ servers: url });
  const sub = await connect({ servers: url });
  const entries = Array.from({ length: 100 }, (_, i) => ({
    mac: `a4c13800${(i % sensors).toString(16).padStart(4, '0')}`,
    addressType: 'public' as const,
    rssi: -60,
    ts: Date.now(),
    ad: encodeAdStructures({
      serviceData: bthomeV2('A4:C1:38:00:00:01', { packetId: i, temperature: 21, humidity: 45, battery: 90 })
        .serviceData,
    }),
  }));
  const batch = encodeAdvBatch('peer', 0, entries);
  let received = 0;
  sub.subscribe('bench.raw.adv', {
    callback: () => {
      received++;
    },
  });
  await sub.flush();
  const end = Date.now() + seconds * 1000;
  const started = Date.now();
  while (Date.now() < end) {
    for (let i = 0; i < 200; i++) pub.publish('bench.raw.adv', batch);
    await pub.flush();
  }
  await sub.flush();
  const rate = (received * entries.length) / ((Date.now() - started) / 1000);
  await pub.close();
  await sub.close();
  return rate;
}

export async function runBle(argv: string[]): Promise<number> {
  if (argv.includes('--help')) {
    process.stdout.write(HELP);
    return 0;
  }
  const o = parse(argv);
  if (typeof o === 'string') {
    process.stderr.write(`bench ble: ${o}\n${HELP}`);
    return 2;
  }
  const rows = await decodeRows();
  const dir = await mkdtemp(join(tmpdir(), 'sentinel-bench-ble-'));
  const nats = await startNats();
  const children: ChildProcess[] = [];
  try {
    const proxies = Array.from({ length: o.proxies }, (_, i) => `p${i + 1}`);
    const scenario = {
      proxies,
      sensors: Array.from({ length: o.sensors }, (_, i) => ({
        mac: `A4:C1:38:00:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`.toUpperCase(),
        advertise_ms: o.advertiseMs,
        measure_ms: o.measureMs,
        temperature: 15 + (i % 10),
        rssi: Object.fromEntries(proxies.map((p, j) => [p, -50 - ((i + j * 7) % 30)])),
      })),
    };
    const file = join(dir, 'scenario.json');
    await writeFile(file, JSON.stringify(scenario));
    log(`gateway on ${nats.url}`);
    const gateway = await startGateway(
      resolveGatewayConfig({
        natsUrl: nats.url,
        mqttPort: 0,
        httpPort: 0,
        host: '127.0.0.1',
        dataDir: dir,
        nodeId: 'bench',
      }),
      { log: pino({ level: 'warn' }) },
    );
    const bus = await connect({ servers: nats.url });
    let readings = 0;
    // the scenario's temperature differs in every measurement of a sensor: a second
    // reading with the same value is a reading published twice (a dedupe failure)
    let repeated = 0;
    const seen = new Map<string, Set<unknown>>();
    bus.subscribe('sentinel.state.>', {
      callback: (_e, m) => {
        const text = m.string();
        if (!text.includes('"protocol":"ble"')) return;
        readings++;
        const state = JSON.parse(text) as { value: unknown; source: { device_id: string; key: string } };
        if (state.source.key !== 'temperature' || !state.source.device_id.startsWith('ble-a4c138')) return;
        let values = seen.get(state.source.device_id);
        if (!values) {
          values = new Set();
          seen.set(state.source.device_id, values);
        }
        if (values.has(state.value)) repeated++;
        values.add(state.value);
      },
    });
    const statuses = new Map<string, ProxyStatus>();
    bus.subscribe('sentinel.ble.proxy.*.status', {
      callback: (_e, m) => {
        const s = m.json<ProxyStatus>();
        statuses.set(s.proxy, s);
      },
    });
    let advertisements = 0;
    bus.subscribe('sentinel.ble.proxy.*.adv', {
      callback: (_e, m) => {
        advertisements += (m.json<{ adv: unknown[] }>().adv ?? []).length;
      },
    });
    log('building the proxy bundle (npm run build:ble-proxy)');
    const bundle = await buildProxyBundle();
    for (const id of proxies) {
      const child = spawn(
        process.execPath,
        [
          bundle,
          '--simulate',
          file,
          '--id',
          id,
          '--nats',
          nats.url,
          '--status-interval',
          '1000',
          '--log-level',
          'warn',
        ],
        { stdio: ['ignore', 'ignore', 'inherit'] },
      );
      children.push(child);
    }
    log(`${o.proxies} proxies × ${o.sensors} sensors, advertising every ${o.advertiseMs} ms; warming up`);
    await new Promise((r) => setTimeout(r, 5000));
    const r0 = readings;
    const a0 = advertisements;
    const t0 = Date.now();
    log(`measuring for ${o.seconds} s`);
    await new Promise((r) => setTimeout(r, o.seconds * 1000));
    const elapsed = (Date.now() - t0) / 1000;
    const e2eAdv = (advertisements - a0) / elapsed;
    const e2eReadings = (readings - r0) / elapsed;
    const rss = [...statuses.values()].map((s) => Math.round(s.rss_bytes / 1024 / 1024));
    for (const child of children) child.kill('SIGTERM');
    log('measuring the adapter at full speed: pre-built batches of fresh advertisements');
    const capacity = await adapterCapacity(nats.url, gateway.metrics.registry, () => readings);
    log('measuring the raw NATS peer');
    const peer = await rawNatsRate(nats.url, o.sensors, 3);
    rows.push(
      [
        'advertisements/s from simulated proxies, all through dedupe and decode (offered load)',
        Math.round(e2eAdv).toLocaleString('en-US'),
        'expected from the scenario',
        Math.round((o.proxies * o.sensors * 1000) / o.advertiseMs).toLocaleString('en-US'),
      ],
      [
        'readings/s on sentinel.state.> (after dedupe)',
        Math.round(e2eReadings).toLocaleString('en-US'),
        'expected from the scenario',
        Math.round((o.sensors * 3 * 1000) / o.measureMs).toLocaleString('en-US'),
      ],
      [
        'readings published twice (same sensor, same measurement), whole run',
        String(repeated),
        'expected',
        '0',
      ],
      [
        'adapter at full speed: advertisements/s through dedupe and decode',
        Math.round(capacity.advertisements).toLocaleString('en-US'),
        'raw NATS publish of the same batches',
        `${Math.round(peer).toLocaleString('en-US')} (×${(capacity.advertisements / peer).toFixed(3)})`,
      ],
      [
        'adapter at full speed: readings/s on sentinel.state.>',
        Math.round(capacity.readings).toLocaleString('en-US'),
        '',
        '',
      ],
      [
        'proxy RSS under the scenario load (MB, per proxy process; the bundle a Pi runs, plus the simulated radio)',
        rss.join(', ') || 'no status',
        '',
        '',
      ],
    );
    process.stdout.write(
      `${formatTable(['measure', 'value', 'peer', 'peer value (ratio)'], rows, [false, true, false, true])}\n`,
    );
    await bus.close();
    await gateway.stop();
    return 0;
  } finally {
    for (const child of children) child.kill('SIGTERM');
    await Promise.all(
      children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : undefined)),
    );
    await nats.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
