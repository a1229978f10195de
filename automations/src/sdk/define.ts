// defineAutomation(): what an automation module exports, and the context its run gets.
import { z } from 'zod';
import type { Duration } from '../duration.js';
import type { CommandActionOf, CommandValueOf, EntityKey, StateOf } from '../types/registry.js';
import type { NotificationInput } from './notify.js';
import { type Trigger, type TriggerInput, triggerSchema } from './triggers.js';

export type StateValue = number | boolean | string | null;

/** An entity as the registry describes it (CONTRACT.md §3, sentinel_entities). */
export interface EntityHandle {
  readonly id: string;
  readonly name: string;
  readonly platform: string;
  readonly unit?: string;
  readonly device_class?: string;
}

/** An entity given by handle, id or name (typed by the registry declaration when there is one). */
export type EntityRef = EntityHandle | EntityKey;

/** What fired this run. */
export interface TriggerEvent {
  /** position of the trigger in `triggers` */
  index: number;
  kind: Trigger['kind'];
  /** the entity the trigger watches, when it watches one */
  entity_id?: string;
  value?: StateValue;
  /** rate in units per minute, for a derivative trigger */
  rate?: number;
  /** the clock time the trigger fired at */
  ts: number;
  /** one line for people: "Smoker chamber above 120 for 10m (121.5)" */
  description: string;
}

export interface CommandReply {
  ok: boolean;
  error?: { code: string; message: string };
}

/** A small JSON store kept in NATS KV for this automation; it survives restarts and failovers. */
export interface AutomationStore {
  get<T = unknown>(key: string): Promise<T | undefined>;
  set(key: string, value: unknown): Promise<void>;
  delete(key: string): Promise<void>;
}

export interface AutomationContext {
  readonly automationId: string;
  readonly trigger: TriggerEvent;
  /** the clock the runtime runs on (controllable in tests and replay) */
  now(): number;
  /** aborted when a `restart` mode run is superseded or the runtime stops */
  readonly signal: AbortSignal;
  entity(ref: EntityRef): EntityHandle;
  /** latest known value; null when unavailable, undefined when never seen */
  state<R extends EntityRef>(ref: R): StateOf<R> | null | undefined;
  /** commands an entity through sentinel.cmd.<id>; resolves with the gateway's reply (never throws on {ok:false}) */
  command<R extends EntityRef>(
    ref: R,
    value: CommandValueOf<R>,
    options?: { action?: CommandActionOf<R> },
  ): Promise<CommandReply>;
  notify(channel: string, notification: NotificationInput): Promise<void>;
  /** waits on the runtime's clock; rejects when the run is aborted */
  sleep(duration: Duration): Promise<void>;
  readonly store: AutomationStore;
  log(message: string, data?: Record<string, unknown>): void;
}

export type Condition =
  | ((ctx: AutomationContext) => boolean | Promise<boolean>)
  | { name: string; check: (ctx: AutomationContext) => boolean | Promise<boolean> };

export type Mode = 'single' | 'restart' | 'queued' | 'parallel';

export interface AutomationDefinition {
  /** `[a-z0-9][a-z0-9_-]{0,63}`: used in subjects and KV keys */
  id: string;
  description?: string;
  /**
   * What happens when a trigger fires while a run is in progress: `single` drops the new
   * one, `restart` aborts the running one, `queued` runs them one after another, `parallel`
   * runs them side by side. `max` bounds the queue or the parallel runs (default 10).
   */
  mode?: Mode;
  max?: number;
  triggers: TriggerInput[];
  conditions?: Condition[];
  run(ctx: AutomationContext): unknown | Promise<unknown>;
}

/** Identity at run time; gives the automation's author types and editor help. */
export function defineAutomation(definition: AutomationDefinition): AutomationDefinition {
  return definition;
}

export const AUTOMATION_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;

const fn = z.custom<(...args: never[]) => unknown>((v) => typeof v === 'function', 'must be a function');

const conditionSchema = z.union([fn, z.object({ name: z.string().min(1), check: fn })]);

/** Checks what a module exported: its shape comes from user code, so it is validated like wire input. */
export const definitionSchema = z.object({
  id: z.string().regex(AUTOMATION_ID_PATTERN, 'id must match [a-z0-9][a-z0-9_-]{0,63}'),
  description: z.string().optional(),
  mode: z.enum(['single', 'restart', 'queued', 'parallel']).default('single'),
  max: z.number().int().min(1).max(1000).default(10),
  triggers: z.array(triggerSchema).min(1, 'an automation needs at least one trigger'),
  conditions: z.array(conditionSchema).default([]),
  run: fn,
});

export interface ValidDefinition {
  id: string;
  description?: string;
  mode: Mode;
  max: number;
  triggers: Trigger[];
  conditions: Condition[];
  run: AutomationDefinition['run'];
}

export function validateDefinition(value: unknown): ValidDefinition {
  const parsed = definitionSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`invalid automation: ${issue.path.join('.') || '(module)'}: ${issue.message}`);
  }
  return parsed.data as ValidDefinition;
}
