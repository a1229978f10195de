// `sentinel automations run|trace` (and, registered by their own modules, `types` and
// `replay`): the automation runtime as a process on the automations credential, held
// to one instance across the cluster by the `automations` leader lock.
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import {
  connectRuntimeBus,
  openAutomationBucket,
  openBucket,
  RuntimeBusError,
  readStoredTraces,
  SANDBOX_DEFAULTS,
  STORED_TRACES,
  startAutomationService,
  type Trace,
  type TriggerStateFence,
} from '@sentinel/automations';
import { fencedUpdate, type LeaderLease, LOCK_DEFAULTS, runWhileLeader } from '@sentinel/gateway';
import { type Command, Option } from 'commander';
import { CliError, UsageError } from '../errors.js';
import { stderrLockLog } from '../lock-log.js';
import { registerAutomationsReplayCommand } from './automations-replay.js';
import { registerAutomationsTypesCommand } from './automations-types.js';

type RuntimeBus = Awaited<ReturnType<typeof connectRuntimeBus>>;
type Bucket = Awaited<ReturnType<typeof openBucket>>;

/**
 * Trigger-state writes under the lease: each carries the lease's fencing token and is
 * refused (StaleLeaseError, in the automation's trace) once the lease has ended or a
 * newer leader has written the key, so a frozen leader waking late cannot undo what
 * its successor recorded (a `for` that fired, a threshold re-armed).
 */
export const leaseFence = (locks: Bucket, lease: LeaderLease): TriggerStateFence => ({
  put: (kv, key, state) => fencedUpdate(locks, lease, kv as Bucket, key, () => state),
});

const LOCKS_BUCKET = 'sentinel_locks';
const SUBSYSTEM = 'automations';

function busOptions(command: Command): Command {
  return command
    .addOption(
      new Option('--nats <url>', 'NATS server(s), comma-separated')
        .env('SENTINEL_NATS_URL')
        .default('nats://127.0.0.1:4222'),
    )
    .addOption(
      new Option('--nats-creds <file>', 'NATS credentials file (the automations credential)').env(
        'SENTINEL_NATS_CREDS',
      ),
    );
}

const number = (name: string, min: number, max: number) => (text: string) => {
  const value = Number(text);
  if (!Number.isFinite(value) || value < min || value > max)
    throw new UsageError(`${name} must be a number from ${min} to ${max}, not "${text}"`);
  return value;
};

async function connectOrFail(flags: { nats: string; natsCreds?: string }): Promise<RuntimeBus> {
  try {
    return await connectRuntimeBus(flags.nats, flags.natsCreds);
  } catch (error) {
    if (error instanceof RuntimeBusError) throw new CliError(`${error.message}; is nats-server running?`);
    throw error;
  }
}

interface RunFlags {
  nats: string;
  natsCreds?: string;
  latitude?: number;
  longitude?: number;
  nodeId: string;
  leaderLock: boolean;
  lockTtl: number;
  groupSize: number;
  timeLimit: number;
  memoryLimit: number;
  storedTraces: number;
}

async function run(dir: string, flags: RunFlags): Promise<void> {
  if ((flags.latitude === undefined) !== (flags.longitude === undefined))
    throw new UsageError('give both --latitude and --longitude (sun triggers need both)');
  const log = stderrLockLog({ name: 'automations' });
  const { nc, connection } = await connectOrFail(flags);
  const options = {
    dir: resolve(dir),
    connection,
    ...(flags.latitude !== undefined
      ? { location: { latitude: flags.latitude, longitude: flags.longitude! } }
      : {}),
    isolation: { groupSize: flags.groupSize, timeLimitMs: flags.timeLimit, memoryLimitMb: flags.memoryLimit },
    storedTraces: flags.storedTraces,
    log: (line: string, data?: Record<string, unknown>) => log.info({ ...data }, line),
  };
  try {
    await openAutomationBucket(nc);
  } catch (error) {
    await nc.close();
    throw new CliError(
      `${(error as Error).message}; start a gateway on this NATS first (it creates the bucket)`,
    );
  }
  const start = async (fence?: TriggerStateFence) => {
    const service = await startAutomationService(nc, { ...options, ...(fence ? { fence } : {}) });
    // the ready line: tests and supervisors wait for it
    process.stdout.write(
      `${JSON.stringify({ event: 'automations_running', automations: service.ids, workers: service.runtime.workers, pid: process.pid })}\n`,
    );
    return service;
  };

  let stopAll: () => Promise<void>;
  if (!flags.leaderLock) {
    const service = await start();
    stopAll = () => service.stop();
  } else {
    const locks = await openBucket(nc, LOCKS_BUCKET);
    try {
      await locks.get(SUBSYSTEM);
    } catch (error) {
      await nc.close();
      throw new CliError(
        `this credential cannot use the leader lock (KV ${LOCKS_BUCKET}, key ${SUBSYSTEM}): ${(error as Error).message}; ` +
          'give the automations role the lock, or run a single runtime with --no-leader-lock',
      );
    }
    const ttlMs = flags.lockTtl;
    const handle = runWhileLeader(
      { kv: { locks } },
      {
        subsystem: SUBSYSTEM,
        nodeId: flags.nodeId,
        ttlMs,
        heartbeatMs: Math.max(100, Math.round(ttlMs / 4)),
        graceMs: Math.max(200, Math.round(ttlMs / 3)),
        log,
        onChange: (state) => {
          if (state.kind === 'standby')
            process.stdout.write(
              `${JSON.stringify({ event: 'automations_standby', holder: state.holder?.node_id ?? null })}\n`,
            );
        },
      },
      async (lease) => start(leaseFence(locks, lease)),
    );
    stopAll = () => handle.stop();
  }
  process.stderr.write(`automations from ${options.dir}; Ctrl-C stops\n`);
  await new Promise<void>((done) => {
    process.once('SIGINT', () => done());
    process.once('SIGTERM', () => done());
  });
  await stopAll();
  await nc.drain().catch(() => nc.close());
}

