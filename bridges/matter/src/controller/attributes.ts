// Attribute addressing as the matter server writes it: "endpoint/cluster/attribute" with
// numeric ids, values as JSON-able data. matter.js names attributes; this maps both ways.
import type { Endpoint } from '@matter/main';

/** Global attributes every cluster has; matter.js cluster types list only specific ones. */
const GLOBAL_ATTRIBUTES: Record<string, number> = {
  generatedCommandList: 0xfff8,
  acceptedCommandList: 0xfff9,
  eventList: 0xfffa,
  attributeList: 0xfffb,
  featureMap: 0xfffc,
  clusterRevision: 0xfffd,
};

interface ClusterLike {
  readonly id: number;
  readonly attributes?: Record<string, { readonly id: number }>;
  readonly commands?: Record<string, unknown>;
}

export interface ClusterOnEndpoint {
  readonly behaviorId: string;
  readonly clusterId: number;
  readonly type: unknown;
  /** attribute name → id, globals included */
  readonly attributes: ReadonlyMap<string, number>;
  readonly commands: ReadonlySet<string>;
}

/** The client clusters matter.js has for one endpoint of a peer. */
export function clustersOf(endpoint: Endpoint): ClusterOnEndpoint[] {
  const found: ClusterOnEndpoint[] = [];
  for (const type of Object.values(endpoint.behaviors.supported) as Array<{
    id: string;
    cluster?: ClusterLike;
  }>) {
    const cluster = type.cluster;
    if (cluster === undefined || typeof cluster.id !== 'number') continue;
    const attributes = new Map<string, number>(Object.entries(GLOBAL_ATTRIBUTES));
    for (const [name, attribute] of Object.entries(cluster.attributes ?? {})) {
      attributes.set(name, attribute.id);
    }
    found.push({
      behaviorId: type.id,
      clusterId: cluster.id,
      type,
      attributes,
      commands: new Set(Object.keys(cluster.commands ?? {})),
    });
  }
  return found;
}

/**
 * A command response → JSON data: structs by field name (as the matter server answers
 * commands), bytes as base64, bigints kept (the JSON writer prints them exactly).
 */
export function toWireValue(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (Array.isArray(value)) return value.map(toWireValue);
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = toWireValue(v);
    return out;
  }
  return value;
}

export interface AttributePath {
  /** undefined is the wildcard `*` */
  readonly endpoint?: number;
  readonly cluster?: number;
  readonly attribute?: number;
}

/** Parses "1/6/0" (any part may be `*`); undefined when it is not such a path. */
export function parseAttributePath(path: string): AttributePath | undefined {
  const parts = path.split('/');
  if (parts.length !== 3) return undefined;
  const ids = parts.map((part) =>
    part === '*' ? undefined : /^\d+$/.test(part) ? Number(part) : Number.NaN,
  );
  if (ids.some((id) => Number.isNaN(id))) return undefined;
  const [endpoint, cluster, attribute] = ids;
  return { endpoint, cluster, attribute };
}

export function formatAttributePath(endpoint: number, cluster: number, attribute: number): string {
  return `${endpoint}/${cluster}/${attribute}`;
}

export function matchesPath(path: AttributePath, endpoint: number, cluster: number, attribute: number) {
  return (
    (path.endpoint === undefined || path.endpoint === endpoint) &&
    (path.cluster === undefined || path.cluster === cluster) &&
    (path.attribute === undefined || path.attribute === attribute)
  );
}
