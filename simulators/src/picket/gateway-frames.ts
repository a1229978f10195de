// Frames the gateway sends on the picket WebSocket (CONTRACT.md §4 plus our `ack`,
// `error` and `ota` extensions). @sentinel/firmware declares the type; this is the zod
// schema that checks it at the wire, kept in step with that type at compile time.
import { CommandSchema, type GatewayFrame, OtaMessageSchema, StateSchema } from '@sentinel/firmware';
import { z } from 'zod';
import { type Decoded, decode } from './wire.js';

const otaType = { type: z.literal('ota') };

export const GatewayFrameSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('cmd'), ...CommandSchema.shape }),
  z.object({ type: z.literal('ack'), seq: StateSchema.shape.seq }),
  z.object({ type: z.literal('error'), reason: z.string(), message: z.string() }),
  z.discriminatedUnion('op', [
    OtaMessageSchema.options[0].extend(otaType),
    OtaMessageSchema.options[1].extend(otaType),
    OtaMessageSchema.options[2].extend(otaType),
  ]),
]);

// Fails to compile if the schema and firmware's GatewayFrame ever disagree.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
true satisfies Same<z.infer<typeof GatewayFrameSchema>, GatewayFrame>;

/** Parses one text frame from the gateway. */
export const parseGatewayFrame = (text: string): Decoded<GatewayFrame> => decode(GatewayFrameSchema, text);
