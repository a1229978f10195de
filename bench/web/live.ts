// The live part of `bench web`: updates published onto sentinel.state.<entity_id> at a
// fixed rate, received by N clients, either through the gateway's live feed (WebSocket
// GET /api/live) or straight from NATS (the peer). Latency = receive − publish time;
// CPU per update = CPU time of the target's processes over the window ÷ updates sent.
import { randomUUID } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { encodeSendTime, nowMs } from '../lib/clock.js';
import { type HistogramSnapshot, LatencyHistogram } from '../lib/histogram.js';
import type { WorkerClient } from '../lib/ipc.js';
import { log } from '../lib/log.js';
import { readMachineBusyMs, readProcessesCpuMs } from '../lib/proc.js';
import type { ClientsReply, ClientsRequest } from './protocol.js';

export type Clients = WorkerClient<ClientsRequest, ClientsReply>;

export interface LiveSettings {
  clients: number;
  rate: number;
  entities: number;
  warmupS: number;
  durationS: number;
}

export interface LiveResult {
  mode: 'ws' | 'nats';
  clients: number;
  /** updates published inside the window */
  published: number;
  /** updates sent inside the window and received, over all clients */
  received: number;
  /** received ÷ (published × clients) */
  delivered: number;
  p50Ms?: number;
  p99Ms?: number;
  maxMs?: number;
  /** CPU (user + system) of the target's processes per published update, µs */
  cpuUsPerUpdate: number;
  /** the target's CPU and the whole machine's over the window, % of one core */
  targetCpuPercent: number;
  machineCpuPercent: number;
  /** the clients' and this process's CPU, and the rest of the machine's (other work: noise), % of one core */
  harnessCpuPercent: number;
  otherCpuPercent: number;
}

/** Entity ids of the live part (UUIDs: the live feed passes any reading on, registered or not). */
export const liveEntityIds = (n: number) => Array.from({ length: n }, () => randomUUID());

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Publishes `rate` updates/s round-robin over `ids` until stopped; counts those sent in [from, to]. */
function startPublisher(nc: NatsConnection, ids: string[], rate: number) {
  const subjects = ids.map((id) => `sentinel.state.${id}`);
  const prefixes = ids.map((id) => `{"entity_id":"${id}","value":`);
  const suffix = ',"unit":"°C","source":{"protocol":"bench","device_id":"bench-live","key":"temperature"}}';
  const started = performance.now();
  let sent = 0;
  let window = { from: Number.POSITIVE_INFINITY, to: Number.NEGATIVE_INFINITY, count: 0 };
  let stopped = false;
  const tick = () => {
    if (stopped) return;
    const due = Math.floor(((performance.now() - started) * rate) / 1000);
    while (sent < due) {
      const at = nowMs();
      const { ts, value } = encodeSendTime(at);
      const i = sent % ids.length;
      nc.publish(subjects[i]!, `${prefixes[i]}${value},"ts":${ts}${suffix}`);
      if (at >= window.from && at <= window.to) window.count++;
      sent++;
    }
    setTimeout(tick, 1);
  };
  tick();
  return {
    window(from: number, to: number) {
      window = { from, to, count: 0 };
    },
    get inWindow() {
      return window.count;
    },
    stop() {
      stopped = true;
    },
  };
}

export async function measureLive(
  mode: 'ws' | 'nats',
  workers: Clients[],
  connect: (count: number) => ClientsRequest,
  nc: NatsConnection,
  targetPids: number[],
  settings: LiveSettings,
): Promise<LiveResult> {
  const per = workers.map(
    (_, i) => Math.floor(settings.clients / workers.length) + (i < settings.clients % workers.length ? 1 : 0),
  );
  await Promise.all(workers.map((w, i) => w.request(connect(per[i]!), 'connected', 60_000)));
  log(`  ${mode}: ${settings.clients} clients connected; ${settings.rate.toLocaleString('en-US')} updates/s`);
  const ids = liveEntityIds(settings.entities);
  const publisher = startPublisher(nc, ids, settings.rate);
  try {
    await pause(settings.warmupS * 1000);
    const from = nowMs() + 50;
    const to = from + settings.durationS * 1000;
    publisher.window(from, to);
    await Promise.all(
      workers.map((w) => w.request({ type: 'window', fromMs: from, toMs: to }, 'window-set', 10_000)),
    );
    await pause(from - nowMs());
    const harnessPids = [process.pid, ...workers.map((w) => w.child.pid)];
    const cpuBefore = await readProcessesCpuMs(targetPids);
    const harnessBefore = await readProcessesCpuMs(harnessPids);
    const busyBefore = await readMachineBusyMs();
    await pause(to - nowMs());
    const cpuAfter = await readProcessesCpuMs(targetPids);
    const harnessAfter = await readProcessesCpuMs(harnessPids);
    const busyAfter = await readMachineBusyMs();
    // what was sent at the window's end is still on its way
    await pause(1000);
    publisher.stop();
    const reports = await Promise.all(workers.map((w) => w.request({ type: 'report' }, 'report', 10_000)));
    const histogram = LatencyHistogram.fromSnapshot(reports.map((r) => r.histogram).reduce(mergeSnapshots));
    const received = reports.reduce((sum, r) => sum + r.inWindow, 0);
    const published = publisher.inWindow;
    const seconds = settings.durationS;
    return {
      mode,
      clients: settings.clients,
      published,
      received,
      delivered: published === 0 ? 0 : received / (published * settings.clients),
      p50Ms: histogram.percentile(50),
      p99Ms: histogram.percentile(99),
      maxMs: histogram.size ? histogram.snapshot().maxMs : undefined,
      cpuUsPerUpdate: published === 0 ? 0 : ((cpuAfter - cpuBefore) * 1000) / published,
      targetCpuPercent: ((cpuAfter - cpuBefore) / (seconds * 1000)) * 100,
      machineCpuPercent: ((busyAfter - busyBefore) / (seconds * 1000)) * 100,
      harnessCpuPercent: ((harnessAfter - harnessBefore) / (seconds * 1000)) * 100,
      otherCpuPercent:
        ((busyAfter - busyBefore - (cpuAfter - cpuBefore) - (harnessAfter - harnessBefore)) /
          (seconds * 1000)) *
        100,
    };
  } finally {
    publisher.stop();
    await Promise.all(
      workers.map((w) => w.request({ type: 'close' }, 'closed', 10_000).catch(() => undefined)),
    );
  }
}

/** Two processes' histograms as one (same buckets). */
function mergeSnapshots(a: HistogramSnapshot, b: HistogramSnapshot): HistogramSnapshot {
  return {
    counts: a.counts.map((count, i) => count + (b.counts[i] ?? 0)),
    count: a.count + b.count,
    sumMs: a.sumMs + b.sumMs,
    minMs: Math.min(a.minMs, b.minMs),
    maxMs: Math.max(a.maxMs, b.maxMs),
  };
}
