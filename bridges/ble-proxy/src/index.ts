// @sentinel/ble-proxy: a BLE proxy node (noble → NATS). The wire format alone is
// also exported as `@sentinel/ble-proxy/wire`, for readers that load no radio.
export { Backoff } from './backoff.js';
export { connectProxy, ProxyConnectError } from './connect.js';
export { GattServer, type GattServerOptions } from './gatt.js';
export { createProxyLogger, type Logger } from './log.js';
export { createNoble, type HciOptions, type NobleBindings } from './noble.js';
export { BleProxy, type BleProxyOptions, PROXY_DEFAULTS, PROXY_VERSION } from './proxy.js';
export { Ring } from './ring.js';
export { type ScanState, ScanSupervisor } from './scanner.js';
export * from './wire.js';
