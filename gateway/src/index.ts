// @sentinel/gateway: the gateway process as a library (the CLI and tests start it).

export {
  CredentialStore,
  DeviceExistsError,
  DeviceNotRegisteredError,
  InvalidDeviceIdError,
} from './auth/credentials.js';
export { type BleAdapter, type BleAdapterDeps, startBleAdapter } from './ble/adapter.js';
export { BLE_KEYS_BUCKET, BleKeyStore, InvalidBleKeyError } from './ble/keys.js';
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
  runWhileLeader,
  StaleLeaseError,
  SUBSYSTEMS,
} from './bus/locks.js';
export type { GatewayConfig, GatewayConfigInput } from './config.js';
export { ConfigError, GATEWAY_OPTIONS, resolveGatewayConfig } from './config.js';
export type { Gateway } from './gateway.js';
export { startGateway } from './gateway.js';
export { PortInUseError } from './ports.js';
export type { GatewayStore } from './store.js';
export { openGatewayStore } from './store.js';
export { TlsSetupError } from './transports/tls.js';
