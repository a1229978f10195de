// `npm run bench -- web`: what the web layer costs and how fast a person sees things.
//   live     updates published onto sentinel.state.<id> at --rate/s, received by --clients
//            WebSocket clients of the gateway's live feed (GET /api/live, API token, the
//            page's Origin): p50/p99 latency and the CPU of gateway + nats-server per
//            update; peer: the same clients subscribed to sentinel.state.> straight on NATS.
//   history  --days of one entity at 1 Hz in SENTINEL_HISTORY (2.6 M readings for 30 d)
//            and their 1-minute rollups; time to first chart (GET …/history?range=30d,
//            7d, 24h) beside the pre-rollup path (every raw reading) over the same buckets.
//   size     GET / and the JS/CSS it loads as the gateway serves them, beside the same
//            files gzip'd and brotli'd with zlib (a check on the build's precompressed copies).
//
// Processes (127.0.0.1, ports chosen by the kernel, all stopped at the end and on SIGINT):
//   orchestrator (this file: publisher, history writer, HTTP client)
//     ── IPC ── live-feed clients (web/clients.ts) × --procs
//   targets: nats-server -js, `sentinel gateway --nats <url> --http-port 0`
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { connect as connectNats, type NatsConnection } from '@nats-io/transport-node';
import { openGatewayStore } from '@sentinel/gateway';
import mqtt from 'mqtt';
import { createApiToken } from '../test/support/cli.js';
import { WorkerClient } from './lib/ipc.js';
import { errorMessage, log } from './lib/log.js';
import { type OptionValues, opt, readBenchOptions } from './lib/options.js';
import {
  installCleanupHandlers,
  onInterruptCleanup,
  REPO_ROOT,
  startWorker,
  stopAll,
} from './lib/processes.js';
import { type Cell, formatMs, formatRatio, formatTable, ratioOf } from './lib/report.js';
import { startNatsServer } from './lib/targets.js';
import { startWebGateway, type WebGateway } from './web/gateway.js';
import { type Backfill, backfill, measureRange, type QueryResult } from './web/history.js';
import { type Clients, type LiveResult, measureLive } from './web/live.js';
import type { ClientsReply, ClientsRequest } from './web/protocol.js';
import { type FileWeight, measurePageWeight } from './web/size.js';

const PARTS = ['live', 'history', 'size'] as const;
type Part = (typeof PARTS)[number];

export const WEB_OPTIONS = {
  parts: {
    flag: 'parts',
    arg: '<list>',
    env: 'BENCH_PARTS',
    help: 'what to measure',
    schema: opt.list(PARTS as unknown as [Part, ...Part[]], [...PARTS]),
  },
  clients: {
    flag: 'clients',
    arg: '<n>',
    env: 'BENCH_CLIENTS',
    help: 'live-feed clients',
    schema: opt.int(1, 50),
  },
  rate: {
    flag: 'rate',
    arg: '<n>',
    env: 'BENCH_RATE',
    help: 'entity updates/s published',
    schema: opt.int(1, 2000),
  },
  entities: {
    flag: 'entities',
    arg: '<n>',
    env: 'BENCH_ENTITIES',
    help: 'entities the updates are spread over',
    schema: opt.int(1, 200),
  },
  procs: {
    flag: 'procs',
    arg: '<n>',
    env: 'BENCH_PROCS',
    help: 'processes holding the clients',
    schema: opt.int(1, 2),
  },
  warmup: {
    flag: 'warmup',
    arg: '<s>',
    env: 'BENCH_WARMUP',
    help: 'seconds of updates before measuring',
    schema: opt.number(0, 2),
  },
  duration: {
    flag: 'duration',
    arg: '<s>',
    env: 'BENCH_DURATION',
    help: 'seconds measured per live scenario',
    schema: opt.number(0.5, 10),
  },
  days: {
    flag: 'days',
    arg: '<n>',
    env: 'BENCH_DAYS',
    help: 'days of 1 Hz readings in the history (the 30d chart needs 30)',
    schema: opt.number(0.01, 30),
  },
  queries: {
    flag: 'queries',
    arg: '<n>',
    env: 'BENCH_QUERIES',
    help: 'history queries per range (the first is cold); the raw path runs once',
    schema: opt.int(1, 5),
  },
  out: {
    flag: 'out',
    arg: '<file>',
    env: 'BENCH_OUT',
    help: 'JSON results (relative to the repository root)',
    schema: opt.string('.artifacts/bench-web.json'),
  },
  verbose: {
    flag: 'verbose',
    env: 'BENCH_VERBOSE',
    help: "show every child process's stderr",
    schema: opt.flag(),
  },
};

