// matter.js attribute values → the matter server's "tag based" wire values, as
// python-matter-server reports attributes: structs keyed by field id, bitmaps as numbers,
// bytes as base64. Driven by the Matter data model, so no cluster needs code of its own.
import { Matter, type ValueModel } from '@matter/main/model';

/** The model of attribute `attributeId` of cluster `clusterId`, when the standard knows it. */
export function attributeModel(clusterId: number, attributeId: number): ValueModel | undefined {
  return Matter.clusters.find((c) => c.id === clusterId)?.attributes.find((a) => a.id === attributeId);
}

export function toTagBased(value: unknown, model: ValueModel | undefined): unknown {
  if (value === null || value === undefined) return null;
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (model === undefined) return untyped(value);
  switch (model.effectiveMetatype) {
    case 'array':
      return Array.isArray(value) ? value.map((entry) => toTagBased(entry, model.listEntry)) : untyped(value);
    case 'bitmap':
      return typeof value === 'object' ? bitmapNumber(value as Record<string, unknown>, model) : value;
    case 'object': {
      if (typeof value !== 'object') return untyped(value);
      const fields = value as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (const member of model.members) {
        const field = fields[member.propertyName];
        if (field !== undefined) out[String(member.id)] = toTagBased(field, member);
      }
      return out;
    }
    default:
      return untyped(value);
  }
}

/** Bitmap members are single bits (`constraint.value`) or bit ranges (`min`…`max`). */
function bitmapNumber(flags: Record<string, unknown>, model: ValueModel): number {
  let bits = 0;
  for (const member of model.members) {
    // feature flags are named by abbreviation ("LT") and keyed in matter.js by title ("lighting")
    const key = [member.propertyName, camelCase((member as { title?: string }).title)].find(
      (k) => k !== undefined && k in flags,
    );
    if (key === undefined) continue;
    const flag = flags[key];
    const { value, min } = member.constraint;
    const shift = typeof value === 'number' ? value : typeof min === 'number' ? min : undefined;
    if (shift === undefined) continue;
    if (flag === true) bits |= 1 << shift;
    else if (typeof flag === 'number') bits |= flag << shift;
  }
  return bits >>> 0;
}

function camelCase(title: string | undefined): string | undefined {
  if (!title) return undefined;
  const words = title
    .replace(/[^A-Za-z0-9]+/g, ' ')
    .trim()
    .split(' ');
  return words
    .map((w, i) =>
      i === 0 ? w.charAt(0).toLowerCase() + w.slice(1) : w.charAt(0).toUpperCase() + w.slice(1),
    )
    .join('');
}

/** Without a model (vendor clusters): data as matter.js holds it, bytes as base64. */
function untyped(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (Array.isArray(value)) return value.map(untyped);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, untyped(v)]));
  }
  return value;
}

/**
 * The reverse of toTagBased, for write_attribute: structs keyed by field id become
 * matter.js objects keyed by property name, base64 strings for octet strings become bytes.
 * Plain numbers, booleans, strings and nulls pass as they are.
 */
export function fromTagBased(value: unknown, model: ValueModel | undefined): unknown {
  if (value === null || value === undefined || model === undefined) return value;
  switch (model.effectiveMetatype) {
    case 'array':
      return Array.isArray(value) ? value.map((entry) => fromTagBased(entry, model.listEntry)) : value;
    case 'bytes':
      return typeof value === 'string' ? new Uint8Array(Buffer.from(value, 'base64')) : value;
    case 'object': {
      if (typeof value !== 'object' || Array.isArray(value)) return value;
      const fields = value as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (const member of model.members) {
        const field = fields[String(member.id)] ?? fields[member.propertyName];
        if (field !== undefined) out[member.propertyName] = fromTagBased(field, member);
      }
      return out;
    }
    default:
      return value;
  }
}
