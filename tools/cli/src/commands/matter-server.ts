// `sentinel matter-server`: the Matter bridge (bridges/matter) as a standalone process: a
// matter.js controller behind the matter server's WebSocket API, so Home Assistant's
// Matter integration can use it. Prints one JSON line once listening; SIGINT/SIGTERM stop it.
// With --nats the controller lives in a NATS KV bucket and runs only on the holder of the
// `matter` leader lock: a second matter-server waits as a standby and takes over, with
// every pairing, when the first dies. Only the holder listens on the API port, so a client
// given both servers' URLs finds the live one.
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { type LeaderLockOptions, LOCK_DEFAULTS, runWhileLeader } from '@sentinel/gateway';
import type { Command } from 'commander';
import { CliError, UsageError } from '../errors.js';
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

const SUBSYSTEM = 'matter';

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
      String(LOCK_DEFAULTS.ttlMs),
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
      if (flags.nats !== undefined) {
        await runBehindLock(flags, port, lockTtl, signalled);
        return;
      }
      const matter = await import('@sentinel/matter');
      let storage: ReturnType<typeof matter.memoryStorage>;
      if (flags.storage === undefined) {
        process.stderr.write(
          'matter-server: no --storage: the fabric and every pairing are kept in memory and lost on exit\n',
        );
        storage = matter.memoryStorage();
      } else {
        const dir = resolve(flags.storage);
        try {
          await mkdir(dir, { recursive: true });
        } catch (cause) {
          throw new CliError(`--storage: cannot create ${dir}: ${(cause as Error).message}`, { cause });
        }
        storage = matter.directoryStorage(dir);
      }
      const server = await startServer(storage, flags, port);
      printListening(server, flags.storage === undefined ? 'memory' : 'directory');
      const signal = await signalled;
      process.stderr.write(`matter-server: ${signal}, stopping…\n`);
      await server.close();
    });
}

type Matter = typeof import('@sentinel/matter');
type Server = Awaited<ReturnType<Matter['startMatterServer']>>;

async function startServer(
  storage: Parameters<Matter['startMatterServer']>[0]['storage'],
  flags: MatterServerFlags,
  port: number,
): Promise<Server> {
  const matter = await import('@sentinel/matter');
  try {
    return await matter.startMatterServer({
      storage,
      host: flags.host,
      apiPort: port,
      loopbackOnly: flags.loopbackOnly ?? false,
    });
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE')
      throw new CliError(
        `${flags.host}:${port} is already in use (another matter server?); pick another --port`,
        {
          cause,
        },
      );
    if (code === 'EADDRNOTAVAIL')
      throw new CliError(`--host ${flags.host} is not an address of this machine`, { cause });
    throw cause;
  }
}

function printListening(server: Server, storage: string): void {
  process.stdout.write(
    `${JSON.stringify({ event: 'listening', url: server.url, port: server.port, storage, pid: process.pid })}\n`,
  );
}

/** JSON lines on stderr for the leader lock (the pino subset it uses); never secrets. */
function stderrLog(bindings: Record<string, unknown> = {}): NonNullable<LeaderLockOptions['log']> {
  const write = (level: string) => (a: unknown, b?: string) => {
    const fields = typeof a === 'string' ? { msg: a } : { ...(a as object), msg: b };
    const err = (fields as { err?: unknown }).err;
    process.stderr.write(
      `${JSON.stringify({ level, time: Date.now(), ...bindings, ...fields, ...(err ? { err: String(err) } : {}) })}\n`,
    );
  };
  const logger = {
    info: write('info'),
    warn: write('warn'),
    error: write('error'),
    debug: () => {},
    child: (more: Record<string, unknown>) => stderrLog({ ...bindings, ...more }),
  };
  return logger as unknown as NonNullable<LeaderLockOptions['log']>;
}

/** --nats: the controller in KV, run while this process holds the `matter` lock. */
async function runBehindLock(
  flags: MatterServerFlags,
  port: number,
  lockTtl: number,
  signalled: Promise<NodeJS.Signals>,
): Promise<void> {
  const matter = await import('@sentinel/matter');
  const log = stderrLog({ name: 'matter-server' });
  let bus: Awaited<ReturnType<Matter['openMatterBus']>>;
  try {
    bus = await matter.openMatterBus({
      servers: flags.nats as string,
      credsFile: flags.natsCreds,
      lockTtlMs: lockTtl,
    });
  } catch (cause) {
    if (cause instanceof matter.MatterBusError) throw new CliError(cause.message, { cause });
    throw cause;
  }
  const { store, locks } = bus;
  const handle = runWhileLeader(
    { kv: { locks } },
    {
      subsystem: SUBSYSTEM,
      nodeId: flags.nodeId,
      ttlMs: lockTtl,
      heartbeatMs: Math.max(100, Math.round(lockTtl / 4)),
      graceMs: Math.max(200, Math.round(lockTtl / 3)),
      log,
      onChange: (state) => {
        if (state.kind === 'standby')
          process.stdout.write(
            `${JSON.stringify({ event: 'standby', holder: state.holder?.node_id ?? null, pid: process.pid })}\n`,
          );
      },
    },
    async () => {
      // state read afresh on every acquisition: the last holder may have paired since
      const storage = matter.natsStorage(store, {
        log: (msg, data) => log.error({ ...data }, msg),
      });
      const server = await startServer(storage, flags, port);
      printListening(server, 'nats');
      return {
        async stop() {
          await server.close();
          await storage.flush();
        },
      };
    },
  );
  const signal = await signalled;
  process.stderr.write(`matter-server: ${signal}, stopping…\n`);
  await handle.stop();
  await bus.close();
}
