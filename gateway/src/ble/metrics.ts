// The BLE adapter's counters, registered once per gateway metrics registry (the
// adapter may start and stop several times as leadership moves).
import { Counter, Gauge } from 'prom-client';
import type { Metrics } from '../metrics.js';

/** Why an advertisement or batch was dropped (the `reason` label). */
export type BleRejectReason =
  | 'bad_batch'
  | 'bad_entry'
  | 'malformed'
  | 'unsupported'
  | 'decrypt_failed'
  | 'downgrade'
  | 'replay'
  | 'invalid_key';

function create(metrics: Metrics) {
  const registers = [metrics.registry];
  return {
    advertisements: new Counter({
      name: 'sentinel_ble_advertisements_total',
      help: 'advertisements received from proxies, by what became of them (accepted, not_owner, identical, not_adopted)',
      labelNames: ['result'] as const,
      registers,
    }),
    rejected: new Counter({
      name: 'sentinel_ble_rejected_total',
      help: 'BLE advertisements and proxy batches dropped, by reason',
      labelNames: ['reason'] as const,
      registers,
    }),
    badBatches: new Counter({
      name: 'sentinel_ble_bad_batches_total',
      help: 'advertisement batches refused whole, by proxy',
      labelNames: ['proxy'] as const,
      registers,
    }),
    handovers: new Counter({
      name: 'sentinel_ble_handovers_total',
      help: 'addresses handed to another proxy, by why (stale, louder, gone)',
      labelNames: ['why'] as const,
      registers,
    }),
    proxies: new Gauge({ name: 'sentinel_ble_proxies', help: 'BLE proxies heard from recently', registers }),
    gatt: new Counter({
      name: 'sentinel_ble_gatt_requests_total',
      help: 'GATT requests from the platform, by result (ok or an error code)',
      labelNames: ['result'] as const,
      registers,
    }),
  };
}

export type BleMetrics = ReturnType<typeof create>;

const cache = new WeakMap<Metrics, BleMetrics>();

export function bleMetrics(metrics: Metrics): BleMetrics {
  let found = cache.get(metrics);
  if (!found) {
    found = create(metrics);
    cache.set(metrics, found);
  }
  return found;
}
