// The systems under test, each started as its own process on 127.0.0.1:
// the gateway (with its nats-server), bare aedes, and Debian's mosquitto.
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { log } from './log.js';
import {
  ChildFailedError,
  type ManagedChild,
  startProcess,
  startTsProcess,
  waitForReadyLine,
} from './processes.js';

export type TargetName = 'gateway' | 'aedes' | 'mosquitto';
export const TARGET_NAMES: readonly TargetName[] = ['gateway', 'aedes', 'mosquitto'];

export interface Target {
  name: TargetName;
  mqttPort: number;
  mqttUrl: string;
  /** the process whose RSS is "the broker's" */
  pid: number;
  /** every process doing this target's work (the gateway's includes its nats-server), for CPU time */
  cpuPids: number[];
  /** where the subscriber listens for what this target relays */
  sink: { kind: 'mqtt' | 'nats'; url: string };
  stop(): Promise<void>;
}

/** The `sentinel` entry to run (BENCH_SENTINEL: another build or checkout of it). */
const SENTINEL = process.env.BENCH_SENTINEL
  ? resolve(process.env.BENCH_SENTINEL)
  : fileURLToPath(new URL('../../bin/sentinel.js', import.meta.url));
const AEDES_WORKER = new URL('../workers/aedes-broker.ts', import.meta.url);

/** A port that was free a moment ago (for servers that cannot bind port 0 themselves). */
export function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no free port'))));
    });
  });
}

async function waitForTcp(port: number, child: ManagedChild, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.process.exitCode !== null || child.process.signalCode !== null) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      throw new ChildFailedError(child.label, child.failureReason() ?? 'exited before listening');
    }
    const open = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ host: '127.0.0.1', port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new ChildFailedError(child.label, `not listening on ${port} after ${timeoutMs} ms`);
}

// --- nats-server -------------------------------------------------------------

export interface NatsServer {
  url: string;
  child: ManagedChild;
}

