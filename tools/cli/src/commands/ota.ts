// `sentinel ota rollout|status|pause|resume|abort`: staged OTA rollouts (docs/ota.md
// "Rollouts").
//
// The CLI does not talk to a gateway process: it writes its request into the
// `sentinel_ota` KV bucket (`request.<id>`) and waits for the `ota` leader to answer in
// the same key. A request in KV outlives a leader change (a NATS request to a leader
// that dies in between would be lost, and one sent while nobody leads would find no
// one); the next leader answers whatever is waiting. `status` reads the rollout record
// the leader keeps in the same bucket.
import { randomUUID } from 'node:crypto';
import { parseDuration } from '@sentinel/automations';
import type { GatewayStore } from '@sentinel/gateway/store';
import { type Command, Option } from 'commander';
import { CliError, UsageError } from '../errors.js';
import { addStoreOptions, withStore } from './device.js';

// the bucket's keys (gateway/src/ota/rollout/schema.ts)
const ROLLOUT_KEY = 'rollout';
const requestKey = (id: string) => `request.${id}`;

type Answer = { ok: true; rollout: string; status: string } | { ok: false; code: string; message: string };

interface DeviceRecord {
  state: string;
  from: string;
  offer?: string;
  percent?: number;
  reason?: string;
}
interface Rollout {
  id: string;
  version: string;
  status: string;
  stage: number;
  stages: string[][];
  canary: number;
  deadline_ms: number;
  created: number;
  updated: number;
  paused_reason?: string;
  paused_device?: string;
  devices: Record<string, DeviceRecord>;
}

const FINAL = new Set(['completed', 'aborted']);

/** Writes the request and waits for the leader's answer, at most `timeoutMs`. */
async function ask(
  store: GatewayStore,
  request: Record<string, unknown>,
  timeoutMs: number,
): Promise<Answer> {
  const kv = store.bus.kv.ota;
  const id = randomUUID();
  const watch = await kv.watch({ key: requestKey(id) });
  const timer = setTimeout(() => watch.stop(), timeoutMs);
  try {
    await kv.create(requestKey(id), JSON.stringify({ request, at: Date.now() }));
    for await (const entry of watch) {
      if (entry.operation !== 'PUT') continue;
      const answer = entry.json<{ answer?: Answer }>().answer;
      if (answer) return answer;
    }
  } finally {
    clearTimeout(timer);
    watch.stop();
  }
  throw new CliError(
    `no gateway answered within ${timeoutMs / 1000} s: is one running on this NATS (it answers once it holds the \`ota\` lock)? ` +
      `The request stays queued as ${requestKey(id)} and is answered by the next leader; check with \`sentinel ota status\``,
  );
}

async function load(store: GatewayStore): Promise<Rollout | undefined> {
  const entry = await store.bus.kv.ota.get(ROLLOUT_KEY);
  return entry?.operation === 'PUT' ? entry.json<Rollout>() : undefined;
}

/** The one-line view of a rollout: where it is and how many devices are where. */
function summary(rollout: Rollout) {
  const counts: Record<string, number> = {};
  for (const device of Object.values(rollout.devices)) counts[device.state] = (counts[device.state] ?? 0) + 1;
  const stageName = (i: number) =>
    rollout.canary > 0 && i === 0 ? 'canary' : `batch ${rollout.canary > 0 ? i : i + 1}`;
  return {
    rollout: rollout.id,
    version: rollout.version,
    status: rollout.status,
    stage:
      rollout.stage < rollout.stages.length
        ? `${stageName(rollout.stage)} (${rollout.stage + 1}/${rollout.stages.length})`
        : `done (${rollout.stages.length}/${rollout.stages.length})`,
    devices: counts,
    ...(rollout.paused_reason ? { paused_reason: rollout.paused_reason } : {}),
    ...(rollout.paused_device ? { paused_device: rollout.paused_device } : {}),
  };
}

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
      const rollout = entry.json<Rollout>();
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
          ...(flags.model === undefined ? {} : { model: flags.model }),
          canary: flags.canary,
          batch: flags.batch,
          deadline_ms: flags.deadline,
          allow_downgrade: flags.allowDowngrade === true,
          ...(flags.channel === undefined ? {} : { channel: flags.channel }),
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
