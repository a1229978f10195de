// Two (or more) real `sentinel gateway` processes on one NATS, and what tests and
// the failover benchmark ask of them: who leads what (GET /status), killing and
// restarting a node, and reading SENTINEL_HISTORY back to compare with what the
// devices saw acknowledged.
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { type CliGateway, startCliGateway } from './cli.js';

export interface NodeStatus {
  node_id: string;
  leaders: Record<string, { node_id: string; revision: number } | null>;
  leading: string[];
  nodes: { node_id: string; alive: boolean }[];
  devices_online: number;
}

export interface ClusterNode {
  readonly nodeId: string;
  readonly gateway: CliGateway;
  readonly mqttUrl: string;
  readonly httpUrl: string;
  readonly pid: number;
  status(): Promise<NodeStatus>;
  /** SIGKILL (a crash), resolves once the process is gone */
  kill(): Promise<void>;
  /** SIGTERM (a planned stop), resolves with how long it took */
  stop(): Promise<{ code: number | null; ms: number }>;
  /** starts the same node again (same node id, data dir and ports) */
  restart(): Promise<ClusterNode>;
}

export interface LockSettings {
  ttlMs: number;
  heartbeatMs: number;
  graceMs: number;
  reconnectGraceMs: number;
}

/** Short leases for tests: a crash is judged within seconds. */
export const TEST_LOCKS: LockSettings = {
  ttlMs: 3000,
  heartbeatMs: 1000,
  graceMs: 2000,
  reconnectGraceMs: 4000,
};

export async function startClusterNode(
  natsUrl: string,
  nodeId: string,
  locks: LockSettings = TEST_LOCKS,
  dataDir?: string,
  ports: { mqtt: number; http: number } = { mqtt: 0, http: 0 },
): Promise<ClusterNode> {
  const data = dataDir ?? (await mkdtemp(join(tmpdir(), `sentinel-test-${nodeId}-`)));
  const gateway = await startCliGateway([
    '--nats',
    natsUrl,
    '--node-id',
    nodeId,
    '--data',
    data,
    '--host',
    '127.0.0.1',
    '--mqtt-port',
    String(ports.mqtt),
    '--http-port',
    String(ports.http),
    '--lock-ttl',
    String(locks.ttlMs),
    '--lock-heartbeat',
    String(locks.heartbeatMs),
    '--lock-grace',
    String(locks.graceMs),
    '--reconnect-grace',
    String(locks.reconnectGraceMs),
    '--log-level',
    'info',
  ]);
  const httpUrl = `http://127.0.0.1:${gateway.ready.http_port}`;
  // the API token is made now, not on the first status() (which may be timed, or run while NATS is away)
  await gateway.api('/status');
  return {
    nodeId,
    gateway,
    mqttUrl: `mqtt://127.0.0.1:${gateway.ready.mqtt_port}`,
    httpUrl,
    pid: gateway.process.pid!,
    async status() {
      return (await (await gateway.api('/status')).json()) as NodeStatus;
    },
    async kill() {
      if (gateway.process.exitCode !== null || gateway.process.signalCode !== null) return;
      const exited = once(gateway.process, 'exit');
      gateway.process.kill('SIGKILL');
      await exited;
    },
    async stop() {
      // a killed process has no exit code, only a signal: it is stopped already
      if (gateway.process.signalCode !== null) return { code: null, ms: 0 };
      return gateway.stop();
    },
    // the same ports: devices provisioned with this node's URL find it again
    restart: () =>
      startClusterNode(natsUrl, nodeId, locks, data, {
        mqtt: gateway.ready.mqtt_port,
        http: gateway.ready.http_port,
      }),
  };
}

/** Removes a node's data directory (the node must be stopped). */
export async function removeNodeData(node: ClusterNode): Promise<void> {
  const index = node.gateway.process.spawnargs.indexOf('--data');
  const dir = node.gateway.process.spawnargs[index + 1];
  if (dir) await rm(dir, { recursive: true, force: true });
}

/** Polls until `condition` holds; a safety-net timeout, not a timing assertion. */
export async function until<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 30_000,
  intervalMs = 50,
): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = await Promise.resolve()
      .then(probe)
      .catch(() => undefined);
    if (value !== undefined && value !== false) return value as T;
    if (Date.now() - started > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

export interface StoredReading {
  device_id: string;
  seq: number;
  key: string;
  ts: number;
  stream_seq: number;
}

/** Every reading in SENTINEL_HISTORY, with the device seq its message id carries. */
export async function historyReadings(nc: NatsConnection): Promise<StoredReading[]> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info('SENTINEL_HISTORY');
  const readings: StoredReading[] = [];
  if (info.state.messages === 0) return readings;
  // right after a server of a cluster died, creating a consumer may time out once or twice
  const consumer = await until(
    () => jetstream(nc).consumers.get('SENTINEL_HISTORY', { deliver_policy: DeliverPolicy.All }),
    60_000,
    200,
  );
  const messages = await consumer.fetch({ max_messages: info.state.messages, expires: 10_000 });
  let lastRead = 0;
  for await (const msg of messages) {
    lastRead = msg.seq;
    const [device_id, seq, key] = (msg.headers?.get('Nats-Msg-Id') ?? '').split(':');
    if (device_id && seq !== undefined && key) {
      readings.push({
        device_id,
        seq: Number(seq),
        key,
        ts: (msg.json() as { ts: number }).ts,
        stream_seq: msg.seq,
      });
    }
    if (msg.seq >= info.state.last_seq) break;
  }
  // a fetch that ends early (expired, or the server ended the pull) is not a loss to report
  if (lastRead < info.state.last_seq)
    throw new Error(`read SENTINEL_HISTORY up to seq ${lastRead} of ${info.state.last_seq}`);
  return readings;
}

/** (device, seq, key) that appear more than once. */
export function duplicates<T>(items: readonly T[], identity: (item: T) => string): string[] {
  const seen = new Map<string, number>();
  for (const item of items) seen.set(identity(item), (seen.get(identity(item)) ?? 0) + 1);
  return [...seen].filter(([, n]) => n > 1).map(([id]) => id);
}
