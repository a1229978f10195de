// The triggers an automation declares. Entities are named by id or by name; the
// runtime resolves them against sentinel_entities when the automation loads.
import { z } from 'zod';
import { durationSchema, signedDurationSchema } from '../duration.js';
import type { EntityKey } from '../types/registry.js';

const entityRef = z.string().min(1);
const scalar = z.union([z.number(), z.boolean(), z.string(), z.null()]);

/** a reading arrived whose value differs from the previous one (optionally from/to given values) */
const stateTrigger = z.object({
  kind: z.literal('state'),
  entity: entityRef,
  from: scalar.optional(),
  to: scalar.optional(),
});

/**
 * A numeric value beyond a bound, continuously for `for`. It fires once, then re-arms only
 * when the value comes back past the bound by `hysteresis`. An unavailable reading cancels
 * a pending `for` but is never a crossing.
 */
const thresholdTrigger = z
  .object({
    kind: z.literal('threshold'),
    entity: entityRef,
    above: z.number().optional(),
    below: z.number().optional(),
    hysteresis: z.number().nonnegative().default(0),
    for: durationSchema.default(0),
  })
  .refine((t) => (t.above === undefined) !== (t.below === undefined), {
    message: 'a threshold trigger takes exactly one of above or below',
  });

/** The rate of change (units per minute, least-squares slope over `window`) beyond a bound. */
const derivativeTrigger = z
  .object({
    kind: z.literal('derivative'),
    entity: entityRef,
    window: durationSchema,
    above: z.number().optional(),
    below: z.number().optional(),
    hysteresis: z.number().nonnegative().default(0),
  })
  .refine((t) => (t.above === undefined) !== (t.below === undefined), {
    message: 'a derivative trigger takes exactly one of above or below (units per minute)',
  });

/** the entity became available or unavailable (its devices, or a null reading) */
const availabilityTrigger = z.object({
  kind: z.literal('availability'),
  entity: entityRef,
  to: z.enum(['available', 'unavailable']).optional(),
});

/** every day at HH:MM[:SS] in `tz` (IANA name; the runtime's zone when absent) */
const timeTrigger = z.object({
  kind: z.literal('time'),
  at: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$/, 'time of day as HH:MM or HH:MM:SS'),
  tz: z.string().optional(),
});

/** a cron expression (5 fields, or 6 with seconds first) */
const cronTrigger = z.object({
  kind: z.literal('cron'),
  expression: z.string().min(1),
  tz: z.string().optional(),
});

/** sunrise or sunset at the runtime's location, shifted by `offset` (negative: before) */
const sunTrigger = z.object({
  kind: z.literal('sun'),
  event: z.enum(['sunrise', 'sunset']),
  offset: signedDurationSchema.default(0),
});

/** the sun's elevation (degrees) crossing a bound; sampled every minute, with hysteresis */
const sunElevationTrigger = z
  .object({
    kind: z.literal('sun_elevation'),
    above: z.number().min(-90).max(90).optional(),
    below: z.number().min(-90).max(90).optional(),
    hysteresis: z.number().nonnegative().default(0),
  })
  .refine((t) => (t.above === undefined) !== (t.below === undefined), {
    message: 'a sun_elevation trigger takes exactly one of above or below',
  });

export const triggerSchema = z.discriminatedUnion('kind', [
  stateTrigger,
  thresholdTrigger,
  derivativeTrigger,
  availabilityTrigger,
  timeTrigger,
  cronTrigger,
  sunTrigger,
  sunElevationTrigger,
]);

/** the entity of a trigger, checked against the registry declaration when there is one */
type RegistryTyped<T> = T extends { entity: string } ? Omit<T, 'entity'> & { entity: EntityKey } : T;

/** A trigger as written in an automation. */
export type TriggerInput = RegistryTyped<z.input<typeof triggerSchema>>;
/** A trigger after validation (durations in ms, defaults filled). */
export type Trigger = z.output<typeof triggerSchema>;
