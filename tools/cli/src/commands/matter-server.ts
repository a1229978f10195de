// `sentinel matter-server`: the Matter bridge (bridges/matter) as a standalone process: a
// matter.js controller behind the matter server's WebSocket API, so Home Assistant's
// Matter integration can use it. Prints one JSON line once listening; SIGINT/SIGTERM stop it.
// With --nats the controller lives in a NATS KV bucket and runs only on the holder of the
// `matter` leader lock: a second matter-server waits as a standby and takes over, with
// every pairing, when the first dies. Only the holder listens on the API port, so a client
// given both servers' URLs finds the live one.
//
// Memory (docs/matter.md, `npm run bench -- matter`): the server runs V8 with
// --optimize-for-size and, when `npm run build` made it, from one bundle of only the
// bridge (matter-server-run.ts), not from the CLI's module graph. With a fresh bundle,
// bin/sentinel.js does not even load the CLI: it calls leanMatterServerEntry() and runs
// the bundled matter-server-main.ts, which registers only this command.
import { readFileSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import type { Command } from 'commander';
import { CliError, UsageError } from '../errors.js';
import { untilSignal } from '../signals.js';
import type * as Runner from './matter-server-run.js';

export interface MatterServerFlags {
  port: string;
  host: string;
  storage?: string;
  loopbackOnly?: boolean;
  nats?: string;
  natsCreds?: string;
  nodeId: string;
  lockTtl: string;
}

/**
 * LOCK_DEFAULTS.ttlMs of @sentinel/gateway, written out: importing it would load the whole
 * gateway (~20 MiB of heap) into a server that, without --nats, never takes a lock.
 */
const DEFAULT_LOCK_TTL_MS = 15_000;

function parsePort(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) > 65535)
    throw new UsageError(`--port: must be a TCP port 0…65535 (0: a free one), got ${JSON.stringify(text)}`);
  return Number(text);
}

/** How the command was reached: `lean` when bin/sentinel.js skipped the CLI for it. */
export interface MatterServerEntry {
  lean?: boolean;
}

export function registerMatterServerCommand(program: Command, entry: MatterServerEntry = {}): void {
  program
    .command('matter-server')
    .description(
      'run a Matter controller with the WebSocket API of the matter server (ws://host:port/ws) until SIGINT/SIGTERM',
    )
    .option('--port <n>', 'the API’s TCP port (0: a free one)', '5580')
    .option('--host <address>', 'the API’s address; another than loopback lets the network in', '127.0.0.1')
    .option(
      '--storage <dir>',
      'keep the fabric and the paired nodes in this directory (default: in memory, lost on exit)',
    )
    .option(
      '--nats <url>',
      'keep the controller in the NATS KV bucket sentinel_matter and run it only while holding the `matter` ' +
        'leader lock (a standby takes over without re-pairing); comma-separate several servers',
    )
    .option('--nats-creds <file>', 'NATS credentials file (the matter credential)')
    .option('--node-id <id>', 'this server in the leader lock (with --nats)', `${hostname()}-matter`)
    .option(
      '--lock-ttl <ms>',
      'the leader lease (with --nats): how long a dead holder blocks a standby',
      String(DEFAULT_LOCK_TTL_MS),
    )
    .option(
      '--loopback-only',
      'keep Matter traffic on loopback: no mDNS on the network; devices are reached only at the ip_addr/port ' +
        'given to commission_with_code (tests, demos with `sentinel simulate matter`)',
    )
    .addHelpText(
      'after',
      '\nPrints {"event":"listening","url":"ws://127.0.0.1:5580/ws",…} on stdout once clients can connect.\n\n' +
        'Examples:\n' +
        '  sentinel matter-server --storage ./matter\n' +
        '  sentinel matter-server --nats nats://127.0.0.1:4222 --nats-creds matter.creds   # on two nodes\n' +
        '  sentinel matter-server --port 0 --loopback-only   # with `sentinel simulate matter`\n',
    )
    .action(async (flags: MatterServerFlags) => {
      const port = parsePort(flags.port);
      if (flags.storage === '') throw new UsageError('--storage: give a directory');
      if (flags.nats !== undefined && flags.storage !== undefined)
        throw new UsageError('--storage and --nats exclude each other: the controller lives in one place');
      if (flags.natsCreds !== undefined && flags.nats === undefined)
        throw new UsageError('--nats-creds goes with --nats');
      const lockTtl = Number(flags.lockTtl);
      if (!Number.isInteger(lockTtl) || lockTtl < 500 || lockTtl > 600_000)
        throw new UsageError(`--lock-ttl: milliseconds 500…600000, got ${JSON.stringify(flags.lockTtl)}`);
      const signalled = untilSignal();
      const memory = leanProcess(entry);
      const runner = await loadRunner(memory);
      try {
        await runner.runMatterServer(
          {
            port,
            host: flags.host,
            storage: flags.storage,
            loopbackOnly: flags.loopbackOnly ?? false,
            nats: flags.nats,
            natsCreds: flags.natsCreds,
            nodeId: flags.nodeId,
            lockTtl,
            memory,
          },
          signalled,
        );
      } catch (cause) {
        if (cause instanceof runner.MatterServerRunError) throw new CliError(cause.message, { cause });
        throw cause;
      }
    });
}

