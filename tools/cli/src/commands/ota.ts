// `sentinel ota rollout|status|pause|resume|abort`: staged OTA rollouts (docs/ota.md
// "Rollouts").
//
// The CLI does not talk to a gateway process: it writes its request into the
// `sentinel_ota` KV bucket and waits for the `ota` leader's answer there (the shared
// request logic: gateway/src/ota/rollout/client.ts, also behind the HTTP API). `status`
// reads the rollout record the leader keeps in the same bucket.
import { parseDuration } from '@sentinel/automations';
import {
  type Answer,
  askRollout,
  type GatewayStore,
  loadRollout,
  ROLLOUT_KEY,
  type Rollout,
  type RolloutRequest,
  RolloutRequestPending,
  rolloutSummary,
} from '@sentinel/gateway/store';
import { type Command, Option } from 'commander';
import { CliError, UsageError } from '../errors.js';
import { addStoreOptions, withStore } from './device.js';

const FINAL = new Set(['completed', 'aborted']);

/** The leader's answer; nobody answering in time is the CLI's error, with what to do. */
async function ask(store: GatewayStore, request: RolloutRequest, timeoutMs: number): Promise<Answer> {
  try {
    return await askRollout(store.bus.kv.ota, request, timeoutMs);
  } catch (error) {
    if (error instanceof RolloutRequestPending) throw new CliError(error.message);
    throw error;
  }
}

const load = (store: GatewayStore) => loadRollout(store.bus.kv.ota);
const summary = rolloutSummary;

const print = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`);

function refused(answer: Answer): asserts answer is Extract<Answer, { ok: true }> {
  if (!answer.ok) throw new CliError(`refused (${answer.code}): ${answer.message}`);
}

/** Prints the summary on every change until the rollout completes, pauses or is aborted. */
async function follow(store: GatewayStore, id: string): Promise<Rollout | undefined> {
  const watch = await store.bus.kv.ota.watch({ key: ROLLOUT_KEY });
  let last = '';
  try {
    for await (const entry of watch) {
      if (entry.operation !== 'PUT') continue;
      const rollout = entry.json<Rollout>(); // the leader wrote it
      if (rollout.id !== id) continue;
      const line = JSON.stringify(summary(rollout));
      if (line !== last) process.stderr.write(`${line}\n`);
      last = line;
      if (FINAL.has(rollout.status) || rollout.status === 'paused') return rollout;
    }
  } finally {
    watch.stop();
  }
  return undefined;
}

function positiveInt(name: string, min: number) {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min)
      throw new UsageError(`--${name} must be a whole number ≥ ${min}, not "${value}"`);
    return n;
  };
}

function duration(name: string) {
  return (value: string) => {
    try {
      const ms = parseDuration(/^\d+$/.test(value) ? `${value}s` : value);
      if (ms < 1000) throw new Error('at least 1s');
      return ms;
    } catch (error) {
      throw new UsageError(`--${name}: ${(error as Error).message}`);
    }
  };
}

const DEVICE_ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;

export function registerOtaCommands(program: Command): void {
  const ota = program
    .command('ota')
    .description(
      'staged OTA rollouts to picket devices: a canary, then batches, paused on the first failure',
    );

  const answerTimeout = (command: Command) =>
    command.addOption(
      new Option('--timeout <duration>', 'how long to wait for the gateway leading `ota` to answer')
        .argParser(duration('timeout'))
        .default(30_000, '30s'),
    );

  answerTimeout(
    addStoreOptions(
      ota
        .command('rollout')
        .description(
          'roll a catalog version out: the canary first, then batches; a device counts once it is back on the version and confirmed within the deadline',
        )
        .argument('<version>', 'a version in the firmware catalog (`sentinel firmware list`)')
        .option('--devices <ids>', 'comma-separated picket device ids (default: every picket device)')
        .option('--model <model>', 'only the devices of this model')
        .option('--canary <n>', 'devices in the canary stage (0: none)', positiveInt('canary', 0), 1)
        .option('--batch <n>', 'devices per batch after the canary', positiveInt('batch', 1), 10)
        .addOption(
          new Option(
            '--deadline <duration>',
            'how long each device has to come back on the new version and be confirmed (30s, 10m, 1h)',
          )
            .argParser(duration('deadline'))
            .default(600_000, '10m'),
        )
        .option('--allow-downgrade', 'install the version on devices that run a newer one')
        .option('--channel <channel>', 'take the image from this catalog channel (stable or beta)')
        .option(
          '--follow',
          'print the progress (on stderr) until the rollout completes, pauses or is aborted',
        ),
    ),
  ).action(async (version: string, flags: Record<string, unknown>, self: Command) => {
    if (flags.devices !== undefined && flags.model !== undefined)
      throw new UsageError('give --devices or --model, not both');
    let devices: string[] | undefined;
    if (typeof flags.devices === 'string') {
      devices = flags.devices
        .split(',')
        .map((d) => d.trim())
        .filter(Boolean);
      const bad = devices.filter((d) => !DEVICE_ID.test(d));
      if (devices.length === 0 || bad.length > 0)
        throw new UsageError(
          `--devices: invalid device id${bad.length > 1 ? 's' : ''} ${bad.join(', ') || '(none given)'}`,
        );
    }
    if (flags.channel !== undefined && flags.channel !== 'stable' && flags.channel !== 'beta')
      throw new UsageError(`--channel must be stable or beta, not "${String(flags.channel)}"`);
    await withStore(self, async (store) => {
      const answer = await ask(
        store,
        {
          op: 'start',
          version,
          ...(devices ? { devices } : {}),
          ...(flags.model === undefined ? {} : { model: String(flags.model) }),
          canary: flags.canary as number,
          batch: flags.batch as number,
          deadline_ms: flags.deadline as number,
          allow_downgrade: flags.allowDowngrade === true,
          ...(flags.channel === undefined ? {} : { channel: flags.channel as 'stable' | 'beta' }),
        },
        flags.timeout as number,
      );
      refused(answer);
      const rollout = await load(store);
      print(rollout?.id === answer.rollout ? summary(rollout) : answer);
      if (flags.follow) {
        const end = await follow(store, answer.rollout);
        if (end?.status === 'paused')
          throw new CliError(
            `the rollout paused: ${end.paused_reason ?? ''}; \`sentinel ota resume\` goes on, \`sentinel ota abort\` stops it`,
          );
      }
    });
  });

  addStoreOptions(
    ota
      .command('status')
      .description(
        'the current (or last) rollout: a summary line, then one JSON line per device with --devices',
      )
      .option('--devices', 'also print each device: its state, the version it came from, why it failed'),
  ).action(async (flags: { devices?: boolean }, self: Command) => {
    await withStore(self, async (store) => {
      const rollout = await load(store);
      if (!rollout) throw new CliError('no rollout yet: start one with `sentinel ota rollout <version>`');
      print(summary(rollout));
      if (flags.devices)
        for (const [device, record] of Object.entries(rollout.devices)) print({ device, ...record });
    });
  });

  for (const [op, description] of [
    ['pause', 'offer nothing more; devices already updating are still seen through'],
    ['resume', 'go on after a pause (a failed device stays failed; the next ones are offered)'],
    ['abort', 'end the rollout: devices not yet confirmed are told to roll back'],
  ] as const) {
    answerTimeout(addStoreOptions(ota.command(op).description(description))).action(
      async (flags: { timeout: number }, self: Command) => {
        await withStore(self, async (store) => {
          const answer = await ask(store, { op }, flags.timeout);
          refused(answer);
          const rollout = await load(store);
          print(rollout ? summary(rollout) : answer);
        });
      },
    );
  }
}
