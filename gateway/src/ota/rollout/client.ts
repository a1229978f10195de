// Asking the `ota` leader from outside it: what `sentinel ota` and the HTTP API
// (http/routes/ota-rollouts.ts) share. A request is written into the `sentinel_ota`
// bucket as `request.<id>` and answered in place by whichever node leads `ota`: it
// outlives a leader change (a NATS request to a leader that dies in between would be
// lost, one sent while nobody leads would find no one), and the next leader answers
// whatever is waiting. The rollout itself is read from the same bucket.
import { randomUUID } from 'node:crypto';
import type { KV } from '@nats-io/kv';
import {
  type Answer,
  RequestEntrySchema,
  ROLLOUT_KEY,
  type Rollout,
  type RolloutRequest,
  RolloutSchema,
  requestKey,
} from './schema.js';

/** Nobody answered in time; the request stays queued under `key` for the next leader. */
export class RolloutRequestPending extends Error {
  override name = 'RolloutRequestPending';
  constructor(
    readonly key: string,
    readonly timeoutMs: number,
  ) {
    super(
      `no gateway answered within ${timeoutMs / 1000} s: is one running on this NATS (it answers once it holds the \`ota\` lock)? ` +
        `The request stays queued as ${key} and is answered by the next leader; check with \`sentinel ota status\``,
    );
  }
}

/** Writes the request and waits for the leader's answer, at most `timeoutMs`. */
export async function askRollout(kv: KV, request: RolloutRequest, timeoutMs: number): Promise<Answer> {
  const key = requestKey(randomUUID());
  const watch = await kv.watch({ key });
  const timer = setTimeout(() => watch.stop(), timeoutMs);
  try {
    await kv.create(key, JSON.stringify({ request, at: Date.now() }));
    for await (const entry of watch) {
      if (entry.operation !== 'PUT') continue;
      const answer = RequestEntrySchema.safeParse(parsed(entry)).data?.answer;
      if (answer) return answer;
    }
  } finally {
    clearTimeout(timer);
    watch.stop();
  }
  throw new RolloutRequestPending(key, timeoutMs);
}

/** The current (or last) rollout, undefined before the first one. */
export async function loadRollout(kv: KV): Promise<Rollout | undefined> {
  const entry = await kv.get(ROLLOUT_KEY);
  if (entry?.operation !== 'PUT') return undefined;
  return RolloutSchema.safeParse(parsed(entry)).data;
}

/** "canary (1/3)", "batch 2 (3/3)", "done (3/3)": where a rollout is, for people. */
export function stageLabel(rollout: Pick<Rollout, 'canary' | 'stage' | 'stages'>): string {
  const total = rollout.stages.length;
  if (rollout.stage >= total) return `done (${total}/${total})`;
  const name =
    rollout.canary > 0 && rollout.stage === 0
      ? 'canary'
      : `batch ${rollout.canary > 0 ? rollout.stage : rollout.stage + 1}`;
  return `${name} (${rollout.stage + 1}/${total})`;
}

/** The one-line view of a rollout: where it is and how many devices are where. */
export function rolloutSummary(rollout: Rollout) {
  const devices: Record<string, number> = {};
  for (const device of Object.values(rollout.devices))
    devices[device.state] = (devices[device.state] ?? 0) + 1;
  return {
    rollout: rollout.id,
    version: rollout.version,
    status: rollout.status,
    stage: stageLabel(rollout),
    devices,
    ...(rollout.paused_reason ? { paused_reason: rollout.paused_reason } : {}),
    ...(rollout.paused_device ? { paused_device: rollout.paused_device } : {}),
  };
}

function parsed(entry: { json<T>(): T }): unknown {
  try {
    return entry.json();
  } catch {
    return undefined;
  }
}
