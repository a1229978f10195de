// Prometheus metrics (GET /metrics). One registry per gateway instance, so two
// gateways in one test process do not share counters.
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';

/** Why a device message was dropped: the `reason` label of sentinel_device_messages_rejected_total. */
export type RejectReason =
  | 'malformed_json'
  | 'schema_invalid'
  | 'unknown_entity_key'
  | 'invalid_value'
  | 'oversized'
  | 'unauthorized_topic'
  | 'unknown_command_id'
  /** an OTA progress report for an offer this gateway never made to that device */
  | 'unknown_offer';

export function createMetrics() {
  const registry = new Registry();
  // the process and Node.js metrics under the names every Prometheus client library and
  // ready-made dashboard use (process_cpu_seconds_total, process_resident_memory_bytes,
  // nodejs_eventloop_lag_seconds, …): the `job`/`instance` labels tell gateways apart
  collectDefaultMetrics({ register: registry });
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) =>
    new Counter<L>({ name, help, labelNames, registers: [registry] });
  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) =>
    new Gauge<L>({ name, help, labelNames, registers: [registry] });
  return {
    registry,
    rejected: counter('sentinel_device_messages_rejected_total', 'device messages dropped, by reason', [
      'protocol',
      'reason',
    ]),
    authFailures: counter('sentinel_device_auth_failures_total', 'connections refused for bad credentials', [
      'transport',
    ]),
    readings: counter('sentinel_readings_total', 'readings accepted and published', ['protocol', 'qos']),
    throttled: counter(
      'sentinel_device_throttled_total',
      'device messages delayed because the device exceeded its rate',
      ['protocol'],
    ),
    commands: counter('sentinel_commands_total', 'commands handled, by result', ['result']),
    connections: gauge('sentinel_device_connections', 'open device connections', ['transport']),
    devicesOnline: gauge('sentinel_devices_online', 'devices currently online on this node'),
    durableRetries: counter(
      'sentinel_durable_publish_retries_total',
      'JetStream publishes retried while NATS was unreachable',
    ),
    stateFlushes: counter(
      'sentinel_state_kv_writes_total',
      'latest-state writes to KV sentinel_state (coalesced)',
    ),
    natsRestarts: counter('sentinel_nats_server_restarts_total', 'restarts of the embedded nats-server'),
    haRejected: counter(
      'sentinel_ha_messages_rejected_total',
      'messages from the Home Assistant broker ignored (a command payload that does not fit, an unknown entity), by reason',
      ['reason'],
    ),
    haCommands: counter('sentinel_ha_commands_total', 'commands from Home Assistant, by result', ['result']),
    haConfigs: counter(
      'sentinel_ha_discovery_publishes_total',
      'discovery configs published to the Home Assistant broker (removals included)',
    ),
    haImportFailures: counter(
      'sentinel_ha_import_connection_failures_total',
      'Home Assistant WebSocket connections that failed or were lost (auth_invalid, cannot_connect, lost)',
      ['reason'],
    ),
    haImportSkipped: counter(
      'sentinel_ha_import_skipped_total',
      'Home Assistant states not imported (unknown_domain, bad_attributes, bad_state, exported_by_us), by reason',
      ['reason'],
    ),
    haImportCommands: counter(
      'sentinel_ha_import_commands_total',
      'commands sent to Home Assistant as call_service, by result',
      ['result'],
    ),
    haImportConnected: gauge(
      'sentinel_ha_import_connected',
      '1 while the Home Assistant import is connected',
    ),
    otaRefused: counter(
      'sentinel_ota_refused_total',
      'OTA offers and image downloads refused (unsigned_to_signed_ota, downgrade, wrong_chip, too_large, credential_expired, credential_for_another_device, …), by reason',
      ['reason'],
    ),
    otaRolloutRefused: counter(
      'sentinel_ota_rollout_refused_total',
      'OTA rollout requests refused by the `ota` leader (unknown_devices, not_in_catalog, downgrade, no_image_for_chip, rollout_active, bad_request, …), by code',
      ['code'],
    ),
    otaBytes: counter('sentinel_ota_download_bytes_total', 'OTA image bytes sent to devices'),
    brokerDisconnects: counter(
      'sentinel_broker_guard_disconnects_total',
      'MQTT clients disconnected by the broker guard',
      ['reason'],
    ),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