function describeTrace(t: Trace): string {
  const when = new Date(t.started).toISOString();
  const took = t.finished !== undefined ? ` ${t.finished - t.started} ms` : '';
  const lines = [`${when} ${t.run_id} ${t.result}${took}${t.error ? `: ${t.error}` : ''}`];
  if (t.trigger) lines.push(`  trigger: ${t.trigger.description}`);
  for (const c of t.conditions)
    lines.push(`  condition ${c.name}: ${c.result}${c.error ? ` (${c.error})` : ''}`);
  for (const a of t.actions) {
    if (a.kind === 'command')
      lines.push(
        `  command ${a.entity_id} ${JSON.stringify(a.value)} → ${a.reply.ok ? 'ok' : `${a.reply.error?.code}: ${a.reply.error?.message}`}`,
      );
    else if (a.kind === 'notify') lines.push(`  notify ${a.channel}: ${a.title}`);
    else lines.push(`  log: ${a.message}${a.data ? ` ${JSON.stringify(a.data)}` : ''}`);
  }
  if (t.truncated) lines.push('  (more actions than a trace keeps)');
  return lines.join('\n');
}

async function trace(id: string, flags: { nats: string; natsCreds?: string; last: number; json?: boolean }) {
  if (!/^[a-z0-9][a-z0-9_-]{0,63}$/.test(id))
    throw new UsageError(`"${id}" is not an automation id ([a-z0-9][a-z0-9_-]{0,63})`);
  const { nc } = await connectOrFail(flags);
  try {
    const kv = await openAutomationBucket(nc).catch((error: Error) => {
      throw new CliError(`${error.message}; has an automations runtime run on this NATS?`);
    });
    const traces = (await readStoredTraces(kv, id, STORED_TRACES)).slice(-flags.last);
    if (traces.length === 0)
      throw new CliError(
        `no traces of "${id}" (is it loaded in a running runtime? a run's trace reaches KV within 5 s)`,
      );
    for (const t of traces) process.stdout.write(`${flags.json ? JSON.stringify(t) : describeTrace(t)}\n`);
  } finally {
    await nc.close();
  }
}

export function registerAutomationsCommands(program: Command): void {
  const automations = program
    .command('automations')
    .description('TypeScript automations over the entity model: run them, read their traces, types, replay');

  busOptions(
    automations
      .command('run')
      .description('run every automation in a directory (one runtime per cluster executes them: leader lock)')
      .argument('<dir>', 'directory of automation modules (.ts or .js)')
      .option('--latitude <deg>', 'for sun triggers', number('--latitude', -90, 90))
      .option('--longitude <deg>', 'for sun triggers', number('--longitude', -180, 180))
      .addOption(new Option('--node-id <id>', 'this runtime in the leader lock').default(hostname()))
      .option('--no-leader-lock', 'run without the leader lock (a single runtime; two would both execute)')
      .addOption(
        new Option('--lock-ttl <ms>', 'leader lease; every runtime of a cluster must use the same one')
          .argParser(number('--lock-ttl', 500, 600_000))
          .default(LOCK_DEFAULTS.ttlMs),
      )
      .addOption(
        new Option(
          '--group-size <n>',
          'automations per sandbox worker, a thread with its own NATS connection (1: a worker each; workers beyond the CPU cores cost latency, ~25 MB each)',
        )
          .argParser(number('--group-size', 1, 1000))
          .default(SANDBOX_DEFAULTS.groupSize),
      )
      .addOption(
        new Option('--time-limit <ms>', 'how long automation code may run without yielding')
          .argParser(number('--time-limit', 50, 600_000))
          .default(SANDBOX_DEFAULTS.timeLimitMs),
      )
      .addOption(
        new Option(
          '--stored-traces <n>',
          'traces kept in KV per automation for `automations trace` (0: none)',
        )
          .argParser(number('--stored-traces', 0, STORED_TRACES))
          .default(STORED_TRACES),
      )
      .addOption(
        new Option('--memory-limit <mb>', 'heap per sandbox worker')
          .argParser(number('--memory-limit', 16, 4096))
          .default(SANDBOX_DEFAULTS.memoryLimitMb),
      ),
  ).action(async (dir: string, flags: RunFlags) => run(dir, flags));

  busOptions(
    automations
      .command('trace')
      .description(
        `print the last runs of an automation (trigger, conditions, actions, errors; ${STORED_TRACES} kept)`,
      )
      .argument('<id>', 'the automation id')
      .option('--last <n>', 'how many', number('--last', 1, STORED_TRACES), 10)
      .option('--json', 'one JSON trace per line'),
  ).action(async (id: string, flags: { nats: string; natsCreds?: string; last: number; json?: boolean }) =>
    trace(id, flags),
  );

  registerAutomationsTypesCommand(automations);
  registerAutomationsReplayCommand(automations);
}
