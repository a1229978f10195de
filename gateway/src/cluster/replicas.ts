// How many replicas new buckets and streams get: the operator's choice, else 3 on
// a NATS cluster of three or more servers (a file store survives one server's loss
// only when replicated), else 1. The server's INFO lists the client URLs of the
// cluster's servers (connect_urls), which is how a client learns its size.
import type { NatsConnection } from '@nats-io/transport-node';

export function clusterSize(nc: NatsConnection): number {
  const info = nc.info as { connect_urls?: string[]; cluster?: string } | undefined;
  if (!info?.cluster) return 1;
  return Math.max(1, new Set(info.connect_urls ?? []).size);
}

export function replicasFor(nc: NatsConnection, configured: number): number {
  if (configured > 0) return configured;
  return clusterSize(nc) >= 3 ? 3 : 1;
}
