// The Matter adapter's counters, registered once per gateway metrics registry (the adapter
// starts and stops as the `matter_adapter` lock moves).
import { Counter, Gauge } from 'prom-client';
import type { Metrics } from '../metrics.js';

/**
 * Why a message from the matter server was dropped (the `reason` label): not JSON, not an
 * envelope of the API, an answer to nothing we asked, an event we do not know, an event
 * whose data does not fit, a report for a node we were never told of, a bad attribute path.
 */
export type MatterRejectReason =
  | 'malformed_json'
  | 'schema_invalid'
  | 'unknown_message_id'
  | 'unknown_event'
  | 'bad_event'
  | 'unknown_node'
  | 'bad_path'
  | 'bad_node';

function create(metrics: Metrics) {
  const registers = [metrics.registry];
  return {
    rejected: new Counter({
      name: 'sentinel_matter_messages_rejected_total',
      help: 'messages from the matter server dropped, by reason',
      labelNames: ['reason'] as const,
      registers,
    }),
    connectionFailures: new Counter({
      name: 'sentinel_matter_connection_failures_total',
      help: 'matter server connections that failed or were lost (cannot_connect, timeout, version_mismatch, bad_server_info, lost)',
      labelNames: ['reason'] as const,
      registers,
    }),
    commands: new Counter({
      name: 'sentinel_matter_commands_total',
      help: 'commands sent to Matter nodes, by result (ok or an error code)',
      labelNames: ['result'] as const,
      registers,
    }),
    connected: new Gauge({
      name: 'sentinel_matter_connected',
      help: '1 while the Matter adapter is connected to a matter server',
      registers,
    }),
    nodes: new Gauge({
      name: 'sentinel_matter_nodes',
      help: 'Matter nodes the matter server reports',
      registers,
    }),
  };
}

export type MatterMetrics = ReturnType<typeof create>;

const cache = new WeakMap<Metrics, MatterMetrics>();

export function matterMetrics(metrics: Metrics): MatterMetrics {
  let found = cache.get(metrics);
  if (!found) {
    found = create(metrics);
    cache.set(metrics, found);
  }
  return found;
}
