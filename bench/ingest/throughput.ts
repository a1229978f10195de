// Ingest throughput and latency against one running target: the generators'
// devices publish (as fast as their window allows, or at a fixed total rate),
// the sink counts what arrives and how late. Per scenario (QoS × mode):
// warm-up, then a measured window, then a bounded drain.
import { nowMs } from '../lib/clock.js';
import { LatencyHistogram } from '../lib/histogram.js';
import type { WorkerClient } from '../lib/ipc.js';
import { errorMessage, log } from '../lib/log.js';
import { readMachineBusyMs, readProcessesCpuMs } from '../lib/proc.js';
import type {
  CreditMessage,
  DeviceCredentials,
  LoadReply,
  LoadRequest,
  QoS,
  SinkProgress,
  SinkReply,
  SinkRequest,
} from '../lib/protocol.js';
import type { Target } from '../lib/targets.js';
import type { ThroughputNumbers, ThroughputRow } from './results.js';

export interface Workers {
  generators: WorkerClient<LoadRequest, LoadReply>[];
  sink: WorkerClient<SinkRequest, SinkReply>;
}

export interface ThroughputSettings {
  qos: QoS[];
  window: number;
  warmupMs: number;
  durationMs: number;
  /** entity keys per device: one reading per key in every state message */
  keys: string[];
  pad: number;
  /** readings/s offered in the paced (latency) scenarios; 0: no paced scenarios */
  pacedRate: number;
  /** after connecting and hello, before the first scenario (the gateway registers entities) */
  settleMs: number;
  connectConcurrency: number;
}

const LOSS_TIMEOUT_MS = 2000;
const DRAIN_MAX_MS = 5000;
const DRAIN_QUIET_MS = 500;

let scenarioCounter = 0;
/** Cumulative readings the sink has seen in the current scenario. */
let sinkProgress: SinkProgress = { type: 'progress', scenario: 0, perGenerator: [] };

