// Records stored on the bus (CONTRACT.md §3). Parsed with these schemas whenever
// read back, because anyone on the platform may write to these buckets.

import { PlatformSchema, StateClassSchema } from '@sentinel/firmware';
import { z } from 'zod';

export const BindingSchema = z.object({
  protocol: z.string().min(1),
  device_id: z.string().min(1),
  key: z.string().min(1),
  priority: z.number().int(),
});
export type Binding = z.infer<typeof BindingSchema>;

export const EntityRecordSchema = z.looseObject({
  id: z.string().min(1),
  name: z.string(),
  platform: PlatformSchema,
  device_id: z.string().min(1),
  device_class: z.string().optional(),
  unit: z.string().optional(),
  state_class: StateClassSchema.optional(),
  min: z.number().optional(),
  max: z.number().optional(),
  step: z.number().optional(),
  options: z.array(z.string()).optional(),
  bindings: z.array(BindingSchema),
});
export type EntityRecord = z.infer<typeof EntityRecordSchema>;

export const DeviceRecordSchema = z.looseObject({
  id: z.string().min(1),
  protocol: z.string().min(1),
  name: z.string(),
  model: z.string().optional(),
  manufacturer: z.string().optional(),
  sw_version: z.string().optional(),
  online: z.boolean(),
  last_seen: z.number().int(),
});
export type DeviceRecord = z.infer<typeof DeviceRecordSchema>;

/** Default binding priorities: a device's own connection beats a radio heard from afar. */
export const DEFAULT_PRIORITY: Record<string, number> = { picket: 100, matter: 90, ble: 50 };

export const bindingKey = (protocol: string, deviceId: string, key: string) =>
  `${protocol}.${deviceId}.${key}`;
