// An entity's state in the three shapes Home Assistant's WebSocket API uses: the full
// state object (get_states, state_changed events) and the compressed form of
// subscribe_entities (`a` for added, `c` for a diff with `+`/`-`, `r` for removed),
// whose keys are s(tate), a(ttributes), c(ontext id), lc/lu (last changed/updated, in
// seconds since the epoch).
import type { SimEntityState } from './services.js';

/** An entity's state as get_states and state_changed events carry it. */
export interface SimState {
  entity_id: string;
  state: string;
  attributes: Record<string, unknown>;
  last_changed: string;
  last_updated: string;
  context: { id: string; parent_id: null; user_id: null };
}

export interface SimEntity extends SimEntityState {
  entity_id: string;
  /** ms since the epoch */
  lastChanged: number;
  lastUpdated: number;
  contextId: string;
}

export function toState(entity: SimEntity): SimState {
  return {
    entity_id: entity.entity_id,
    state: entity.state,
    attributes: entity.attributes,
    last_changed: new Date(entity.lastChanged).toISOString(),
    last_updated: new Date(entity.lastUpdated).toISOString(),
    context: { id: entity.contextId, parent_id: null, user_id: null },
  };
}

export interface CompressedState {
  s: string;
  a: Record<string, unknown>;
  c: string;
  lc: number;
  lu?: number;
}

export interface CompressedDiff {
  '+'?: { s?: string; a?: Record<string, unknown>; c?: string; lc?: number; lu?: number };
  '-'?: { a: string[] };
}

const seconds = (ms: number) => ms / 1000;

export function compress(entity: SimEntity): CompressedState {
  const out: CompressedState = {
    s: entity.state,
    a: entity.attributes,
    c: entity.contextId,
    lc: seconds(entity.lastChanged),
  };
  // lu is left out when it equals lc, as Home Assistant does
  if (entity.lastUpdated !== entity.lastChanged) out.lu = seconds(entity.lastUpdated);
  return out;
}

/** What a subscriber must apply to `old` to get `next`. */
export function diff(old: SimEntity, next: SimEntity): CompressedDiff {
  const plus: NonNullable<CompressedDiff['+']> = { c: next.contextId };
  if (old.state !== next.state) {
    plus.s = next.state;
    plus.lc = seconds(next.lastChanged);
  } else {
    plus.lu = seconds(next.lastUpdated);
  }
  const added: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(next.attributes)) {
    if (JSON.stringify(old.attributes[key]) !== JSON.stringify(value)) added[key] = value;
  }
  if (Object.keys(added).length > 0) plus.a = added;
  const removed = Object.keys(old.attributes).filter((key) => !Object.hasOwn(next.attributes, key));
  return removed.length > 0 ? { '+': plus, '-': { a: removed } } : { '+': plus };
}
