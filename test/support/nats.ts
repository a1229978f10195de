// A real nats-server for tests: JetStream on, 127.0.0.1, a free port, a private
// store that is removed afterwards. Can be killed and restarted on the same port
// and store (to prove nothing acknowledged is lost).
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export interface TestNats {
  readonly url: string;
  readonly port: number;
  /** the server's process (a benchmark reads its CPU, or pins it) */
  readonly pid: number;
  readonly storeDir: string;
  /** SIGKILL: no graceful shutdown, as a crash or power loss */
  kill(): Promise<void>;
  /** starts again on the same port and store */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

const spawnServer = (port: number, storeDir: string) =>
  spawnNatsServer(['-js', '-a', '127.0.0.1', '-p', String(port || -1), '-sd', storeDir]);

export interface SpawnedNats {
  child: ChildProcess;
  port: number;
  /** SIGTERM, resolved once it has exited (its store directory can then be removed) */
  stop(): Promise<void>;
}

/** nats-server exited before it was ready; `log` holds what it printed. */
export class NatsServerExitError extends Error {
  override name = 'NatsServerExitError';
  constructor(
    readonly code: number | null,
    readonly log: readonly string[],
  ) {
    super(`nats-server exited ${code}: ${log.slice(-3).join(' | ')}`);
  }
}

/** Runs nats-server with `args` and resolves once it is ready, with the client port it bound. */
export async function spawnNatsServer(args: string[]): Promise<SpawnedNats> {
  const child = spawn('nats-server', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const lines = createInterface({ input: child.stderr! });
  let bound = 0;
  await new Promise<void>((resolve, reject) => {
    const log: string[] = [];
    lines.on('line', (line) => {
      log.push(line);
      const listening = /Listening for client connections on [^\s]+:(\d+)/.exec(line);
      if (listening) bound = Number(listening[1]);
      if (line.includes('Server is ready')) resolve();
    });
    child.once('exit', (code) => reject(new NatsServerExitError(code, log)));
    child.once('error', (error) =>
      reject(
        new Error(`cannot run nats-server (install with: apt-get install nats-server): ${error.message}`),
      ),
    );
  });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await exited;
  };
  return { child, port: bound, stop };
}

export async function startNats(): Promise<TestNats> {
  const storeDir = await mkdtemp(join(tmpdir(), 'sentinel-test-nats-'));
  let { child, port } = await spawnServer(0, storeDir);
  const end = async (signal: NodeJS.Signals) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill(signal);
    await exited;
  };
  return {
    get url() {
      return `nats://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    get pid() {
      return child.pid!;
    },
    storeDir,
    kill: () => end('SIGKILL'),
    async restart() {
      await end('SIGKILL');
      ({ child } = await spawnServer(port, storeDir));
    },
    async stop() {
      await end('SIGTERM');
      await rm(storeDir, { recursive: true, force: true });
    },
  };
}
