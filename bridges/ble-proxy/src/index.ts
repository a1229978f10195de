// @sentinel/ble-proxy: a BLE proxy node (noble → NATS). Its wire format lives in
// @sentinel/protocol, which the gateway reads without loading a radio.
export { Backoff } from './backoff.js';
export { connectProxy, ProxyConnectError } from './connect.js';
export { GattServer, type GattServerOptions } from './gatt.js';
export { createProxyLogger, type Logger } from './log.js';
export { createNoble, type HciOptions, type NobleBindings } from './noble.js';
export { BleProxy, type BleProxyOptions, PROXY_DEFAULTS, PROXY_VERSION } from './proxy.js';
export { Ring } from './ring.js';
export { type ScanState, ScanSupervisor } from './scanner.js';
