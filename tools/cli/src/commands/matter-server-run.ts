// The body of `sentinel matter-server` once its flags are checked: the Matter bridge and,
// with --nats, the leader lock it runs behind. A module of its own so that `npm run build`
// can bundle it (scripts/build-matter-server.mjs): one file that loads nothing but the
// bridge, which the command prefers over this module graph (see matter-server.ts).
// It throws MatterServerRunError for what the user must fix; the command turns it into a
// CliError (the bundle carries its own copy of every class, so it cannot throw the CLI's).
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import * as matter from '@sentinel/matter';
import { stderrLockLog } from '../lock-log.js';

export interface MatterServerRun {
  port: number;
  host: string;
  storage?: string;
  loopbackOnly: boolean;
  nats?: string;
  natsCreds?: string;
  nodeId: string;
  lockTtl: number;
  /** how the process was set up to save memory, for the listening line */
  memory: Record<string, unknown>;
}

/** A failure the user can act on: the message says what to do. */
export class MatterServerRunError extends Error {
  override name = 'MatterServerRunError';
}

const SUBSYSTEM = 'matter';

/** Runs the bridge until `signalled` resolves, then stops it. */
export async function runMatterServer(
  run: MatterServerRun,
  signalled: Promise<NodeJS.Signals>,
): Promise<void> {
  if (run.nats !== undefined) {
    await runBehindLock(run, signalled);
    return;
  }
  let storage: ReturnType<typeof matter.memoryStorage>;
  if (run.storage === undefined) {
    process.stderr.write(
      'matter-server: no --storage: the fabric and every pairing are kept in memory and lost on exit\n',
    );
    storage = matter.memoryStorage();
  } else {
    const dir = resolve(run.storage);
    try {
      await mkdir(dir, { recursive: true });
    } catch (cause) {
      throw new MatterServerRunError(`--storage: cannot create ${dir}: ${(cause as Error).message}`, {
        cause,
      });
    }
    storage = matter.directoryStorage(dir);
  }
  const server = await startServer(storage, run);
  printListening(server, run.storage === undefined ? 'memory' : 'directory', run);
  const signal = await signalled;
  process.stderr.write(`matter-server: ${signal}, stopping…\n`);
  await server.close();
}

type Server = Awaited<ReturnType<typeof matter.startMatterServer>>;

async function startServer(storage: matter.NodeStorage, run: MatterServerRun): Promise<Server> {
  try {
    return await matter.startMatterServer({
      storage,
      host: run.host,
      apiPort: run.port,
      loopbackOnly: run.loopbackOnly,
    });
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE')
      throw new MatterServerRunError(
        `${run.host}:${run.port} is already in use (another matter server?); pick another --port`,
        { cause },
      );
    if (code === 'EADDRNOTAVAIL')
      throw new MatterServerRunError(`--host ${run.host} is not an address of this machine`, { cause });
    throw cause;
  }
}

function printListening(server: Server, storage: string, run: MatterServerRun): void {
  process.stdout.write(
    `${JSON.stringify({ event: 'listening', url: server.url, port: server.port, storage, pid: process.pid, memory: run.memory })}\n`,
  );
}

/** --nats: the controller in KV, run while this process holds the `matter` lock. */
async function runBehindLock(run: MatterServerRun, signalled: Promise<NodeJS.Signals>): Promise<void> {
  // only here: a server without --nats never loads the gateway's lock code
  const { runWhileLeader } = await import('@sentinel/gateway');
  const log = stderrLockLog({ name: 'matter-server' });
  let bus: matter.MatterBus;
  try {
    bus = await matter.openMatterBus({
      servers: run.nats as string,
      credsFile: run.natsCreds,
      lockTtlMs: run.lockTtl,
    });
  } catch (cause) {
    if (cause instanceof matter.MatterBusError) throw new MatterServerRunError(cause.message, { cause });
    throw cause;
  }
  const { store, locks } = bus;
  const handle = runWhileLeader(
    { kv: { locks } },
    {
      subsystem: SUBSYSTEM,
      nodeId: run.nodeId,
      ttlMs: run.lockTtl,
      heartbeatMs: Math.max(100, Math.round(run.lockTtl / 4)),
      graceMs: Math.max(200, Math.round(run.lockTtl / 3)),
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
      const server = await startServer(storage, run);
      printListening(server, 'nats', run);
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
