// A private nats-server for a replay: the runtime runs unchanged against it, and what
// it sends (commands, notifications, traces) goes nowhere else. 127.0.0.1, any free
// port, a temporary store removed at the end.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { connect, type NatsConnection } from '@nats-io/transport-node';

export interface Sandbox {
  url: string;
  connect(name: string): Promise<NatsConnection>;
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 15_000;

export async function startSandbox(
  binary = process.env.SENTINEL_NATS_SERVER ?? 'nats-server',
): Promise<Sandbox> {
  const storeDir = await mkdtemp(join(tmpdir(), 'sentinel-replay-'));
  const child: ChildProcess = spawn(binary, ['-js', '-a', '127.0.0.1', '-p', '-1', '-sd', storeDir], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const cleanup = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
    await rm(storeDir, { recursive: true, force: true });
  };
  let port = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      const log: string[] = [];
      const timer = setTimeout(
        () => reject(new Error(`nats-server was not ready within ${READY_TIMEOUT_MS} ms`)),
        READY_TIMEOUT_MS,
      );
      createInterface({ input: child.stderr! }).on('line', (line) => {
        log.push(line);
        const listening = /Listening for client connections on [^\s]+:(\d+)/.exec(line);
        if (listening) port = Number(listening[1]);
        if (line.includes('Server is ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(
          new Error(`cannot run ${binary} (install it, e.g. apt-get install nats-server): ${error.message}`),
        );
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`nats-server exited ${code}: ${log.slice(-2).join(' | ')}`));
      });
    });
  } catch (error) {
    await cleanup();
    throw error;
  }
  const url = `nats://127.0.0.1:${port}`;
  return {
    url,
    connect: (name) => connect({ servers: url, name }),
    stop: cleanup,
  };
}
