import { PARTITION_SUBTYPES, PARTITION_TYPES, type PartitionEntry } from './types.js';

export interface PartitionQuery {
  /** 'app', 'data' or a number */
  type: string | number;
  /** 'nvs', 'factory', 'ota_0'… or a number */
  subtype?: string | number;
  name?: string;
}

/** The first partition matching the query (ESP-IDF esp_partition_find_first semantics). */
export function findPartition(
  entries: readonly PartitionEntry[],
  query: PartitionQuery,
): PartitionEntry | undefined {
  const type = typeof query.type === 'number' ? query.type : PARTITION_TYPES[query.type];
  if (type === undefined) return undefined;
  const subtype =
    query.subtype === undefined
      ? undefined
      : typeof query.subtype === 'number'
        ? query.subtype
        : PARTITION_SUBTYPES[type]?.[query.subtype];
  if (query.subtype !== undefined && subtype === undefined) return undefined;
  return entries.find(
    (e) =>
      e.type === type &&
      (subtype === undefined || e.subtype === subtype) &&
      (query.name === undefined || e.name === query.name),
  );
}
