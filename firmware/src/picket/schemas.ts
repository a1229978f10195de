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
  /** OTA: the device verifies secure boot v2 signatures and takes signed images only */
  signed_ota: z.boolean().optional(),
  /** OTA: bytes of the device's smallest OTA slot (what an image may not exceed) */
  ota_slot_size: z.number().int().positive().optional(),
  /** OTA: the offer whose image the device runs in pending-verify (not yet confirmed) */
  ota_pending: z
    .string()
    .regex(/^[A-Za-z0-9_-]{8,64}$/, 'must match [A-Za-z0-9_-]{8,64}')
    .optional(),
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

// ---- Over-the-air updates (docs/ota.md): `picket/<id>/ota` gw→device, `picket/<id>/ota/progress`
// device→gw, and the WebSocket frames `ota` / `ota_progress` carrying the same objects.

/** An offer id: the gateway makes them, a device echoes them in every progress report. */
export const OtaOfferIdSchema = HelloFields.ota_pending.unwrap();
export const Sha256HexSchema = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits');

/**
 * gw→device. `offer`: download `url` (it carries a short-lived credential for this device
 * and offer; send `Authorization: Bearer <id>:<token>` with it, resume with `Range`),
 * check `size` and `sha256` (and the secure boot v2 signature when `signed` or when the
 * device has signed OTA on), write the inactive slot and reboot into it pending-verify.
 * `confirm`: the gateway saw the device back on the new version: mark the app valid.
 * `rollback`: mark it invalid and boot the previous slot.
 */
export const OtaMessageSchema = z.discriminatedUnion('op', [
  z.object({
    op: z.literal('offer'),
    offer: OtaOfferIdSchema,
    version: shortText(32),
    size: z.number().int().positive(),
    sha256: Sha256HexSchema,
    signed: z.boolean(),
    url: z.string().url().max(1024),
    /** when the URL's credential stops working (ms since the epoch) */
    expires: z.number().int().positive(),
  }),
  z.object({ op: z.literal('confirm'), offer: OtaOfferIdSchema }),
  z.object({ op: z.literal('rollback'), offer: OtaOfferIdSchema, reason: shortText(256) }),
]);
export type OtaMessage = z.infer<typeof OtaMessageSchema>;

export const OTA_PROGRESS_STATES = [
  'downloading',
  'verifying',
  'rebooting',
  'pending_verify',
  'confirmed',
  'failed',
  'rolled_back',
] as const;

const reasonText = z.string().min(1).max(256);
const offerField = { offer: OtaOfferIdSchema };

/**
 * device→gw: where an update stands. `downloading` may repeat (percent rising; `attempt`
 * and `retry` when a download starts over, e.g. after a SHA-256 mismatch);
 * `pending_verify`: booted the new image, waiting for `confirm`; `rolled_back`: running
 * the previous image again (`version`), with why.
 */
export const OtaProgressMessageSchema = z.discriminatedUnion('state', [
  z.object({
    ...offerField,
    state: z.literal('downloading'),
    percent: z.number().min(0).max(100),
    attempt: z.number().int().min(1).max(100).optional(),
    retry: reasonText.optional(),
  }),
  z.object({ ...offerField, state: z.enum(['verifying', 'rebooting']) }),
  z.object({ ...offerField, state: z.enum(['pending_verify', 'confirmed']), version: shortText(32) }),
  z.object({ ...offerField, state: z.literal('failed'), reason: reasonText }),
  z.object({ ...offerField, state: z.literal('rolled_back'), version: shortText(32), reason: reasonText }),
]);
export type OtaProgressMessage = z.infer<typeof OtaProgressMessageSchema>;

const progressFrameType = { type: z.literal('ota_progress') };

/**
 * WebSocket frames (`ws://<gw>/picket`): one JSON object per frame, `type` first.
 * `ack` is our extension: the gateway confirms a state message once it is durably
 * stored, so a WebSocket device knows what it may forget (MQTT has PUBACK for that).
 * `error` tells a device why a frame was dropped. `ota` / `ota_progress` carry the OTA
 * messages of `picket/<id>/ota` and `picket/<id>/ota/progress`.
 */
export const DeviceFrameSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('hello'), ...HelloFields }).superRefine(uniqueEntityKeys),
  z.object({ type: z.literal('state'), ...StateSchema.shape }),
  z.object({ type: z.literal('cmd_result'), ...CommandResultSchema.shape }),
  z.discriminatedUnion('state', [
    OtaProgressMessageSchema.options[0].extend(progressFrameType),
    OtaProgressMessageSchema.options[1].extend(progressFrameType),
    OtaProgressMessageSchema.options[2].extend(progressFrameType),
    OtaProgressMessageSchema.options[3].extend(progressFrameType),
    OtaProgressMessageSchema.options[4].extend(progressFrameType),
  ]),
]);
export type DeviceFrame = z.infer<typeof DeviceFrameSchema>;

export type GatewayFrame =
  | ({ type: 'cmd' } & Command)
  | ({ type: 'ota' } & OtaMessage)
  | { type: 'ack'; seq: number }
  | { type: 'error'; reason: string; message: string };
