// @sentinel/firmware: pure libraries for picket firmware (no I/O of their own).
export * from './picket/index.js';
