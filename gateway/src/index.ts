// @sentinel/gateway: the gateway process as a library (the CLI and tests start it).
export { GATEWAY_OPTIONS, resolveGatewayConfig, ConfigError } from './config.js';
export type { GatewayConfig, GatewayConfigInput } from './config.js';
export { startGateway } from './gateway.js';
export type { Gateway } from './gateway.js';
export { openGatewayStore } from './store.js';
export type { GatewayStore } from './store.js';
