// Which gateway nodes are alive, cluster-wide: each node writes its record to KV
// bucket `sentinel_nodes` every heartbeat, and watches everyone's. A node is dead
// when it deleted its record (a graceful stop) or has not been heard from for a
// TTL (a crash: the bucket's max_age then removes the record, without an event on
// nats-server 2.9, so silence is judged on this node's own clock).
import type { JetStreamManager } from '@nats-io/jetstream';
import { StorageType } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { z } from 'zod';
import { bounded, ensureLockTtl, type LockTimings } from '../bus/locks.js';
import type { Logger } from '../log.js';

/** extension: `<node_id>` → `{"node_id","started","ts","mqtt_port"?,"http_port"?}`, max_age = the lock TTL */
export const NODES_BUCKET = 'sentinel_nodes';

/** how long a dead node stays in the view (its devices are judged after the reconnect grace) */
const FORGET_DEAD_MS = 24 * 3600 * 1000;

export const NodeRecordSchema = z.looseObject({
  node_id: z.string().min(1),
  started: z.number().int(),
  ts: z.number().int(),
});
export type NodeRecord = z.infer<typeof NodeRecordSchema>;

export interface NodeView {
  node_id: string;
  alive: boolean;
  /** ms since this node last heard from it */
  last_heard_ms: number;
  record: NodeRecord;
}

export class NodeLiveness {
  readonly #heard = new Map<string, { at: number; record: NodeRecord }>();
  readonly #gone = new Set<string>();
  readonly #started = Date.now();
  #timer: NodeJS.Timeout | undefined;
  #stopWatch: (() => void) | undefined;

  private constructor(
    private readonly kv: KV,
    readonly nodeId: string,
    private readonly timings: LockTimings,
    private readonly extra: Record<string, unknown>,
    private readonly log: Logger,
  ) {}

  static async start(options: {
    nc: NatsConnection;
    jsm: JetStreamManager;
    nodeId: string;
    timings: LockTimings;
    replicas: number;
    extra?: Record<string, unknown>;
    log: Logger;
  }): Promise<NodeLiveness> {
    const kv = await new Kvm(options.nc).create(NODES_BUCKET, {
      history: 1,
      storage: StorageType.File,
      ttl: options.timings.ttlMs,
      replicas: options.replicas,
    });
    await ensureLockTtl(options.jsm, NODES_BUCKET, options.timings.ttlMs, options.log);
    const liveness = new NodeLiveness(kv, options.nodeId, options.timings, options.extra ?? {}, options.log);
    await liveness.#beat();
    await liveness.#watch();
    liveness.#timer = setInterval(() => {
      liveness.#beat().catch((error) => liveness.log.debug({ err: error }, 'node heartbeat failed'));
      liveness.#forgetLongDead();
    }, options.timings.heartbeatMs);
    liveness.#timer.unref();
    return liveness;
  }

  /** Alive: this node, or one heard from within the TTL that has not said goodbye. */
  isAlive(nodeId: string): boolean {
    if (nodeId === this.nodeId) return true;
    const heard = this.#heard.get(nodeId);
    return !!heard && !this.#gone.has(nodeId) && performance.now() - heard.at <= this.timings.ttlMs;
  }

  /**
   * Dead: a node this one knew that said goodbye or went silent for a TTL. A node
   * never heard of (records older than this process) is neither: its devices are
   * left to it (it reconciles them itself when it comes back).
   */
  isDead(nodeId: string): boolean {
    if (nodeId === this.nodeId) return false;
    if (this.#gone.has(nodeId)) return true;
    const heard = this.#heard.get(nodeId);
    return !!heard && performance.now() - heard.at > this.timings.ttlMs;
  }

  /** Whether another node is alive to take this one's devices. */
  othersAlive(): boolean {
    return [...this.#heard.keys()].some((id) => id !== this.nodeId && this.isAlive(id));
  }

  nodes(): NodeView[] {
    const now = performance.now();
    return [...this.#heard].map(([id, heard]) => ({
      node_id: id,
      alive: this.isAlive(id),
      last_heard_ms: Math.round(now - heard.at),
      record: heard.record,
    }));
  }

  /** Says goodbye: the others judge this node's devices at once (after their reconnect grace). */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#stopWatch?.();
    // with NATS away the record expires by itself; a stop does not wait for it
    await bounded(
      this.kv.delete(this.nodeId).catch((error: unknown) => {
        this.log.debug({ err: error }, 'could not remove this node from sentinel_nodes');
      }),
      1000,
    );
  }

  /**
   * Nodes dead for a day are forgotten: node ids that come and go (a container's
   * host name) must not pile up in /status. Their devices were judged long before.
   */
  #forgetLongDead(): void {
    const now = performance.now();
    for (const [id, heard] of this.#heard) {
      if (id !== this.nodeId && this.isDead(id) && now - heard.at > FORGET_DEAD_MS) {
        this.#heard.delete(id);
        this.#gone.delete(id);
      }
    }
  }

  async #beat(): Promise<void> {
    const record: NodeRecord = {
      ...this.extra,
      node_id: this.nodeId,
      started: this.#started,
      ts: Date.now(),
    };
    await this.kv.put(this.nodeId, JSON.stringify(record));
  }

  async #watch(): Promise<void> {
    const watch = await this.kv.watch();
    this.#stopWatch = () => watch.stop();
    void (async () => {
      for await (const entry of watch) {
        if (entry.operation === 'PUT') {
          let value: unknown;
          try {
            value = entry.json();
          } catch {
            value = undefined;
          }
          const record = NodeRecordSchema.safeParse(value);
          // a record under another node's key would make that node look alive
          if (!record.success || record.data.node_id !== entry.key) continue;
          const known = this.#heard.has(entry.key) && !this.#gone.has(entry.key);
          this.#gone.delete(entry.key);
          this.#heard.set(entry.key, { at: performance.now(), record: record.data });
          if (!known && entry.key !== this.nodeId) this.log.info({ node: entry.key }, 'node joined');
        } else if (this.#heard.has(entry.key) && entry.key !== this.nodeId) {
          this.#gone.add(entry.key);
          this.log.info({ node: entry.key }, 'node left');
        }
      }
    })();
  }
}