type Options = OptionValues<typeof WEB_OPTIONS>;

const DESCRIPTION =
  'The web layer: live-feed fan-out (WebSocket clients of GET /api/live vs the same clients on NATS),\n' +
  'time to first chart of a month of 1 Hz history (rollups vs every raw reading), and the initial\n' +
  "page's transferred size (as served vs gzip/br computed with zlib). The defaults take about 2 minutes.\n" +
  'Environment only: BENCH_SENTINEL (the sentinel entry to run, default bin/sentinel.js).';

const GOALS = { p99Ms: 50, chartMs: 1000, pageKB: 150 };
const RANGES = ['30d', '7d', '24h'] as const;
const CLIENTS_WORKER = new URL('./web/clients.ts', import.meta.url);

interface Results {
  options: Options;
  goals: typeof GOALS;
  live?: LiveResult[];
  history?: { backfill: Backfill; queries: QueryResult[] };
  size?: FileWeight[];
}

export async function runWeb(argv: string[]): Promise<number> {
  const options = readBenchOptions('web', DESCRIPTION, WEB_OPTIONS, argv);
  if (typeof options === 'number') return options;
  installCleanupHandlers();
  const scratch = await mkdtemp(join(tmpdir(), 'sentinel-bench-web-'));
  onInterruptCleanup(() => rm(scratch, { recursive: true, force: true }));
  let nc: NatsConnection | undefined;
  try {
    const results: Results = { options, goals: GOALS };
    await mkdir(join(scratch, 'nats'));
    const nats = await startNatsServer(join(scratch, 'nats'), options.verbose);
    const dataDir = join(scratch, 'gateway');
    let gateway = await startWebGateway({ natsUrl: nats.url, dataDir, verbose: options.verbose });
    log(`nats-server at ${nats.url}, gateway on ${gateway.origin}`);
    nc = await connectNats({ servers: nats.url, name: 'bench-web' });
    const token = await createApiToken(nats.url, 'viewer');

    if (options.parts.includes('size')) {
      log('size: GET / and what it loads, as a browser accepting gzip and br gets them');
      results.size = await measurePageWeight(gateway.origin);
    }

    if (options.parts.includes('live')) {
      const workers: Clients[] = Array.from(
        { length: Math.min(options.procs, options.clients) },
        (_, i) =>
          new WorkerClient<ClientsRequest, ClientsReply>(
            startWorker(`clients-${i + 1}`, CLIENTS_WORKER, [], { verbose: options.verbose }),
          ),
      );
      const settings = {
        clients: options.clients,
        rate: options.rate,
        entities: options.entities,
        warmupS: options.warmup,
        durationS: options.duration,
      };
      log(`live: ${options.clients} clients, ${options.rate} updates/s over ${options.entities} entities`);
      const wsUrl = `ws://127.0.0.1:${gateway.httpPort}/api/live`;
      const ws = await measureLive(
        'ws',
        workers,
        (count) => ({ type: 'connect', mode: 'ws', url: wsUrl, count, token, origin: gateway.origin }),
        nc,
        [gateway.child.pid, nats.child.pid],
        settings,
      );
      log(
        `  ws: p50 ${formatMs(ws.p50Ms)} ms, p99 ${formatMs(ws.p99Ms)} ms, ${ws.cpuUsPerUpdate.toFixed(0)} µs CPU/update`,
      );
      const direct = await measureLive(
        'nats',
        workers,
        (count) => ({ type: 'connect', mode: 'nats', url: nats.url, count }),
        nc,
        [nats.child.pid],
        settings,
      );
      log(
        `  nats: p50 ${formatMs(direct.p50Ms)} ms, p99 ${formatMs(direct.p99Ms)} ms, ${direct.cpuUsPerUpdate.toFixed(0)} µs CPU/update`,
      );
      results.live = [ws, direct];
      await Promise.all(workers.map((w) => w.child.stop()));
    }

    if (options.parts.includes('history')) {
      const entity = await registerEntity(gateway, nats.url, token);
      log(`history: entity ${entity.id}; the gateway stops while the history is written`);
      // the gateway would otherwise follow 2.6 M messages on its live feed meanwhile
      await gateway.child.stop();
      const written = await backfill(nc, entity, options.days);
      gateway = await startWebGateway({ natsUrl: nats.url, dataDir, verbose: options.verbose });
      log(`gateway started again on ${gateway.origin}`);
      const queries: QueryResult[] = [];
      for (const range of RANGES) {
        const result = await measureRange(
          gateway.origin,
          token,
          nc,
          entity.id,
          range,
          options.queries,
          written,
        );
        log(
          `  ${range}: ${result.ms.map((ms) => formatMs(ms)).join(', ')} ms (${result.readings.toLocaleString('en-US')} readings); ` +
            `raw path ${formatMs(result.raw?.ms)} ms${result.raw?.identical ? ', same chart' : `, CHARTS DIFFER (mean Δ ${result.raw?.maxMeanDiff})`}`,
        );
        queries.push(result);
      }
      results.history = { backfill: written, queries };
    }

    process.stdout.write(`${report(results)}\n`);
    const out = isAbsolute(options.out) ? options.out : resolve(REPO_ROOT, options.out);
    await mkdir(dirname(out), { recursive: true });
    await writeFile(out, `${JSON.stringify(results, null, 2)}\n`);
    log(`JSON: ${out}`);
    return 0;
  } catch (error) {
    log(`failed: ${errorMessage(error)}`);
    process.stderr.write(`bench web: ${errorMessage(error)}\n`);
    return 1;
  } finally {
    await nc?.close().catch(() => undefined);
    await stopAll();
    await rm(scratch, { recursive: true, force: true });
  }
}

