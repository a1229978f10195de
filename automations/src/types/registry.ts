// The entity registry as types. `sentinel automations types` writes a declaration file
// that fills SentinelEntities by module augmentation; the SDK's entity references,
// commands and states are typed from it, so an automation that names a missing entity or
// sends a string to a number fails `tsc`. Without that file SentinelEntities is empty and
// every name and value is accepted (checked at load and by the gateway instead).
import type { StateValue } from '../sdk/define.js';

/**
 * One entry per entity, keyed by entity id. Filled by the generated declaration:
 * `declare module '@sentinel/automations' { interface SentinelEntities { '<id>': {...} } }`.
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled by module augmentation (the generated .d.ts)
export interface SentinelEntities {}

/** What the generated declaration says about each entity. */
export interface EntityTypeInfo {
  name: string;
  platform: string;
  unit?: string;
  device_class?: string;
  /** the values its readings carry (null, unavailable, is always possible too) */
  state: StateValue;
  /** the values `ctx.command` accepts (never: it takes no commands) */
  command: StateValue;
  /** the actions `ctx.command(ref, value, { action })` accepts */
  actions: string;
}

/** true once a generated declaration has filled the registry */
type Typed = [keyof SentinelEntities] extends [never] ? false : true;
type Entry = SentinelEntities[keyof SentinelEntities];
/** distributes over the entries (a conditional on a type parameter does, on a plain union it does not) */
type NameOf<E> = E extends { name: infer N extends string } ? N : never;

/** An entity id of the registry (any string without a generated declaration). */
export type EntityId = Typed extends true ? keyof SentinelEntities & string : string;
/** An entity name of the registry; names that two entities share are left out (ambiguous). */
export type EntityName = Typed extends true ? NameOf<Entry> : string;
/** An entity by id or by exact name. */
export type EntityKey = EntityId | EntityName;

/** The registry entry an id or name refers to. */
export type EntityInfo<R> = Typed extends true
  ? R extends keyof SentinelEntities
    ? SentinelEntities[R]
    : Extract<Entry, { name: R }>
  : EntityTypeInfo;

/** What `ctx.command(ref, value)` accepts for that entity (a handle: any value). */
export type CommandValueOf<R> = Typed extends true
  ? R extends string
    ? EntityInfo<R> extends { command: infer C }
      ? C
      : never
    : StateValue
  : StateValue;

/** The actions `ctx.command(ref, value, { action })` accepts for that entity. */
export type CommandActionOf<R> = Typed extends true
  ? R extends string
    ? EntityInfo<R> extends { actions: infer A }
      ? A
      : never
    : string
  : string;

/** What `ctx.state(ref)` returns for that entity when it is available. */
export type StateOf<R> = Typed extends true
  ? R extends string
    ? EntityInfo<R> extends { state: infer S }
      ? S
      : never
    : StateValue
  : StateValue;