/** `nats-server -js` on 127.0.0.1, any free port, store in `dir`; the URL comes from its ports file. */
export async function startNatsServer(dir: string, verbose: boolean): Promise<NatsServer> {
  const child = startProcess(
    'nats-server',
    'nats-server',
    ['-js', '-a', '127.0.0.1', '-p', '-1', '-sd', dir, '--ports_file_dir', dir],
    { verbose },
  );
  child.process.stdout?.resume();
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.process.exitCode !== null || child.process.signalCode !== null) break;
    const portsFile = (await readdir(dir)).find((name) => name.endsWith(`${child.pid}.ports`));
    if (portsFile) {
      try {
        const ports = JSON.parse(await readFile(join(dir, portsFile), 'utf8')) as { nats?: string[] };
        const url = ports.nats?.[0];
        if (url) return { url, child };
      } catch {
        // written but not complete yet
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await new Promise((resolve) => setTimeout(resolve, 50));
  const reason = child.failureReason() ?? 'no ports file within 10 s';
  await child.stop();
  throw new ChildFailedError('nats-server', reason);
}

// --- the gateway ---------------------------------------------------------------

interface ReadyLine {
  event: 'ready';
  node_id?: string;
  mqtt_port?: number;
  http_port?: number;
  nats_url?: string;
}

export interface GatewayOptions {
  natsUrl: string;
  natsPid: number;
  dataDir: string;
  nodeId: string;
  verbose: boolean;
  readyTimeoutMs: number;
}

export async function startGateway(options: GatewayOptions): Promise<Target> {
  const args = [
    SENTINEL,
    'gateway',
    '--nats',
    options.natsUrl,
    '--mqtt-port',
    '0',
    '--http-port',
    '0',
    '--data',
    options.dataDir,
    '--node-id',
    options.nodeId,
    '--device-rate',
    '0',
    '--log-level',
    'warn',
  ];
  const child = startProcess('gateway', process.execPath, args, { verbose: options.verbose });
  try {
    const ready = await waitForReadyLine<ReadyLine>(child, options.readyTimeoutMs);
    if (typeof ready.mqtt_port !== 'number' || ready.mqtt_port <= 0) {
      throw new ChildFailedError(
        'gateway',
        `ready line without a usable mqtt_port: ${JSON.stringify(ready)}`,
      );
    }
    return {
      name: 'gateway',
      mqttPort: ready.mqtt_port,
      mqttUrl: `mqtt://127.0.0.1:${ready.mqtt_port}`,
      pid: child.pid,
      cpuPids: [child.pid, options.natsPid],
      // our own URL: the gateway may report a hostname or several servers
      sink: { kind: 'nats', url: options.natsUrl },
      stop: () => child.stop(),
    };
  } catch (error) {
    await child.stop();
    throw error;
  }
}

/**
 * `sentinel device add <id>…` in batches; returns id → token. Throws with the
 * command's own error line when it fails (e.g. not implemented yet).
 */
export async function registerDevices(
  natsUrl: string,
  ids: string[],
  options: { verbose: boolean; batch?: number },
): Promise<Map<string, string>> {
  const batch = options.batch ?? 2000;
  const tokens = new Map<string, string>();
  for (let start = 0; start < ids.length; start += batch) {
    const chunk = ids.slice(start, start + batch);
    const child = startProcess(
      'device add',
      process.execPath,
      [SENTINEL, 'device', 'add', ...chunk, '--nats', natsUrl],
      {
        verbose: options.verbose,
      },
    );
    const lines = createInterface({ input: child.process.stdout!, crlfDelay: Number.POSITIVE_INFINITY });
    lines.on('line', (line) => {
      try {
        const parsed = JSON.parse(line) as { device_id?: unknown; token?: unknown };
        if (typeof parsed.device_id === 'string' && typeof parsed.token === 'string') {
          tokens.set(parsed.device_id.replace(/^picket-/, ''), parsed.token);
        }
      } catch {
        // not a result line
      }
    });
    const timer = setTimeout(() => void child.stop(), 120_000);
    const how = await child.exited;
    clearTimeout(timer);
    await new Promise((resolve) => setTimeout(resolve, 20)); // last stdout/stderr lines
    if (how !== '0') {
      throw new ChildFailedError('device add', child.failureReason() ?? `exited (${how})`);
    }
    if (ids.length > batch) log(`  registered ${Math.min(start + batch, ids.length)}/${ids.length} devices`);
  }
  const missing = ids.filter((id) => !tokens.has(id));
  if (missing.length > 0) {
    throw new ChildFailedError(
      'device add',
      `no token printed for ${missing.length} device(s), e.g. ${missing[0]}`,
    );
  }
  return tokens;
}

// --- the bare brokers -----------------------------------------------------------

/** A bare MQTT broker in one child process, which is also where the sink subscribes. */
function brokerTarget(name: TargetName, port: number, child: ManagedChild): Target {
  const url = `mqtt://127.0.0.1:${port}`;
  return {
    name,
    mqttPort: port,
    mqttUrl: url,
    pid: child.pid,
    cpuPids: [child.pid],
    sink: { kind: 'mqtt', url },
    stop: () => child.stop(),
  };
}

export async function startAedes(verbose: boolean): Promise<Target> {
  const child = startTsProcess('aedes', AEDES_WORKER, [], { verbose });
  try {
    const ready = await waitForReadyLine<ReadyLine>(child, 20_000);
    return brokerTarget('aedes', ready.mqtt_port!, child);
  } catch (error) {
    await child.stop();
    throw error;
  }
}

/** Debian's mosquitto: `mosquitto` on PATH, else where Debian installs it (override: BENCH_MOSQUITTO). */
export function mosquittoBinary(): string {
  if (process.env.BENCH_MOSQUITTO) return process.env.BENCH_MOSQUITTO;
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(join(dir, 'mosquitto'))) return join(dir, 'mosquitto');
  }
  return '/usr/sbin/mosquitto';
}

/**
 * mosquitto with a generated configuration: one listener on 127.0.0.1 and a
 * port found free just before (it cannot bind port 0), no persistence, and no
 * per-client in-flight/queue limits so that it never drops QoS 1 messages
 * for the subscriber (its defaults of 20 in flight / 1000 queued would), and
 * TCP_NODELAY as for aedes (see workers/aedes-broker.ts).
 */
export async function startMosquitto(dir: string, verbose: boolean): Promise<Target> {
  let lastError: unknown;
  for (let attempt = 1; attempt <= 3; attempt++) {
    const port = await findFreePort();
    const conf = join(dir, `mosquitto-${port}.conf`);
    await writeFile(
      conf,
      [
        `listener ${port} 127.0.0.1`,
        'allow_anonymous true',
        'persistence false',
        'max_inflight_messages 0',
        'max_queued_messages 0',
        'set_tcp_nodelay true',
        'log_dest stderr',
        'log_type error',
        'log_type warning',
        '',
      ].join('\n'),
    );
    const child = startProcess('mosquitto', mosquittoBinary(), ['-c', conf], { verbose });
    child.process.stdout?.resume();
    try {
      await waitForTcp(port, child, 5000);
      return brokerTarget('mosquitto', port, child);
    } catch (error) {
      lastError = error;
      await child.stop();
      log(`  mosquitto attempt ${attempt} failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  throw lastError;
}
