// The shapes the API answers with (docs/http-api.md), declared once: the routes
// validate and serialize with them and the OpenAPI document is generated from them.
import { z } from 'zod';
import { BindingSchema, DeviceRecordSchema, EntityRecordSchema } from '../model/records.js';
import { ROLES } from './auth.js';
import { StateSchema } from './latest.js';

export { BindingSchema, StateSchema };

export const RoleSchema = z.enum(ROLES);

export const EntityWithStateSchema = EntityRecordSchema.extend({
  area: z.string().optional(),
  state: StateSchema.nullable(),
});

export const DeviceSchema = DeviceRecordSchema.extend({
  area: z.string().optional(),
  entities: z.array(z.string()).describe('ids of the entities bound to this device'),
});

export const DeviceDetailSchema = DeviceRecordSchema.extend({
  area: z.string().optional(),
  entities: z.array(EntityWithStateSchema),
});

export const EntityIdParams = z.object({ id: z.string().min(1).max(64) });

/** A name a person gives: trimmed, 1–100 characters. */
export const NameSchema = z.string().trim().min(1).max(100);
export const AreaSchema = z.string().trim().max(100);

export const EditSchema = z
  .strictObject({ name: NameSchema.optional(), area: AreaSchema.optional() })
  .refine((edit) => edit.name !== undefined || edit.area !== undefined, 'give a name, an area or both');

export const CommandBodySchema = z.union([
  z.strictObject({ action: z.string().min(1).max(32), value: z.unknown().optional() }),
  z.strictObject({ value: z.unknown() }),
]);

export const CommandReplySchema = z.union([
  z.object({ ok: z.literal(true) }),
  z.object({ ok: z.literal(false), error: z.object({ code: z.string(), message: z.string() }) }),
]);

export const DeviceTokenSchema = z.object({ device_id: z.string(), token: z.string() });
