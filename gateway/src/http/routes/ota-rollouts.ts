// OTA rollouts over HTTP (docs/ota.md "From the web app"): the current rollout and the
// catalog images anyone signed in may see; start, pause, resume and abort for admins.
// Every node answers: a request goes into the `sentinel_ota` bucket and is answered by
// the node leading `ota`, exactly as `sentinel ota` does (ota/rollout/client.ts).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { FIRMWARE_CHANNELS, type OtaCatalog } from '../../firmware-store.js';
import {
  askRollout,
  loadRollout,
  RolloutRequestPending,
  rolloutSummary,
  stageLabel,
} from '../../ota/rollout/client.js';
import {
  type Answer,
  DEVICE_STATES,
  ROLLOUT_STATUSES,
  type Rollout,
  type RolloutRequest,
  StartRequestSchema,
} from '../../ota/rollout/schema.js';
import type { Principal } from '../auth.js';
import { errorResponses, HttpError } from '../errors.js';
import type { RouteDeps } from '../options.js';

/** How long a request waits for the `ota` leader before it is answered "queued". */
const ANSWER_TIMEOUT_MS = 10_000;

const DeviceViewSchema = z.object({
  device: z.string(),
  /** 0: the canary when there is one */
  stage: z.number().int(),
  state: z.enum(DEVICE_STATES),
  from: z.string(),
  percent: z.number().optional(),
  reason: z.string().optional(),
  updated: z.number().int(),
});

const RolloutViewSchema = z.object({
  id: z.string(),
  version: z.string(),
  status: z.enum(ROLLOUT_STATUSES),
  stage: z.number().int().describe('the current stage (= stage_count when done)'),
  stage_count: z.number().int(),
  stage_label: z.string().describe('"canary (1/3)", "batch 2 (3/3)", "done (3/3)"'),
  canary: z.number().int(),
  deadline_ms: z.number().int(),
  created: z.number().int(),
  updated: z.number().int(),
  paused_reason: z.string().optional(),
  paused_device: z.string().optional(),
  counts: z.record(z.string(), z.number().int()),
  devices: z.array(DeviceViewSchema).describe('in rollout order'),
});

const ImageViewSchema = z.object({
  id: z.string(),
  version: z.string(),
  chip: z.string(),
  project: z.string(),
  channel: z.string(),
  size: z.number().int(),
  signed: z.boolean(),
  added_at: z.number().int(),
});

const AcceptedSchema = z.object({
  queued: z.literal(true),
  request: z.string(),
  message: z.string(),
});

function view(rollout: Rollout): z.infer<typeof RolloutViewSchema> {
  return {
    id: rollout.id,
    version: rollout.version,
    status: rollout.status,
    stage: rollout.stage,
    stage_count: rollout.stages.length,
    stage_label: stageLabel(rollout),
    canary: rollout.canary,
    deadline_ms: rollout.deadline_ms,
    created: rollout.created,
    updated: rollout.updated,
    ...(rollout.paused_reason ? { paused_reason: rollout.paused_reason } : {}),
    ...(rollout.paused_device ? { paused_device: rollout.paused_device } : {}),
    counts: rolloutSummary(rollout).devices,
    devices: rollout.stages.flatMap((ids, stage) =>
      ids.flatMap((device) => {
        const d = rollout.devices[device];
        if (!d) return [];
        return [
          {
            device,
            stage,
            state: d.state,
            from: d.from,
            ...(d.percent === undefined ? {} : { percent: d.percent }),
            ...(d.reason === undefined ? {} : { reason: d.reason }),
            updated: d.updated,
          },
        ];
      }),
    ),
  };
}

/** A refusal of the leader as the HTTP error a client can branch on. */
function refusal(answer: Extract<Answer, { ok: false }>): HttpError {
  const code =
    answer.code === 'bad_request'
      ? 'bad_request'
      : answer.code === 'no_rollout' || answer.code === 'rollout_active'
        ? 'conflict'
        : 'unprocessable';
  return new HttpError(code, `refused (${answer.code}): ${answer.message}`);
}

export const otaRolloutRoutes: FastifyPluginAsyncZod<RouteDeps & { catalog: OtaCatalog }> = async (
  app,
  o,
) => {
  const kv = () => o.bus.kv.ota;

  app.get(
    '/api/ota/rollout',
    {
      schema: {
        summary: 'the current (or last) OTA rollout: status, stage, each device, why it paused',
        response: { 200: z.object({ rollout: RolloutViewSchema.nullable() }) },
      },
      config: { role: 'viewer' },
    },
    async () => {
      const rollout = await loadRollout(kv());
      return { rollout: rollout ? view(rollout) : null };
    },
  );

  app.get(
    '/api/ota/rollout/images',
    {
      schema: {
        summary: 'the firmware catalog images a rollout can install, newest added first',
        response: { 200: z.array(ImageViewSchema) },
      },
      config: { role: 'viewer' },
    },
    async () =>
      (await o.catalog.images())
        .map((e) => ({
          id: e.id,
          version: e.version,
          chip: e.chip,
          project: e.project,
          channel: e.channel,
          size: e.size,
          signed: e.signature !== null,
          added_at: e.added_at,
        }))
        .sort((a, b) => b.added_at - a.added_at),
  );

  /** Asks the leader, audits the outcome, answers with the rollout as it is now. */
  const ask = async (request: { principal: Principal | undefined; ip: string }, body: RolloutRequest) => {
    let answer: Answer;
    try {
      answer = await askRollout(kv(), body, ANSWER_TIMEOUT_MS);
    } catch (error) {
      if (!(error instanceof RolloutRequestPending)) throw error;
      return { queued: true as const, request: error.key, message: error.message };
    }
    await o.people.audit({
      ts: Date.now(),
      ...o.audit(request),
      action: `ota.rollout.${body.op}`,
      target: answer.ok ? answer.rollout : undefined,
      outcome: answer.ok ? 'ok' : 'refused',
      detail: answer.ok ? (body.op === 'start' ? body : undefined) : { code: answer.code },
    });
    if (!answer.ok) throw refusal(answer);
    const rollout = await loadRollout(kv());
    return { rollout: rollout && rollout.id === answer.rollout ? view(rollout) : null };
  };

  const answered = {
    200: z.object({ rollout: RolloutViewSchema.nullable() }),
    202: AcceptedSchema,
    ...errorResponses('bad_request', 'conflict', 'unprocessable'),
  };

  app.post(
    '/api/ota/rollout',
    {
      schema: {
        summary:
          'start a rollout of a catalog version: the canary first, then batches (as `sentinel ota rollout`)',
        body: StartRequestSchema.omit({ op: true }).extend({
          channel: z.enum(FIRMWARE_CHANNELS).optional(),
        }),
        response: answered,
      },
      config: { role: 'admin' },
    },
    async (request, reply) => {
      const answer = await ask(request, { op: 'start', ...request.body });
      return reply.code('queued' in answer ? 202 : 200).send(answer);
    },
  );

  for (const op of ['pause', 'resume', 'abort'] as const) {
    app.post(
      `/api/ota/rollout/${op}`,
      {
        schema: {
          summary:
            op === 'pause'
              ? 'pause the rollout: nothing more is offered; devices already updating are seen through'
              : op === 'resume'
                ? 'go on after a pause (a failed device stays failed; the next ones are offered)'
                : 'end the rollout: devices not yet confirmed are told to roll back',
          body: z.strictObject({}).optional(),
          response: answered,
        },
        config: { role: 'admin' },
      },
      async (request, reply) => {
        const answer = await ask(request, { op });
        return reply.code('queued' in answer ? 202 : 200).send(answer);
      },
    );
  }
};
