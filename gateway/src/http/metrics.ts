// The HTTP layer's counters, registered on the gateway's own metrics registry (one per
// gateway instance, see metrics.ts), and looked up again when a second app is built on it.
import { Counter, Gauge } from 'prom-client';
import type { Metrics } from '../metrics.js';

export function httpMetrics(metrics: Metrics) {
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) =>
    (metrics.registry.getSingleMetric(name) as Counter<L> | undefined) ??
    new Counter<L>({ name, help, labelNames, registers: [metrics.registry] });
  const gauge = (name: string, help: string) =>
    (metrics.registry.getSingleMetric(name) as Gauge | undefined) ??
    new Gauge({ name, help, registers: [metrics.registry] });
  return {
    refused: counter('sentinel_http_refused_total', 'HTTP requests refused, by error code', ['code']),
    liveClients: gauge('sentinel_live_clients', 'open live-feed WebSockets'),
    liveDropped: counter('sentinel_live_dropped_total', 'live-feed sockets closed, by reason', ['reason']),
    liveMessages: counter('sentinel_live_messages_total', 'messages fanned out to live-feed sockets'),
  };
}

export type HttpMetrics = ReturnType<typeof httpMetrics>;
