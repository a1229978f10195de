// What the ingest benchmark measures, and how it is shown.
import { type Cell, formatMs, formatRate, formatRatio, formatTable, ratioOf } from '../lib/report.js';
import type { TargetName } from '../lib/targets.js';

/** A row that could not be measured says why instead of showing numbers. */
export type Outcome<T> = ({ status: 'ok' } & T) | { status: 'unavailable'; reason: string };

export interface ThroughputNumbers {
  readingsPerS: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
  maxMs: number;
  /** readings the subscriber saw inside the measured window */
  inWindow: number;
  windowMs: number;
  /** over the whole scenario (warm-up, window and drain) */
  sentReadings: number;
  receivedReadings: number;
  lossPercent: number;
  publishErrors: number;
  firstPublishError?: string;
  /** CPU time of the target's processes per reading, in µs (gateway: gateway + nats-server) */
  cpuMicrosPerReading?: number;
  /**
   * CPU used during the window, in % of one core: the target's processes, our
   * generators + subscriber + orchestrator (the harness), and everything else on
   * the machine (other people's work: the noise)
   */
  targetCpuPercent: number;
  harnessCpuPercent: number;
  otherCpuPercent: number;
  /** readings without our timestamp encoding / with negative latency (should both be 0) */
  foreign: number;
  negative: number;
  /** paced scenarios: the readings/s offered (readingsPerS falls short when the target cannot keep up) */
  offeredPerS?: number;
  /** devices whose first hello did not take (their readings went nowhere until they sent it again) */
  helloRepeats?: number;
}

/** `max`: as fast as the window allows; `paced`: a fixed offered rate, for latency below saturation. */
export type ThroughputRow = {
  scenario: string;
  qos: 0 | 1;
  mode: 'max' | 'paced';
  target: TargetName;
} & Outcome<ThroughputNumbers>;

export interface IdleNumbers {
  connections: number;
  requested: number;
  rssBeforeKiB: number;
  rssAfterKiB: number;
  kibPerConnection: number;
  droppedWhileHeld: number;
  refused: number;
  failed: number;
  firstError?: string;
  connectSeconds: number;
}

export type IdleRow = { target: TargetName } & Outcome<IdleNumbers>;

const okNumbers = <T>(row: Outcome<T> | undefined): T | undefined =>
  row !== undefined && row.status === 'ok' ? (row as T) : undefined;

export interface Ratios {
  readingsPerS?: number;
  p50?: number;
  p99?: number;
}

/** target ÷ peer for one scenario. */
export function throughputRatio(rows: ThroughputRow[], row: ThroughputRow, peer: TargetName): Ratios {
  const mine = okNumbers(row);
  const theirs = okNumbers(rows.find((r) => r.qos === row.qos && r.mode === row.mode && r.target === peer));
  return {
    readingsPerS: ratioOf(mine?.readingsPerS, theirs?.readingsPerS),
    p50: ratioOf(mine?.p50Ms, theirs?.p50Ms),
    p99: ratioOf(mine?.p99Ms, theirs?.p99Ms),
  };
}

export function idleRatio(rows: IdleRow[], row: IdleRow, peer: TargetName): number | undefined {
  return ratioOf(
    okNumbers(row)?.kibPerConnection,
    okNumbers(rows.find((r) => r.target === peer))?.kibPerConnection,
  );
}

/** max: readings/s (p99); paced (same offered rate for all): p50 / p99. */
function ratioCell(ratios: Ratios, mode: ThroughputRow['mode']): string | undefined {
  const p99 = formatRatio(ratios.p99);
  if (mode === 'paced') {
    const p50 = formatRatio(ratios.p50);
    return p50 === undefined || p99 === undefined ? undefined : `p50 ${p50}, p99 ${p99}`;
  }
  const throughput = formatRatio(ratios.readingsPerS);
  if (throughput === undefined) return undefined;
  return p99 === undefined ? throughput : `${throughput} (p99 ${p99})`;
}

const PEERS: TargetName[] = ['aedes', 'mosquitto'];

/** Rows measured while other work on the machine took more than this (% of one core) get NOISY_MARK. */
export const NOISY_CPU_PERCENT = 50;
export const NOISY_MARK = '(noisy)';

export function renderTable(throughput: ThroughputRow[], idle: IdleRow[]): string {
  const headers = [
    'scenario',
    'target',
    'readings/s',
    'p50 ms',
    'p99 ms',
    'CPU µs/reading',
    'ratio vs aedes',
    'ratio vs mosquitto',
  ];
  const rows: Cell[][] = [];
  // grouped by scenario (in the order they ran), then target
  const scenarioOrder = [...new Set(throughput.map((row) => row.scenario))];
  const byScenario = [...throughput].sort(
    (a, b) => scenarioOrder.indexOf(a.scenario) - scenarioOrder.indexOf(b.scenario),
  );
  for (const row of byScenario) {
    if (row.status !== 'ok') {
      rows.push([row.scenario, row.target, { span: `unavailable: ${row.reason}` }]);
      continue;
    }
    rows.push([
      row.scenario,
      row.otherCpuPercent > NOISY_CPU_PERCENT ? `${row.target} ${NOISY_MARK}` : row.target,
      row.offeredPerS !== undefined && row.readingsPerS < 0.95 * row.offeredPerS
        ? `${formatRate(row.readingsPerS)} of ${formatRate(row.offeredPerS)}`
        : formatRate(row.readingsPerS),
      formatMs(row.p50Ms),
      formatMs(row.p99Ms),
      row.cpuMicrosPerReading === undefined ? undefined : row.cpuMicrosPerReading.toFixed(1),
      ...PEERS.map((peer) =>
        peer === row.target ? undefined : ratioCell(throughputRatio(throughput, row, peer), row.mode),
      ),
    ]);
  }
  for (const row of idle) {
    const scenario = `RSS per idle connection`;
    if (row.status !== 'ok') {
      rows.push([scenario, row.target, { span: `unavailable: ${row.reason}` }]);
      continue;
    }
    rows.push([
      scenario,
      row.target,
      `${row.kibPerConnection.toFixed(1)} KiB`,
      undefined,
      undefined,
      undefined,
      ...PEERS.map((peer) => (peer === row.target ? undefined : formatRatio(idleRatio(idle, row, peer)))),
    ]);
  }
  return formatTable(headers, rows, [false, false, true, true, true, true, true, true]);
}
