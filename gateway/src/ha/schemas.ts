// What the HA publisher reads from the bus, parsed because anyone on the platform may publish there.
import { z } from 'zod';

export const StateMessageSchema = z.looseObject({
  entity_id: z.string().min(1),
  value: z.union([z.number(), z.boolean(), z.string(), z.null(), z.record(z.string(), z.unknown())]),
  ts: z.number(),
});

export const AvailabilityMessageSchema = z.looseObject({
  device_id: z.string().min(1),
  online: z.boolean(),
});

/** The reply of sentinel.cmd.<entity_id> (CONTRACT.md §3). */
export const CommandReplySchema = z.union([
  z.looseObject({ ok: z.literal(true) }),
  z.looseObject({ ok: z.literal(false), error: z.looseObject({ code: z.string(), message: z.string() }) }),
]);

/** Just enough of a discovery config to tell one a gateway of ours published (a retained one, from an earlier run). */
export const OurConfigSchema = z.looseObject({
  dev: z.looseObject({ identifiers: z.array(z.string()) }),
  o: z.looseObject({ name: z.string() }),
});
