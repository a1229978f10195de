// Debian's mosquitto as a household MQTT broker (Home Assistant's) for tests, on
// 127.0.0.1. mosquitto cannot bind port 0 (a listener on port 0 is a unix socket to
// it), so the port is one the kernel handed out a moment before, tried again on a
// clash. It can be stopped and started again on the same port, as a broker restart.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export interface TestMosquitto {
  readonly port: number;
  readonly url: string;
  /** the broker's process (a benchmark reads its CPU and memory) */
  readonly pid: number;
  /** stops the broker (SIGTERM) and starts it again on the same port, with nothing retained */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

function mosquittoBinary(): string {
  for (const dir of (process.env.PATH ?? '').split(':'))
    if (dir && existsSync(join(dir, 'mosquitto'))) return join(dir, 'mosquitto');
  return '/usr/sbin/mosquitto';
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Starts mosquitto with `conf`; resolves once it says it is running, rejects with its last lines if it exits first. */
async function spawnMosquitto(conf: string): Promise<ChildProcess> {
  const child = spawn(mosquittoBinary(), ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  const lines: string[] = [];
  await new Promise<void>((resolve, reject) => {
    const reader = createInterface({ input: child.stderr! });
    reader.on('line', (line) => {
      lines.push(line);
      if (/ running$/.test(line)) resolve();
    });
    child.once('exit', (code) =>
      reject(new Error(`mosquitto exited ${code}: ${lines.slice(-3).join(' | ')}`)),
    );
    child.once('error', reject);
  });
  return child;
}

async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

export async function startMosquitto(): Promise<TestMosquitto> {
  const dir = await mkdtemp(join(tmpdir(), 'sentinel-test-mosquitto-'));
  const conf = join(dir, 'mosquitto.conf');
  const write = (port: number) =>
    writeFile(
      conf,
      [
        `listener ${port} 127.0.0.1`,
        'allow_anonymous true',
        'persistence false',
        'log_dest stderr',
        'log_type error',
        'log_type warning',
        'log_type notice',
        // "running" (the ready line) is an information message
        'log_type information',
        '',
      ].join('\n'),
    );
  let port = 0;
  let child: ChildProcess | undefined;
  for (let attempt = 1; !child; attempt++) {
    port = await freePort();
    await write(port);
    try {
      child = await spawnMosquitto(conf);
    } catch (error) {
      // someone took the port between the look-up and the bind
      if (attempt >= 3) {
        await rm(dir, { recursive: true, force: true });
        throw error;
      }
    }
  }
  let running: ChildProcess = child;
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    get pid() {
      return running.pid!;
    },
    async restart() {
      await terminate(running);
      running = await spawnMosquitto(conf);
    },
    async stop() {
      await terminate(running);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
