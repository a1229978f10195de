// @sentinel/firmware: pure libraries for picket firmware (no I/O of their own).

export * from './chips.js';
export * from './crc.js';
export * from './flasher/index.js';
export * from './format-error.js';
export * from './hash.js';
export * from './image/index.js';
export * from './manifest/index.js';
export * from './nvs/index.js';
export * from './partitions/index.js';
export * from './picket/index.js';
export * from './provisioning.js';
export * from './signing/index.js';
