// What a rollout keeps in the `sentinel_ota` KV bucket (docs/ota.md "Rollouts"):
// - `rollout`: the one current rollout, written only by the `ota` leader (fenced), so a
//   restarted or new leader resumes from it;
// - `request.<id>`: what the CLI asks (start, pause, resume, abort), answered in place
//   by the leader. A request outlives a leader change: the next leader answers it.
import { z } from 'zod';

export const ROLLOUT_KEY = 'rollout';
export const REQUEST_PREFIX = 'request.';
export const requestKey = (id: string) => `${REQUEST_PREFIX}${id}`;

/** one KV key token: no dots or wildcards */
const RequestIdSchema = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);
const DeviceIdSchema = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/);

export const DEFAULT_DEADLINE_MS = 10 * 60_000;

export const StartRequestSchema = z.object({
  op: z.literal('start'),
  version: z.string().min(1).max(64),
  /** picket ids; neither this nor `model`: every picket device */
  devices: z.array(DeviceIdSchema).min(1).max(10_000).optional(),
  model: z.string().min(1).max(128).optional(),
  canary: z.number().int().min(0).max(1000).default(1),
  batch: z.number().int().min(1).max(1000).default(10),
  deadline_ms: z
    .number()
    .int()
    .min(1000)
    .max(7 * 24 * 3600_000)
    .default(DEFAULT_DEADLINE_MS),
  allow_downgrade: z.boolean().default(false),
  channel: z.enum(['stable', 'beta']).optional(),
});
export type StartRequest = z.infer<typeof StartRequestSchema>;

export const RolloutRequestSchema = z.discriminatedUnion('op', [
  StartRequestSchema,
  z.object({ op: z.literal('pause') }),
  z.object({ op: z.literal('resume') }),
  z.object({ op: z.literal('abort') }),
]);
export type RolloutRequest = z.input<typeof RolloutRequestSchema>;

/** Why a request was refused: stable codes for scripts, a sentence for people. */
export type RefusalCode =
  | 'bad_request'
  | 'no_devices'
  | 'unknown_devices'
  | 'not_in_catalog'
  | 'no_image_for_chip'
  | 'downgrade'
  | 'rollout_active'
  | 'no_rollout';

export const AnswerSchema = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true), rollout: z.string(), status: z.string() }),
  z.object({ ok: z.literal(false), code: z.string(), message: z.string() }),
]);
export type Answer = z.infer<typeof AnswerSchema>;

export const RequestEntrySchema = z.looseObject({
  request: z.unknown(),
  at: z.number().int(),
  answer: AnswerSchema.optional(),
  answered_at: z.number().int().optional(),
});
export type RequestEntry = z.infer<typeof RequestEntrySchema>;

export const ImageRefSchema = z.object({
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  version: z.string(),
  size: z.number().int().positive(),
  signed: z.boolean(),
});

export const DEVICE_STATES = [
  /** not offered yet (or to be offered again) */
  'pending',
  /** offered: downloading, verifying, rebooting */
  'offered',
  /** back on the new version, confirm sent */
  'booted',
  /** updated: back on the new version and confirmed within the deadline */
  'confirmed',
  /** ran the version before the rollout reached it: nothing offered */
  'skipped',
  /** did not come back in time, rolled back, or refused: `reason` says which */
  'failed',
] as const;
export type DeviceState = (typeof DEVICE_STATES)[number];

export const DeviceRecordSchema = z.object({
  image: ImageRefSchema,
  /** the version it ran when the rollout was planned */
  from: z.string(),
  state: z.enum(DEVICE_STATES),
  offer: z.string().optional(),
  /** when its stage first tried to offer it: the deadline counts from here */
  started: z.number().int().optional(),
  percent: z.number().optional(),
  reason: z.string().optional(),
  updated: z.number().int(),
});
export type DeviceRecord = z.infer<typeof DeviceRecordSchema>;

export const ROLLOUT_STATUSES = ['running', 'paused', 'completed', 'aborted'] as const;
export type RolloutStatus = (typeof ROLLOUT_STATUSES)[number];

export const RolloutSchema = z.looseObject({
  id: z.string(),
  version: z.string(),
  channel: z.enum(['stable', 'beta']).optional(),
  allow_downgrade: z.boolean(),
  deadline_ms: z.number().int().positive(),
  created: z.number().int(),
  updated: z.number().int(),
  status: z.enum(ROLLOUT_STATUSES),
  /** why it paused: the first device that failed, named */
  paused_reason: z.string().optional(),
  paused_device: z.string().optional(),
  /** device ids per stage; with a canary, stage 0 is the canary */
  stages: z.array(z.array(DeviceIdSchema)),
  canary: z.number().int().nonnegative(),
  stage: z.number().int().nonnegative(),
  devices: z.record(z.string(), DeviceRecordSchema),
});
export type Rollout = z.infer<typeof RolloutSchema>;

export { RequestIdSchema };
