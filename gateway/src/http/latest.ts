// The latest state of every entity as people see it: KV sentinel_state (so a restarted
// gateway shows the last known values at once, and readings taken by other nodes show
// too), kept current by the live feed's readings and availability changes, which
// arrive before the coalesced KV write.
import type { KV } from '@nats-io/kv';
import { z } from 'zod';
import { mirrorBucket } from '../bus/mirror.js';

export const StateSchema = z.looseObject({
  entity_id: z.string(),
  value: z.union([z.number(), z.boolean(), z.string(), z.null()]),
  ts: z.number(),
  unit: z.string().optional(),
  available: z.boolean().optional(),
});
export type LatestState = z.infer<typeof StateSchema>;

export class LatestStates {
  readonly #states = new Map<string, LatestState>();
  #stop: (() => void) | undefined;

  static async follow(kv: KV): Promise<LatestStates> {
    const latest = new LatestStates();
    latest.#stop = await mirrorBucket(kv, (key, value) => {
      if (value === undefined) latest.#states.delete(key);
      else latest.offer(value);
    });
    return latest;
  }

  get(entityId: string): LatestState | undefined {
    return this.#states.get(entityId);
  }

  /** Takes a state message (from KV or the bus); an older one than what we have is ignored. False when it is not one. */
  offer(value: unknown): boolean {
    const parsed = StateSchema.safeParse(value);
    if (!parsed.success) return false;
    const previous = this.#states.get(parsed.data.entity_id);
    if (previous && previous.ts > parsed.data.ts) return true;
    // a reading means the entity is available (as StatePublisher records it); KV's record says so explicitly
    this.#states.set(parsed.data.entity_id, { ...parsed.data, available: parsed.data.available ?? true });
    return true;
  }

  setAvailable(entityId: string, available: boolean): void {
    const previous = this.#states.get(entityId);
    if (previous) this.#states.set(entityId, { ...previous, available });
  }

  stop(): void {
    this.#stop?.();
  }
}
