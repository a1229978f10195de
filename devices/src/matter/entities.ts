// The engine over the mapping table: a node's attributes → its entities (one per mapping
// that applies to an endpoint), the attribute paths that feed each, and the device's own
// description from Basic Information.
import {
  attributeKey,
  type MatterEndpoint,
  type MatterReading,
  matterEndpoints,
  parseAttributeKey,
} from './endpoints.js';
import { ATTRIBUTE, CLUSTER } from './ids.js';
import {
  MATTER_ENTITY_MAPPINGS,
  type MatterCommandPlan,
  type MatterCommandRequest,
  type MatterEntityKind,
  type MatterEntityMapping,
} from './mappings.js';

export interface MatterEntity {
  /** `<stem>-<endpoint>`, e.g. `light-1`: the binding key, stable for the node */
  key: string;
  endpoint: MatterEndpoint;
  kind: MatterEntityKind;
  /** "endpoint/cluster/attribute" paths whose reports change the value */
  paths: readonly string[];
  mapping: MatterEntityMapping;
}

/** Every entity the node's attributes describe, in endpoint order. */
export function matterEntities(attributes: Readonly<Record<string, unknown>>): MatterEntity[] {
  const entities: MatterEntity[] = [];
  for (const endpoint of matterEndpoints(attributes)) {
    // endpoint 0 is the node itself (Basic Information, networking), except its power source
    for (const mapping of MATTER_ENTITY_MAPPINGS) {
      if (!endpoint.clusters.has(mapping.cluster)) continue;
      if (endpoint.id === 0 && mapping.cluster !== CLUSTER.powerSource) continue;
      const applies = mapping.applies
        ? mapping.applies(endpoint)
        : endpoint.has(mapping.cluster, mapping.reads[0] as number);
      if (!applies) continue;
      entities.push({
        key: `${mapping.key}-${endpoint.id}`,
        endpoint,
        kind: mapping.kind(endpoint),
        paths: mapping.reads.map((attribute) => attributeKey(endpoint.id, mapping.cluster, attribute)),
        mapping,
      });
    }
  }
  return entities;
}

/** The entity's value now (undefined: nothing to publish yet). */
export const matterEntityValue = (entity: MatterEntity): MatterReading | undefined =>
  entity.mapping.value(entity.endpoint);

/** A `sentinel.cmd` request → the Matter commands or writes that carry it out. */
export function matterEntityCommand(entity: MatterEntity, request: MatterCommandRequest): MatterCommandPlan {
  if (!entity.mapping.command)
    return { ok: false, code: 'not_supported', message: `a ${entity.kind.platform} takes no commands` };
  return entity.mapping.command(request, entity.endpoint);
}

/** Whether an attribute path belongs to a cluster of a node's structure (descriptor) rather than a value. */
export function isStructurePath(path: string): boolean {
  const parsed = parseAttributeKey(path);
  return parsed !== undefined && parsed[1] === CLUSTER.descriptor;
}

export interface MatterDeviceInfo {
  name: string;
  manufacturer?: string;
  model?: string;
  sw_version?: string;
  serial_number?: string;
}

/** The device record's description from Basic Information (11.1) on endpoint 0. */
export function matterDeviceInfo(
  attributes: Readonly<Record<string, unknown>>,
  fallbackName: string,
): MatterDeviceInfo {
  const text = (attribute: number) => {
    const value = attributes[attributeKey(0, CLUSTER.basicInformation, attribute)];
    return typeof value === 'string' && value.trim() !== '' ? value.trim().slice(0, 64) : undefined;
  };
  const b = ATTRIBUTE.basicInformation;
  const model = text(b.productName);
  const manufacturer = text(b.vendorName);
  const swVersion = text(b.softwareVersionString);
  const serial = text(b.serialNumber);
  return {
    name: text(b.nodeLabel) ?? model ?? fallbackName,
    ...(manufacturer ? { manufacturer } : {}),
    ...(model ? { model } : {}),
    ...(swVersion ? { sw_version: swVersion } : {}),
    ...(serial ? { serial_number: serial } : {}),
  };
}
