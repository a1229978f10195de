// A gateway node's part in a cluster of nodes on one NATS: its liveness, commands
// forwarded to whichever node holds a device, the registry writer under its leader
// lock, and what GET /status says about who leads what.
import type { Bus } from '../bus/bus.js';
import {
  type LeaderHandle,
  type LockTimings,
  lockRecordOf,
  runWhileLeader,
  SUBSYSTEMS,
} from '../bus/locks.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { Availability } from '../model/availability.js';
import type { CommandRouter } from '../model/commands.js';
import type { Registry } from '../model/registry.js';
import { CommandForwarding } from './forwarding.js';
import { AvailabilityJudge } from './judge.js';
import { NodeLiveness, type NodeView } from './nodes.js';

export interface ClusterOptions {
  bus: Bus;
  nodeId: string;
  timings: LockTimings;
  replicas: number;
  registry: Registry;
  availability: Availability;
  router: CommandRouter;
  commandTimeoutMs: number;
  reconnectGraceMs: number;
  metrics: Metrics;
  log: Logger;
  /** published in this node's liveness record (ports, for tools and tests) */
  extra?: Record<string, unknown>;
}

export interface LeaderView {
  node_id: string;
  revision: number;
  renewed: number;
}

export interface ClusterStatus {
  /** every single-writer subsystem: its leader, or null while nobody holds the lock */
  leaders: Record<string, LeaderView | null>;
  /** the subsystems this node leads */
  leading: string[];
  nodes: NodeView[];
}

export class Cluster {
  readonly #handles: LeaderHandle[] = [];

  private constructor(
    private readonly o: ClusterOptions,
    readonly liveness: NodeLiveness,
    private readonly forwarding: CommandForwarding,
  ) {}

  static async start(o: ClusterOptions): Promise<Cluster> {
    const liveness = await NodeLiveness.start({
      nc: o.bus.nc,
      jsm: o.bus.jsm,
      nodeId: o.nodeId,
      timings: o.timings,
      replicas: o.replicas,
      extra: o.extra,
      log: o.log,
    });
    const forwarding = new CommandForwarding({ ...o, nc: o.bus.nc, liveness });
    forwarding.start();
    o.availability.setClusterView((deviceId) => forwarding.holderOf(deviceId) !== undefined);
    const cluster = new Cluster(o, liveness, forwarding);
    cluster.lead('registry', async (lease) => {
      const judge = new AvailabilityJudge({
        bus: o.bus,
        lease,
        registry: o.registry,
        availability: o.availability,
        liveness,
        reconnectGraceMs: o.reconnectGraceMs,
        pollMs: o.timings.pollMs,
        log: o.log.child({ subsystem: 'registry' }),
      });
      judge.start();
      return judge;
    });
    return cluster;
  }

  /** Runs a subsystem under its leader lock with this node's settings (BLE, Matter, … use this too). */
  lead(subsystem: string, start: Parameters<typeof runWhileLeader>[2]): LeaderHandle {
    const handle = runWhileLeader(
      this.o.bus,
      {
        subsystem,
        nodeId: this.o.nodeId,
        ttlMs: this.o.timings.ttlMs,
        heartbeatMs: this.o.timings.heartbeatMs,
        graceMs: this.o.timings.graceMs,
        log: this.o.log,
      },
      start,
    );
    if (!this.#handles.includes(handle)) this.#handles.push(handle);
    return handle;
  }

  async status(): Promise<ClusterStatus> {
    const names = [...new Set([...SUBSYSTEMS, ...this.#handles.map((h) => h.subsystem)])];
    const leaders: Record<string, LeaderView | null> = {};
    await Promise.all(
      names.map(async (name) => {
        const entry = await this.o.bus.kv.locks.get(name).catch(() => null);
        const lock = lockRecordOf(entry);
        leaders[name] =
          entry && lock ? { node_id: lock.node_id, revision: entry.revision, renewed: lock.renewed } : null;
      }),
    );
    return {
      leaders,
      leading: this.#handles.filter((h) => h.leader).map((h) => h.subsystem),
      nodes: this.liveness.nodes(),
    };
  }

  /**
   * The first step of a planned stop: hand the devices over when another node is
   * alive (their connections ending is then not recorded as offline), and release
   * every lock, so a standby takes over at once.
   */
  async release(): Promise<void> {
    if (this.liveness.othersAlive()) this.o.availability.handOver();
    await Promise.all(this.#handles.map((h) => h.stop()));
  }

  /** The last step: stop taking forwarded commands and say goodbye. */
  async leave(): Promise<void> {
    await this.release();
    this.forwarding.stop();
    await this.liveness.stop();
  }
}
