// @sentinel/gateway/store: what the CLI's store commands (device, ble key, watch,
// command) need, without loading the gateway process itself (brokers, HTTP, metrics),
// so that they start quickly.
export {
  CredentialStore,
  DeviceExistsError,
  DeviceNotRegisteredError,
  InvalidDeviceIdError,
} from './auth/credentials.js';
export { BleKeyStore, InvalidBleKeyError } from './ble/keys.js';
export { replicasFor } from './cluster/replicas.js';
export type { GatewayConfigInput } from './config.js';
export { GATEWAY_OPTIONS } from './config.js';
// the firmware catalog (`sentinel firmware add|list|remove`)
export {
  type CatalogEntry,
  FIRMWARE_CHANNELS,
  FirmwareCatalogError,
  type FirmwareChannel,
  FirmwareStore,
  type OtaCatalog,
} from './firmware-store.js';
// the embedded nats-server's accounts and credentials (<data>/nats-auth)
export { embeddedAuthDir, embeddedGatewayCreds } from './nats/embedded-auth.js';
export { ObjectStoreCatalog } from './ota/catalog/object-store.js';
// OTA rollout requests to the `ota` leader (`sentinel ota`)
export * from './ota/rollout/client-entry.js';
// people: accounts, sessions, API tokens, throttling, audit (also what the HTTP layer uses)
export * from './people/index.js';
export type { GatewayStore } from './store.js';
export { openGatewayStore } from './store.js';
