// @sentinel/ble-proxy: a BLE proxy node (noble → NATS).
export {};