/** A picket device with one temperature sensor, through the gateway: the entity the history is of. */
async function registerEntity(gateway: WebGateway, natsUrl: string, token: string) {
  const picketId = 'bench-history';
  const store = await openGatewayStore({ natsUrl });
  let deviceToken: string;
  try {
    deviceToken = (await store.addDevice(picketId)).token;
  } finally {
    await store.close();
  }
  const device = await mqtt.connectAsync(`mqtt://127.0.0.1:${gateway.mqttPort}`, {
    clientId: picketId,
    username: picketId,
    password: deviceToken,
    reconnectPeriod: 0,
  });
  try {
    const hello = {
      v: 1,
      fw: '1.0.0',
      chip: 'esp32',
      name: 'Bench history',
      entities: [
        {
          key: 'temperature',
          platform: 'sensor',
          device_class: 'temperature',
          unit: '°C',
          state_class: 'measurement',
        },
      ],
    };
    // the hello's PUBACK comes once the gateway handled it: the entity exists by then
    await device.publishAsync(`picket/${picketId}/hello`, JSON.stringify(hello), { qos: 1 });
  } finally {
    await device.endAsync();
  }
  const answer = await fetch(`${gateway.origin}/api/entities`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const entities = (await answer.json()) as { id: string; device_id: string }[];
  const entity = entities.find((e) => e.device_id === `picket-${picketId}`);
  if (!entity) throw new Error('the history entity was not registered by its hello');
  return { id: entity.id, deviceId: `picket-${picketId}`, key: 'temperature', unit: '°C' };
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
const kb = (bytes: number) => bytes / 1000;
const formatKB = (bytes: number) => kb(bytes).toFixed(1);
const verdict = (value: number | undefined, goal: number) =>
  value === undefined ? '—' : value <= goal ? 'met' : 'MISSED';

function report(results: Results): string {
  const rows: Cell[][] = [];
  const { options } = results;
  if (results.live) {
    const [ws, direct] = results.live as [LiveResult, LiveResult];
    // other work on the machine over half a core: the figures say more about it than about us
    const noisy = ws.otherCpuPercent > 50 || direct.otherCpuPercent > 50 ? ' (noisy)' : '';
    const what = `${options.rate}/s → ${options.clients} clients${noisy}`;
    rows.push(
      [
        `live ${what}: p50 ms`,
        formatMs(ws.p50Ms),
        formatMs(direct.p50Ms),
        'same clients on NATS',
        formatRatio(ratioOf(ws.p50Ms, direct.p50Ms)),
        '',
        '',
      ],
      [
        `live ${what}: p99 ms`,
        formatMs(ws.p99Ms),
        formatMs(direct.p99Ms),
        'same clients on NATS',
        formatRatio(ratioOf(ws.p99Ms, direct.p99Ms)),
        `≤ ${GOALS.p99Ms}`,
        verdict(ws.p99Ms, GOALS.p99Ms),
      ],
      [
        `live ${what}: CPU µs/update`,
        ws.cpuUsPerUpdate.toFixed(0),
        direct.cpuUsPerUpdate.toFixed(0),
        'nats-server alone',
        formatRatio(ratioOf(ws.cpuUsPerUpdate, direct.cpuUsPerUpdate)),
        '',
        '',
      ],
      [
        `live ${what}: delivered %`,
        (ws.delivered * 100).toFixed(1),
        (direct.delivered * 100).toFixed(1),
        'same clients on NATS',
        '',
        '',
        '',
      ],
    );
  }
  if (results.history) {
    const days = options.days;
    for (const q of results.history.queries) {
      const ms = median(q.ms);
      rows.push([
        `history ${q.range} chart, ${q.readings.toLocaleString('en-US')} readings @1 Hz: ms`,
        formatMs(ms),
        formatMs(q.raw?.ms),
        q.raw?.identical ? 'raw readings (old path), same chart' : 'raw readings (old path), CHART DIFFERS',
        formatRatio(ratioOf(ms, q.raw?.ms)),
        q.range === '30d' ? `≤ ${GOALS.chartMs}` : '',
        q.range === '30d' ? (days >= 30 ? verdict(ms, GOALS.chartMs) : `(${days} d of data)`) : '',
      ]);
    }
  }
  if (results.size) {
    const initial = results.size.filter((f) => f.kind !== 'lazy');
    const lazy = results.size.filter((f) => f.kind === 'lazy');
    const sum = (files: FileWeight[], key: 'servedBytes' | 'gzipBytes' | 'brBytes') =>
      files.reduce((total, f) => total + f[key], 0);
    const encodings = [...new Set(initial.map((f) => f.contentEncoding))].join(',');
    const served = sum(initial, 'servedBytes');
    rows.push(
      [
        `initial page (${initial.length} files, served ${encodings}): KB`,
        formatKB(served),
        formatKB(sum(initial, 'gzipBytes')),
        'gzip -6 (zlib, computed)',
        formatRatio(ratioOf(served, sum(initial, 'gzipBytes'))),
        `≤ ${GOALS.pageKB}`,
        verdict(kb(served), GOALS.pageKB),
      ],
      [
        'initial page: KB',
        formatKB(served),
        formatKB(sum(initial, 'brBytes')),
        'br q11 (zlib, computed)',
        formatRatio(ratioOf(served, sum(initial, 'brBytes'))),
        '',
        '',
      ],
    );
    if (lazy.length > 0)
      rows.push([
        `+ history page chunks (${lazy.length}, lazy): KB`,
        formatKB(sum(lazy, 'servedBytes')),
        formatKB(sum(lazy, 'gzipBytes')),
        'gzip -6 (zlib, computed)',
        formatRatio(ratioOf(sum(lazy, 'servedBytes'), sum(lazy, 'gzipBytes'))),
        '',
        '',
      ]);
  }
  const table = formatTable(['measure', 'sentinel', 'peer', 'peer is', 'ratio', 'goal', 'verdict'], rows, [
    false,
    true,
    true,
    false,
    true,
    false,
    false,
  ]);
  const notes: string[] = [];
  if (results.history) {
    const b = results.history.backfill;
    notes.push(
      `history: ${b.readings.toLocaleString('en-US')} readings written in ${b.readingsSeconds.toFixed(1)} s, ` +
        `${b.rollups.toLocaleString('en-US')} rollups in ${b.rollupsSeconds.toFixed(1)} s; sentinel = median of ${options.queries} ` +
        `GET …/history (request → parsed JSON; first, cold: ${results.history.queries.map((q) => `${q.range} ${formatMs(q.ms[0])} ms`).join(', ')}); ` +
        'peer = the pre-rollup route code (readHistory + Downsampler) over the same buckets, run once in the bench process',
    );
  }
  if (results.live) {
    const [ws, direct] = results.live as [LiveResult, LiveResult];
    notes.push(
      `live: CPU of gateway + nats-server (peer: nats-server) ÷ updates published; % of one core, sentinel vs peer: ` +
        `target ${ws.targetCpuPercent.toFixed(0)} vs ${direct.targetCpuPercent.toFixed(0)}, clients ${ws.harnessCpuPercent.toFixed(0)} vs ${direct.harnessCpuPercent.toFixed(0)}, ` +
        `other work ${ws.otherCpuPercent.toFixed(0)} vs ${direct.otherCpuPercent.toFixed(0)} (rows marked (noisy) when over 50)`,
    );
  }
  if (results.size)
    notes.push(
      'size: body bytes as transferred to a browser accepting gzip, deflate, br (headers not counted)',
    );
  return `${table}\n\n${notes.join('\n')}`;
}
