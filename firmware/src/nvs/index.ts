export {
  INTEGER_TYPES,
  type IntegerType,
  MAX_KEY_LENGTH,
  MIN_PARTITION_SIZE,
  type NvsErrorReason,
  NvsFormatError,
  type NvsItem,
  type NvsValue,
  PAGE_SIZE as NVS_PAGE_SIZE,
} from './format.js';
export {
  type NvsCsvOptions,
  type NvsJson,
  NvsJsonSchema,
  nvsItemsToJson,
  parseNvsCsv,
  parseNvsJson,
} from './input.js';
export {
  type NvsContents,
  type NvsPageInfo,
  type NvsProblem,
  type PageStateName,
  type ReadNvsOptions,
  readNvsPartition,
} from './read.js';
export { buildNvsPartition } from './write.js';
