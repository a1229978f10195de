export {
  type DecodedTable,
  decodePartitionTable,
  type EncodeOptions,
  encodePartitionTable,
} from './binary.js';
export { alignmentFor, type CsvOptions, formatPartitionCsv, parsePartitionCsv, parseSize } from './csv.js';
export { findPartition, type PartitionQuery } from './find.js';
export {
  DEFAULT_TABLE_OFFSET,
  MAX_TABLE_LENGTH,
  nameOfSubtype,
  nameOfType,
  PARTITION_SUBTYPES,
  PARTITION_TYPES,
  type PartitionEntry,
  type PartitionErrorReason,
  PartitionTableError,
} from './types.js';
export { type ValidateOptions, validatePartitionTable } from './validate.js';
