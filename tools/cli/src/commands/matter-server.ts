// `sentinel matter-server`: the Matter bridge (bridges/matter) as a standalone process: a
// matter.js controller behind the matter server's WebSocket API, so Home Assistant's
// Matter integration can use it. Prints one JSON line once listening; SIGINT/SIGTERM stop it.
// With --nats the controller lives in a NATS KV bucket and runs only on the holder of the
// `matter` leader lock: a second matter-server waits as a standby and takes over, with
// every pairing, when the first dies. Only the holder listens on the API port, so a client
// given both servers' URLs finds the live one.
//
// Memory (docs/matter.md, `npm run bench -- matter`): the server runs V8 with
// --optimize-for-size and, when `npm run build` made it, from one bundled file of only the
// bridge (matter-server-run.ts), not from the CLI's module graph.
import { readFileSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import type { Command } from 'commander';
import { CliError, UsageError } from '../errors.js';
import type * as Runner from './matter-server-run.js';
import { untilSignal } from './simulate-matter.js';

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

export function registerMatterServerCommand(program: Command): void {
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
      const memory = leanProcess();
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
 * sooner; set at run time, since this process started as the whole CLI.
 */
const V8_FLAGS = ['--optimize-for-size', '--semi-space-growth-factor=1'];

function leanProcess(): Record<string, unknown> {
  for (const flag of V8_FLAGS) setFlagsFromString(flag);
  return { v8_flags: V8_FLAGS };
}

/** Where `npm run build` puts the bundle (scripts/build-matter-server.mjs), beside the compiled CLI. */
const BUNDLE = new URL('../matter-server/run.mjs', import.meta.url);
const MANIFEST = new URL('../matter-server/manifest.json', import.meta.url);

/**
 * The bundled runner when it is there and no newer than the sources it was made from (the
 * manifest lists our own ones; dependencies change only with npm install, which builds);
 * otherwise this module graph, which behaves the same with ~30 MiB more RSS.
 */
async function loadRunner(memory: Record<string, unknown>): Promise<typeof Runner> {
  let reason: string;
  try {
    const built = statSync(BUNDLE).mtimeMs;
    const { inputs } = JSON.parse(readFileSync(MANIFEST, 'utf8')) as { inputs: string[] };
    const newer = inputs.find((input) => statSync(new URL(input, MANIFEST)).mtimeMs > built);
    if (newer === undefined) {
      memory.bundle = true;
      return (await import(BUNDLE.href)) as typeof Runner;
    }
    reason = `${newer} changed since it was built`;
  } catch (error) {
    reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'not built' : String(error);
  }
  // running from the sources (tests, tsx) has no bundle by design: only compiled runs say why
  if (import.meta.url.endsWith('.js'))
    process.stderr.write(
      `matter-server: the lean bundle is ${reason}; running the CLI modules (more memory) until \`npm run build\`\n`,
    );
  memory.bundle = false;
  return await import('./matter-server-run.js');
}
