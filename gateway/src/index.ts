// @sentinel/gateway: the gateway process as a library (the CLI and tests start it).

export type { GatewayConfig, GatewayConfigInput } from './config.js';
export { ConfigError, GATEWAY_OPTIONS, resolveGatewayConfig } from './config.js';
export type { Gateway } from './gateway.js';
export { startGateway } from './gateway.js';
export type { GatewayStore } from './store.js';
export { openGatewayStore } from './store.js';
