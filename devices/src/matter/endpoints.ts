// A Matter node's attributes as the matter server reports them ("endpoint/cluster/attribute"
// → value, structs keyed by field id) seen per endpoint: which clusters and device types it
// has, and its current values. The mapping table reads nodes only through this view.

/** A value a reading can carry (CONTRACT.md §3): a number, a boolean, a string or null. */
export type MatterReading = number | boolean | string | null;

/** "1/6/0" → [1, 6, 0]; undefined for anything else. */
export function parseAttributeKey(key: string): [number, number, number] | undefined {
  const match = /^(\d{1,5})\/(\d{1,10})\/(\d{1,10})$/.exec(key);
  if (!match) return undefined;
  return [Number(match[1]), Number(match[2]), Number(match[3])];
}

export const attributeKey = (endpoint: number, cluster: number, attribute: number) =>
  `${endpoint}/${cluster}/${attribute}`;

export interface MatterEndpoint {
  readonly id: number;
  /** device type ids from the endpoint's Descriptor (DeviceTypeList) */
  readonly deviceTypes: readonly number[];
  /** clusters with at least one reported attribute */
  readonly clusters: ReadonlySet<number>;
  /** the current value (undefined: never reported) */
  get(cluster: number, attribute: number): unknown;
  has(cluster: number, attribute: number): boolean;
}

/**
 * The endpoints of a node. `attributes` is read live by get(): whoever holds the record
 * (the adapter) updates it in place as reports arrive, and values follow.
 */
export function matterEndpoints(attributes: Readonly<Record<string, unknown>>): MatterEndpoint[] {
  const clusters = new Map<number, Set<number>>();
  for (const key of Object.keys(attributes)) {
    const parsed = parseAttributeKey(key);
    if (!parsed) continue;
    const [endpoint, cluster] = parsed;
    const set = clusters.get(endpoint) ?? new Set<number>();
    clusters.set(endpoint, set);
    set.add(cluster);
  }
  return [...clusters.entries()]
    .sort(([a], [b]) => a - b)
    .map(([id, set]) => ({
      id,
      deviceTypes: deviceTypesOf(attributes[attributeKey(id, 0x001d, 0)]),
      clusters: set,
      get: (cluster: number, attribute: number) => attributes[attributeKey(id, cluster, attribute)],
      has: (cluster: number, attribute: number) =>
        attributes[attributeKey(id, cluster, attribute)] !== undefined,
    }));
}

/** DeviceTypeList entries: `{"0": type, "1": revision}` (tag-based) or `{deviceType, revision}`. */
function deviceTypesOf(list: unknown): number[] {
  if (!Array.isArray(list)) return [];
  const types: number[] = [];
  for (const entry of list) {
    if (entry === null || typeof entry !== 'object') continue;
    const record = entry as Record<string, unknown>;
    const type = numberOf(record['0'] ?? record.deviceType);
    if (type !== undefined) types.push(type);
  }
  return types;
}

/** A number from a reported value (int64 values may arrive as bigints); undefined otherwise. */
export function numberOf(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'bigint') return Number(value);
  return undefined;
}
