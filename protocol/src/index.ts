// @sentinel/protocol: the wire formats spoken between our own processes. Each side
// imports this pure module instead of the other side's package (DESIGN.md).
export * from './ble-proxy.js';
export * from './matter-server.js';
