// What the runtime reads from the bus (CONTRACT.md §3), validated before use: a
// malformed message is counted and dropped, never allowed into an automation.
import { z } from 'zod';

export const SUBJECT = {
  stateAll: 'sentinel.state.>',
  /** extension published by the gateway: an entity's availability derived from its devices */
  entityAvailabilityAll: 'sentinel.entity.*.availability',
  command: (entityId: string) => `sentinel.cmd.${entityId}`,
  /** extension: one message per finished (or skipped) run, see docs/automations.md */
  trace: (automationId: string) => `sentinel.automations.trace.${automationId}`,
};

export const BUCKET = {
  entities: 'sentinel_entities',
  state: 'sentinel_state',
  /** extension: per-automation state and durable timers (the only bucket the role writes) */
  automations: 'sentinel_automations',
};

export const stateValueSchema = z.union([z.number(), z.boolean(), z.string(), z.null()]);

export const stateMessageSchema = z.object({
  entity_id: z.string().min(1),
  value: stateValueSchema,
  ts: z.number(),
  unit: z.string().optional(),
});
export type StateMessage = z.infer<typeof stateMessageSchema>;

export const entityAvailabilitySchema = z.object({
  entity_id: z.string().min(1),
  available: z.boolean(),
  ts: z.number(),
});

export const entitySchema = z.object({
  id: z.string().min(1),
  name: z.string(),
  platform: z.string(),
  unit: z.string().optional(),
  device_class: z.string().optional(),
});
export type EntityRecord = z.infer<typeof entitySchema>;

export const commandReplySchema = z.object({
  ok: z.boolean(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
});
