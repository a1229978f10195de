// @sentinel/gateway: the gateway process as a library (the CLI and tests start it).

export { type BleAdapter, type BleAdapterDeps, startBleAdapter } from './ble/adapter.js';
export { BLE_KEYS_BUCKET } from './ble/keys.js';
export { withoutPassword } from './bus/connect.js';
export type {
  LeaderHandle,
  LeaderLease,
  LeaderLockOptions,
  LeadershipState,
  LockHolder,
} from './bus/locks.js';
export {
  fencedUpdate,
  LeaseEndedError,
  LOCK_DEFAULTS,
  LockError,
  lockRecordOf,
  runWhileLeader,
  StaleLeaseError,
  SUBSYSTEMS,
} from './bus/locks.js';
export type { GatewayConfig } from './config.js';
export { ConfigError, resolveGatewayConfig } from './config.js';
export type { Gateway } from './gateway.js';
export { startGateway } from './gateway.js';
export {
  MatterApiClient,
  MatterApiError,
  MatterConnectionError,
  matterDeviceId,
  stringifyMatterJson,
} from './matter/index.js';
export { PortInUseError } from './ports.js';
// everything the light store entry offers (stores, people, options), once
export * from './store-entry.js';
export { TlsSetupError } from './transports/tls.js';