/**
 * V8 tuned for a small resident set, set before the bridge loads: with the defaults the
 * young generation alone grows to 32 MiB (two 16 MiB semi-spaces) while matter.js starts,
 * and keeps it. --optimize-for-size caps it at 2 MiB and collects the old generation
 * sooner; set at run time (v8.setFlagsFromString), since this process started as
 * `sentinel`: early when bin/sentinel.js took the lean entry, otherwise once the CLI parsed
 * the flags. --no-opt keeps TurboFan's optimized code out (~9 MiB): the bridge waits on the
 * network, and a toggle is answered as fast without it (`npm run bench -- matter`).
 */
const V8_FLAGS = ['--optimize-for-size', '--semi-space-growth-factor=1', '--no-opt'];

function leanProcess(entry: MatterServerEntry): Record<string, unknown> {
  for (const flag of V8_FLAGS) setFlagsFromString(flag);
  return { v8_flags: V8_FLAGS, cli_skipped: entry.lean === true };
}

/** Where `npm run build` puts the bundle (scripts/build-matter-server.mjs), beside the compiled CLI. */
const BUNDLE_DIR = new URL('../matter-server/', import.meta.url);

export type BundleState = { fresh: true; run: URL; main: URL } | { fresh: false; reason: string };

/**
 * Whether the bundle in `dir` is there (both entries: one built before main.mjs existed
 * has only run.mjs) and not older than the sources it was made from (the manifest lists
 * our own ones; dependencies change only with npm install, which builds).
 */
export function bundleState(dir: URL = BUNDLE_DIR): BundleState {
  const run = new URL('run.mjs', dir);
  const main = new URL('main.mjs', dir);
  const manifest = new URL('manifest.json', dir);
  let built: number;
  let inputs: string[];
  try {
    built = Math.min(statSync(run).mtimeMs, statSync(main).mtimeMs);
    ({ inputs } = JSON.parse(readFileSync(manifest, 'utf8')) as { inputs: string[] });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return { fresh: false, reason: code === 'ENOENT' ? 'not built' : `unreadable (${String(error)})` };
  }
  for (const input of inputs) {
    const source = fileURLToPath(new URL(input, manifest));
    const changed = statSync(source, { throwIfNoEntry: false })?.mtimeMs;
    if (changed === undefined || changed > built)
      return { fresh: false, reason: `older than ${relative(process.cwd(), source)}` };
  }
  return { fresh: true, run, main };
}

/**
 * For bin/sentinel.js, before it loads anything else: with a fresh bundle, sets the V8
 * flags while the heap is still small and returns the bundled entry (matter-server-main.ts)
 * to import instead of the CLI; undefined sends it down the usual path, whose runner
 * load says on stderr why the bundle is not used.
 */
export function leanMatterServerEntry(dir: URL = BUNDLE_DIR): URL | undefined {
  const state = bundleState(dir);
  if (!state.fresh) return undefined;
  for (const flag of V8_FLAGS) setFlagsFromString(flag);
  return state.main;
}

/**
 * The bundled runner when it is fresh (bundleState); otherwise this module graph, which
 * behaves the same with more RSS.
 */
async function loadRunner(memory: Record<string, unknown>): Promise<typeof Runner> {
  const state = bundleState();
  if (state.fresh) {
    memory.bundle = true;
    return (await import(state.run.href)) as typeof Runner;
  }
  // running from the sources (tests, tsx) has no bundle by design: only compiled runs say why
  if (import.meta.url.endsWith('.js'))
    process.stderr.write(
      `matter-server: the lean bundle is ${state.reason}; running the CLI modules (more memory) until \`npm run build\`\n`,
    );
  memory.bundle = false;
  return await import('./matter-server-run.js');
}
