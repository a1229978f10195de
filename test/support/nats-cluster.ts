// Three real nats-servers clustered on loopback, each with JetStream and its own
// store: the bus a household runs on two or three boxes. nats-server cannot take
// port 0 for cluster routes (each server must name the others' route ports up
// front), so route ports are picked by binding 127.0.0.1:0 and closing, and the
// whole cluster is started again on fresh ports if one was taken meanwhile.
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NatsServerExitError, spawnNatsServer } from './nats.js';

export interface NatsClusterServer {
  readonly name: string;
  readonly url: string;
  readonly running: boolean;
  kill(): Promise<void>;
  restart(): Promise<void>;
}

export interface TestNatsCluster {
  readonly servers: readonly NatsClusterServer[];
  /** every client URL, comma-separated (what `--nats` takes) */
  readonly urls: string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

class PortTaken extends Error {
  override name = 'PortTaken';
}

interface Spec {
  name: string;
  clientPort: number;
  routePort: number;
  storeDir: string;
}

async function spawnServer(spec: Spec, routes: string[]): Promise<ChildProcess> {
  try {
    const { child } = await spawnNatsServer([
      '-js',
      '-n',
      spec.name,
      '-a',
      '127.0.0.1',
      '-p',
      String(spec.clientPort),
      '-sd',
      spec.storeDir,
      '--cluster_name',
      'sentinel-test',
      '--cluster',
      `nats://127.0.0.1:${spec.routePort}`,
      '--routes',
      routes.join(','),
    ]);
    return child;
  } catch (error) {
    if (!(error instanceof NatsServerExitError)) throw error;
    const message = `${spec.name}: ${error.message}`;
    throw error.log.some((line) => line.includes('address already in use'))
      ? new PortTaken(message, { cause: error })
      : new Error(message, { cause: error });
  }
}

async function end(child: ChildProcess | undefined, signal: NodeJS.Signals): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill(signal);
  await exited;
}

export async function startNatsCluster(size = 3): Promise<TestNatsCluster> {
  for (let attempt = 0; ; attempt++) {
    const specs: Spec[] = [];
    for (let i = 0; i < size; i++) {
      specs.push({
        name: `s${i + 1}`,
        clientPort: await freePort(),
        routePort: await freePort(),
        storeDir: await mkdtemp(join(tmpdir(), `sentinel-test-nats-s${i + 1}-`)),
      });
    }
    const routes = specs.map((s) => `nats://127.0.0.1:${s.routePort}`);
    const children: (ChildProcess | undefined)[] = [];
    try {
      for (const spec of specs) children.push(await spawnServer(spec, routes));
    } catch (error) {
      await Promise.all(children.map((c) => end(c, 'SIGKILL')));
      await Promise.all(specs.map((s) => rm(s.storeDir, { recursive: true, force: true })));
      if (error instanceof PortTaken && attempt < 5) continue;
      throw error;
    }
    const servers = specs.map(
      (spec, i): NatsClusterServer => ({
        name: spec.name,
        url: `nats://127.0.0.1:${spec.clientPort}`,
        get running() {
          const child = children[i];
          return !!child && child.exitCode === null && child.signalCode === null;
        },
        kill: () => end(children[i], 'SIGKILL'),
        async restart() {
          await end(children[i], 'SIGKILL');
          children[i] = await spawnServer(spec, routes);
        },
      }),
    );
    return {
      servers,
      urls: servers.map((s) => s.url).join(','),
      async stop() {
        await Promise.all(children.map((c) => end(c, 'SIGTERM')));
        await Promise.all(specs.map((s) => rm(s.storeDir, { recursive: true, force: true })));
      },
    };
  }
}