/** Wires the sink's progress to the generators as credit. Call once per set of workers. */
export function relayCredit(workers: Workers): void {
  workers.sink.onEvent((event) => {
    if (event.type !== 'progress') return;
    const progress = event as SinkProgress;
    sinkProgress = progress;
    workers.generators.forEach((generator, index) => {
      const credit: CreditMessage = {
        type: 'credit',
        scenario: progress.scenario,
        received: progress.perGenerator[index] ?? 0,
      };
      generator.post(credit);
    });
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const totalReceived = (scenario: number) =>
  sinkProgress.scenario === scenario ? sinkProgress.perGenerator.reduce((a, b) => a + b, 0) : 0;

export type Mode = 'max' | 'paced';

export const scenarioName = (qos: QoS, mode: Mode, pacedRate: number): string =>
  mode === 'max' ? `ingest QoS ${qos}` : `latency @${pacedRate.toLocaleString('en-US')}/s QoS ${qos}`;

/** The scenarios each target runs, in order. */
export function scenariosOf(settings: ThroughputSettings): { qos: QoS; mode: Mode; name: string }[] {
  const modes: Mode[] = settings.pacedRate > 0 ? ['max', 'paced'] : ['max'];
  return settings.qos.flatMap((qos) =>
    modes.map((mode) => ({ qos, mode, name: scenarioName(qos, mode, settings.pacedRate) })),
  );
}

/** Connects the devices, proves they all get through, runs every scenario, disconnects. One row per scenario. */
export async function measureThroughput(
  target: Target,
  workers: Workers,
  devicesPerGenerator: DeviceCredentials[][],
  settings: ThroughputSettings,
): Promise<ThroughputRow[]> {
  const unavailable = (reason: string): ThroughputRow[] =>
    scenariosOf(settings).map(({ qos, mode, name }) => ({
      scenario: name,
      qos,
      mode,
      target: target.name,
      status: 'unavailable',
      reason,
    }));

  await workers.sink.request(
    {
      type: 'subscribe',
      kind: target.sink.kind,
      url: target.sink.url,
      qos: settings.qos[0]!,
      generators: workers.generators.length,
    },
    'subscribed',
    15_000,
  );
  const total = devicesPerGenerator.reduce((n, list) => n + list.length, 0);
  log(`  ${target.name}: connecting ${total} devices`);
  const connected = await Promise.all(
    workers.generators.map((generator, index) =>
      generator.request(
        {
          type: 'connect',
          url: target.mqttUrl,
          devices: devicesPerGenerator[index]!,
          keys: settings.keys,
          concurrency: settings.connectConcurrency,
        },
        'connected',
        120_000,
      ),
    ),
  );
  const failed = connected.reduce((n, reply) => n + reply.failed, 0);
  if (failed > 0) {
    const firstError = connected.find((reply) => reply.firstError)?.firstError;
    await disconnect(workers);
    return unavailable(`${failed}/${total} devices could not connect (${firstError ?? 'no reason given'})`);
  }
  await sleep(settings.settleMs);
  let helloRepeats: number;
  try {
    helloRepeats = await prime(target, workers, devicesPerGenerator);
  } catch (error) {
    await disconnect(workers);
    return unavailable(errorMessage(error));
  }

  const rows: ThroughputRow[] = [];
  for (const { qos, mode, name } of scenariosOf(settings)) {
    try {
      const row = await runScenario(target, workers, settings, qos, mode);
      rows.push(row.status === 'ok' ? { ...row, helloRepeats } : row);
    } catch (error) {
      rows.push({
        scenario: name,
        qos,
        mode,
        target: target.name,
        status: 'unavailable',
        reason: errorMessage(error),
      });
    }
  }
  await disconnect(workers);
  return rows;
}

const PRIME_ROUNDS = 4;
const PRIME_WAIT_MS = 3000;

/**
 * Every device sends one QoS 1 reading, and we wait until the subscriber has
 * heard from each. Devices not heard from send their hello again (up to
 * PRIME_ROUNDS times): a device whose readings go nowhere would hold its
 * generator's in-flight credit and distort everything after. Returns how many
 * devices needed their hello repeated (0 for a target that gets it right);
 * throws when some never get through.
 */
async function prime(
  target: Target,
  workers: Workers,
  devicesPerGenerator: DeviceCredentials[][],
): Promise<number> {
  const missing = new Set(devicesPerGenerator.flat().map((device) => device.id));
  const total = missing.size;
  let repeats = 0;
  for (let round = 0; round < PRIME_ROUNDS && missing.size > 0; round++) {
    await workers.sink.request(
      { type: 'reset', scenario: ++scenarioCounter, trackDevices: true },
      'reset',
      5000,
    );
    const ids = [...missing];
    const primed = await Promise.all(
      workers.generators.map((generator) =>
        generator.request(
          { type: 'prime', ids: round === 0 ? undefined : ids, rehello: round > 0 },
          'primed',
          30_000,
        ),
      ),
    );
    const failed = primed.find((reply) => reply.failed > 0);
    if (failed) throw new Error(`priming: ${failed.failed} publish(es) failed (${failed.firstError})`);
    const deadline = Date.now() + PRIME_WAIT_MS;
    for (;;) {
      const seen = await workers.sink.request({ type: 'seen' }, 'seen', 5000);
      for (const id of seen.ids) missing.delete(id);
      if (missing.size === 0 || Date.now() > deadline) break;
      await sleep(50);
    }
    if (missing.size > 0 && round + 1 < PRIME_ROUNDS) {
      repeats = Math.max(repeats, missing.size);
      log(
        `  ${target.name}: ${missing.size}/${total} devices' readings did not arrive; sending their hello again`,
      );
    }
  }
  if (missing.size > 0) {
    const example = [...missing][0];
    throw new Error(
      `${missing.size}/${total} devices' readings never reached the subscriber, hello sent ${PRIME_ROUNDS} times (e.g. ${example})`,
    );
  }
  return repeats;
}

async function disconnect(workers: Workers): Promise<void> {
  await Promise.all(
    workers.generators.map((generator) => generator.request({ type: 'disconnect' }, 'disconnected', 15_000)),
  );
}

async function runScenario(
  target: Target,
  workers: Workers,
  settings: ThroughputSettings,
  qos: QoS,
  mode: Mode,
): Promise<ThroughputRow> {
  const scenario = ++scenarioCounter;
  const name = scenarioName(qos, mode, settings.pacedRate);
  const messagesPerS =
    mode === 'paced' ? settings.pacedRate / settings.keys.length / workers.generators.length : 0;
  await workers.sink.request(
    {
      type: 'subscribe',
      kind: target.sink.kind,
      url: target.sink.url,
      qos,
      generators: workers.generators.length,
    },
    'subscribed',
    15_000,
  );
  await workers.sink.request({ type: 'reset', scenario }, 'reset', 5000);
  log(`  ${target.name} ${name}: warm-up ${settings.warmupMs} ms, then ${settings.durationMs} ms measured`);
  await Promise.all(
    workers.generators.map((generator) =>
      generator.request(
        {
          type: 'start',
          scenario,
          qos,
          window: settings.window,
          pad: settings.pad,
          lossTimeoutMs: LOSS_TIMEOUT_MS,
          messagesPerS,
        },
        'started',
        5000,
      ),
    ),
  );
  await sleep(settings.warmupMs);
  const fromMs = nowMs() + 5;
  const toMs = fromMs + settings.durationMs;
  await workers.sink.request({ type: 'window', fromMs, toMs }, 'window', 5000);
  await sleep(Math.max(0, fromMs - nowMs()));
  // the harness: generators, subscriber, and this orchestrator (which relays credit)
  const harnessPids = [...workers.generators.map((g) => g.child.pid), workers.sink.child.pid, process.pid];
  const [cpuBefore, harnessBefore, machineBefore] = await Promise.all([
    readProcessesCpuMs(target.cpuPids),
    readProcessesCpuMs(harnessPids),
    readMachineBusyMs(),
  ]);
  const cpuStartedAt = nowMs();
  await sleep(Math.max(0, toMs - nowMs()));
  const [cpuAfter, harnessAfter, machineAfter] = await Promise.all([
    readProcessesCpuMs(target.cpuPids),
    readProcessesCpuMs(harnessPids),
    readMachineBusyMs(),
  ]);
  const cpuElapsedMs = nowMs() - cpuStartedAt;
  const stopped = await Promise.all(
    workers.generators.map((generator) => generator.request({ type: 'stop' }, 'stopped', 15_000)),
  );
  const sentReadings = stopped.reduce((n, reply) => n + reply.sentReadings, 0);
  const publishErrors = stopped.reduce((n, reply) => n + reply.publishErrors, 0);
  const firstPublishError = stopped.find((reply) => reply.firstError)?.firstError;

  // drain: until everything sent has arrived, or nothing more arrives for a while (bounded)
  const drainDeadline = Date.now() + DRAIN_MAX_MS;
  let last = -1;
  let quietSince = Date.now();
  while (Date.now() < drainDeadline) {
    const received = totalReceived(scenario);
    if (received >= sentReadings) break;
    if (received !== last) {
      last = received;
      quietSince = Date.now();
    } else if (Date.now() - quietSince > DRAIN_QUIET_MS) {
      break;
    }
    await sleep(25);
  }
  const report = await workers.sink.request({ type: 'report' }, 'report', 5000);
  const histogram = LatencyHistogram.fromSnapshot(report.histogram);
  const base = { scenario: name, qos, mode, target: target.name };
  if (report.inWindow === 0) {
    const detail = firstPublishError ? `; first publish error: ${firstPublishError}` : '';
    return {
      ...base,
      status: 'unavailable',
      reason: `no readings arrived at the subscriber (${sentReadings} sent, ${publishErrors} publish errors${detail})`,
    };
  }
  const numbers: ThroughputNumbers = {
    readingsPerS: (report.inWindow / report.windowMs) * 1000,
    p50Ms: histogram.percentile(50)!,
    p99Ms: histogram.percentile(99)!,
    meanMs: histogram.mean()!,
    maxMs: report.histogram.maxMs,
    inWindow: report.inWindow,
    windowMs: report.windowMs,
    sentReadings,
    receivedReadings: report.received,
    lossPercent: sentReadings > 0 ? (Math.max(0, sentReadings - report.received) / sentReadings) * 100 : 0,
    publishErrors,
    firstPublishError,
    cpuMicrosPerReading: cpuAfter > cpuBefore ? ((cpuAfter - cpuBefore) * 1000) / report.inWindow : undefined,
    targetCpuPercent: ((cpuAfter - cpuBefore) / cpuElapsedMs) * 100,
    harnessCpuPercent: ((harnessAfter - harnessBefore) / cpuElapsedMs) * 100,
    otherCpuPercent:
      (Math.max(0, machineAfter - machineBefore - (cpuAfter - cpuBefore) - (harnessAfter - harnessBefore)) /
        cpuElapsedMs) *
      100,
    foreign: report.foreign,
    negative: report.negative,
    ...(mode === 'paced' ? { offeredPerS: settings.pacedRate } : {}),
  };
  log(
    `  ${target.name} ${name}: ${Math.round(numbers.readingsPerS)} readings/s, p50 ${numbers.p50Ms.toFixed(2)} ms, ` +
      `p99 ${numbers.p99Ms.toFixed(2)} ms, loss ${numbers.lossPercent.toFixed(2)} %, ` +
      `CPU: target ${numbers.targetCpuPercent.toFixed(0)} %, harness ${numbers.harnessCpuPercent.toFixed(0)} %, ` +
      `everything else ${numbers.otherCpuPercent.toFixed(0)} %` +
      (publishErrors > 0 ? `, ${publishErrors} publish errors (${firstPublishError})` : ''),
  );
  return { ...base, status: 'ok', ...numbers };
}
