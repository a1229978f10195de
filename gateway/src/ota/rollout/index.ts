// Rollouts on a gateway node (docs/ota.md "Rollouts"): every node relays its own devices'
// OTA on the bus; the node holding the `ota` lock runs the engine, on the rollout state
// in `sentinel_ota`, so a restart or a failover resumes it.
import type { Bus } from '../../bus/bus.js';
import type { LeaderLease, Running } from '../../bus/locks.js';
import type { Cluster } from '../../cluster/cluster.js';
import type { OtaCatalog } from '../../firmware-store.js';
import type { Logger } from '../../log.js';
import type { Metrics } from '../../metrics.js';
import type { OtaFleet } from '../types.js';
import { RolloutEngine } from './engine.js';
import { ClusterOtaFleet, OtaRelay } from './relay.js';
import { KvRolloutStore } from './store.js';

export { RolloutEngine } from './engine.js';
export { type CatalogImage, planRollout, RolloutRefusal } from './plan.js';
export * from './schema.js';
export { KvRolloutStore, type RolloutStore } from './store.js';

export interface OtaRolloutOptions {
  bus: Bus;
  cluster: Cluster;
  nodeId: string;
  fleet: OtaFleet;
  /** the OTA catalog the gateway serves (disk, or the shared object store) */
  catalog: OtaCatalog;
  metrics: Metrics;
  log: Logger;
}

/** Starts the relay on this node and competes for the `ota` lock; returns the relay's stop. */
export function startOtaRollouts(o: OtaRolloutOptions): { stop(): void } {
  const relay = new OtaRelay({ nc: o.bus.nc, nodeId: o.nodeId, fleet: o.fleet, log: o.log });
  relay.start();
  o.cluster.lead('ota', (lease) =>
    startRolloutEngine(
      {
        ...o,
        catalog: () => o.catalog.images(),
        otherNodes: () =>
          o.cluster.liveness
            .nodes()
            .filter((n) => n.alive && n.node_id !== o.nodeId)
            .map((n) => n.node_id),
      },
      lease,
    ),
  );
  return relay;
}

export async function startRolloutEngine(
  o: Pick<OtaRolloutOptions, 'bus' | 'fleet' | 'log'> & {
    metrics?: Metrics;
    catalog: () => Promise<import('./plan.js').CatalogImage[]>;
    otherNodes: () => string[];
    tickMs?: number;
  },
  lease: LeaderLease,
): Promise<Running> {
  const engine = new RolloutEngine({
    fleet: new ClusterOtaFleet({ nc: o.bus.nc, local: o.fleet, otherNodes: o.otherNodes }),
    store: new KvRolloutStore(o.bus.kv.ota, o.bus.kv.locks, lease),
    catalog: o.catalog,
    log: o.log,
    refused: (code) => o.metrics?.otaRolloutRefused.inc({ code }),
    ...(o.tickMs === undefined ? {} : { tickMs: o.tickMs }),
  });
  await engine.start();
  return engine;
}
