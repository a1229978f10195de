// Home Assistant export (CONTRACT.md §7, issue 14): what gateway.ts starts when
// --ha-mqtt is set, under the `ha` leader lock (one publisher per cluster).
import { readFileSync } from 'node:fs';
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { z } from 'zod';
import type { LeaderLease, Running } from '../bus/locks.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { Registry } from '../model/registry.js';
import type { HaConnection } from './connection.js';
import type { HaOrigin } from './discovery.js';
import { HaPublisher } from './publisher.js';

export { type HaConnection, haConnection } from './connection.js';
export { HaPublisher } from './publisher.js';
export { GATEWAY_DEVICE_ID, haTopic } from './topics.js';

export interface HaExportOptions {
  nc: NatsConnection;
  stateKv: KV;
  registry: Registry;
  connection: HaConnection;
  discoveryPrefix: string;
  /** --public-url: where Home Assistant links "visit" for our devices' origin */
  publicUrl?: string | undefined;
  commandTimeoutMs: number;
  metrics: Metrics;
  log: Logger;
}

/** Starts the publisher for the lease it runs under (runWhileLeader stops it when the lease ends). */
export async function startHaExport(o: HaExportOptions, lease: LeaderLease): Promise<Running> {
  const log = o.log.child({ subsystem: 'ha', lease_revision: lease.revision });
  return HaPublisher.start({
    nc: o.nc,
    stateKv: o.stateKv,
    registry: o.registry,
    connection: o.connection,
    discoveryPrefix: o.discoveryPrefix,
    origin: origin(o.publicUrl),
    commandTimeoutMs: o.commandTimeoutMs,
    metrics: o.metrics,
    log,
  });
}

function origin(publicUrl: string | undefined): HaOrigin {
  return { name: 'Sentinel Edge', sw: gatewayVersion(), ...(publicUrl ? { url: publicUrl } : {}) };
}

/** The gateway package's version (src/ha and dist/ha are both two levels below it). */
function gatewayVersion(): string {
  try {
    const text = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
    return z.object({ version: z.string() }).parse(JSON.parse(text)).version;
  } catch {
    return 'unknown';
  }
}
