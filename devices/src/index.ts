// @sentinel/devices: device definitions as data, and the pure decoders that read them.
export * from './ble/index.js';
export * from './home-assistant.js';
export * from './matter/index.js';
