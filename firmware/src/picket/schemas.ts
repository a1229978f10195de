// Picket protocol v1 (CONTRACT.md §4): the messages an ESP-IDF picket device and
// the gateway exchange, identical over MQTT and WebSocket. Everything from the
// wire is parsed with these schemas; the inferred types are the only types.
import { z } from 'zod';

export const PICKET_PROTOCOL_VERSION = 1;

/** Picket device id as the device knows it; the bus id is `picket-<id>`. */
export const PicketIdSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,57}$/, 'must match [a-z0-9][a-z0-9_-]{0,57}');
/** An entity key within one device (`temperature`, `relay`). */
export const EntityKeySchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'must match [a-z0-9][a-z0-9_-]{0,63}');

export const PLATFORMS = [
  'sensor',
  'binary_sensor',
  'switch',
  'light',
  'number',
  'button',
  'event',
  'text',
  'climate',
  'cover',
  'lock',
  'fan',
  'select',
] as const;
export const PlatformSchema = z.enum(PLATFORMS);
export type Platform = z.infer<typeof PlatformSchema>;

export const StateClassSchema = z.enum(['measurement', 'total', 'total_increasing']);

const shortText = (max: number) => z.string().min(1).max(max);

export const EntityDescriptionSchema = z.object({
  key: EntityKeySchema,
  platform: PlatformSchema,
  name: shortText(64).optional(),
  device_class: shortText(32).optional(),
  unit: shortText(16).optional(),
  state_class: StateClassSchema.optional(),
  /** number: the range and step a command value must respect */
  min: z.number().finite().optional(),
  max: z.number().finite().optional(),
  step: z.number().finite().positive().optional(),
  /** select: the allowed values */
  options: z.array(shortText(64)).max(64).optional(),
});
export type EntityDescription = z.infer<typeof EntityDescriptionSchema>;

export const MAX_ENTITIES_PER_DEVICE = 128;

const HelloFields = {
  v: z.literal(PICKET_PROTOCOL_VERSION),
  fw: shortText(32),
  chip: shortText(32),
  model: shortText(64).optional(),
  name: shortText(64).optional(),
  manufacturer: shortText(64).optional(),
  entities: z.array(EntityDescriptionSchema).max(MAX_ENTITIES_PER_DEVICE),
};

function uniqueEntityKeys(hello: { entities: EntityDescription[] }, ctx: z.RefinementCtx): void {
  const seen = new Set<string>();
  for (const [i, entity] of hello.entities.entries()) {
    if (seen.has(entity.key)) {
      ctx.addIssue({
        code: 'custom',
        path: ['entities', i, 'key'],
        message: `duplicate key "${entity.key}"`,
      });
    }
    seen.add(entity.key);
  }
}

export const HelloSchema = z.object(HelloFields).superRefine(uniqueEntityKeys);
export type Hello = z.infer<typeof HelloSchema>;

/** A reading value: a number, a boolean, a string, or null (that sensor has no value now). */
export const ReadingValueSchema = z.union([z.number().finite(), z.boolean(), z.string().max(255), z.null()]);
export type ReadingValue = z.infer<typeof ReadingValueSchema>;

export const StateSchema = z.object({
  /** the device's own sequence number; resends after a reconnect carry the same number */
  seq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  /** when the device took the reading (ms since epoch); the gateway's clock when absent */
  ts: z.number().int().positive().optional(),
  values: z.record(EntityKeySchema, ReadingValueSchema).refine((v) => Object.keys(v).length > 0, 'no values'),
});
export type State = z.infer<typeof StateSchema>;

export const CommandSchema = z.object({
  cid: z.string().min(1).max(64),
  key: EntityKeySchema,
  value: z.unknown().optional(),
  action: z.string().min(1).max(32).optional(),
});
export type Command = z.infer<typeof CommandSchema>;

export const CommandResultSchema = z.object({
  cid: z.string().min(1).max(64),
  ok: z.boolean(),
  error: z.string().max(256).optional(),
});
export type CommandResult = z.infer<typeof CommandResultSchema>;

export const StatusSchema = z.enum(['online', 'offline']);
export type Status = z.infer<typeof StatusSchema>;

/**
 * WebSocket frames (`ws://<gw>/picket`): one JSON object per frame, `type` first.
 * `ack` is our extension: the gateway confirms a state message once it is durably
 * stored, so a WebSocket device knows what it may forget (MQTT has PUBACK for that).
 * `error` tells a device why a frame was dropped.
 */
export const DeviceFrameSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('hello'), ...HelloFields }).superRefine(uniqueEntityKeys),
  z.object({ type: z.literal('state'), ...StateSchema.shape }),
  z.object({ type: z.literal('cmd_result'), ...CommandResultSchema.shape }),
]);
export type DeviceFrame = z.infer<typeof DeviceFrameSchema>;

export type GatewayFrame =
  | ({ type: 'cmd' } & Command)
  | { type: 'ack'; seq: number }
  | { type: 'error'; reason: string; message: string };
