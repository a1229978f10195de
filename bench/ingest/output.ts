// What a finished ingest run prints (table and how to read it) and keeps (JSON).
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { dirname } from 'node:path';
import type { IngestOptions } from '../ingest.js';
import {
  type IdleRow,
  idleRatio,
  NOISY_CPU_PERCENT,
  NOISY_MARK,
  renderTable,
  type ThroughputRow,
  throughputRatio,
} from './results.js';

export interface RunSummary {
  options: IngestOptions;
  startedAt: Date;
  loadBefore: number[];
  loadAfter: number[];
  throughput: ThroughputRow[];
  idle: IdleRow[];
}

/** The table and the notes that say what its numbers mean. */
export function renderReport(summary: RunSummary): string {
  const { options, loadBefore, loadAfter } = summary;
  const inFlight = options.devices * options.window * options.values;
  const notes = [
    `ingest rows: each device as fast as its window allows (${options.devices} devices × window ${options.window}` +
      `${options.values > 1 ? ` × ${options.values} values` : ''} = ${inFlight} readings in flight end to end);`,
    `  ratio = readings/s ÷ the peer's (higher is better), p99 ÷ the peer's in parentheses; their latency is mostly`,
    `  queueing (≈ ${inFlight} ÷ rate).`,
    ...(options.rate > 0
      ? [
          `latency rows: ${options.rate.toLocaleString('en-US')} readings/s offered to every target; ratio = p50 and p99 ÷ the peer's (lower is better).`,
        ]
      : []),
    `CPU µs/reading: user+system CPU of the target's processes (the gateway's includes its nats-server) per reading.`,
    `RSS rows: KiB per idle connection ÷ the peer's (lower is better).`,
    ...(summary.throughput.some((row) => row.status === 'ok' && row.otherCpuPercent > NOISY_CPU_PERCENT)
      ? [
          `${NOISY_MARK}: other work on the machine took more than ${NOISY_CPU_PERCENT} % of a core during that window; its numbers are unreliable.`,
        ]
      : []),
    `Latency = subscriber receive time − device send time (µs resolution: ts plus the sub-ms part carried in the value).`,
    `${options.duration} s measured after ${options.warmup} s warm-up per scenario; load average ${loadBefore[0]!.toFixed(2)} ` +
      `before, ${loadAfter[0]!.toFixed(2)} after, on ${cpus().length} CPUs (per-scenario CPU split in the JSON).`,
  ];
  return `${renderTable(summary.throughput, summary.idle)}\n\n${notes.join('\n')}\n`;
}

export async function writeJson(file: string, summary: RunSummary): Promise<void> {
  const { throughput, idle } = summary;
  const json = {
    bench: 'ingest',
    startedAt: summary.startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model,
      totalMemMiB: Math.round(totalmem() / 2 ** 20),
      node: process.version,
      loadBefore: summary.loadBefore,
      loadAfter: summary.loadAfter,
    },
    options: summary.options,
    method: {
      flowControl:
        'each device keeps at most `window` readings in flight: QoS 1 waits for PUBACK, and (both QoS) a reading stays in flight until the subscriber has seen it (credit per generator process)',
      modes:
        'max: as fast as the window allows; paced: `rate` readings/s offered in total, same window limits',
      priming:
        'before measuring, every device sends one QoS 1 reading and the subscriber must see each; devices not seen send their hello again (helloRepeats)',
      latency: 'subscriber receive time − device send time; send time = ts + (value − 21), µs resolution',
      peerSubscriber:
        'MQTT subscription on picket/+/state at the scenario QoS; the gateway subscriber is a core NATS subscription on sentinel.state.>',
      cpu: 'user+system CPU during the window, % of one core: target (gateway: + nats-server), harness (generators + subscriber + orchestrator), other (the rest of the machine: noise); cpuMicrosPerReading = target CPU ÷ readings',
      idle: 'RSS (VmRSS) of the target process, median of 5 readings, before and after the idle connections; ÷ connections',
    },
    throughput: throughput.map((row) => ({
      ...row,
      vsAedes: throughputRatio(throughput, row, 'aedes'),
      vsMosquitto: throughputRatio(throughput, row, 'mosquitto'),
    })),
    idle: idle.map((row) => ({
      ...row,
      vsAedes: idleRatio(idle, row, 'aedes'),
      vsMosquitto: idleRatio(idle, row, 'mosquitto'),
    })),
  };
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, `${JSON.stringify(json, null, 2)}\n`);
}
