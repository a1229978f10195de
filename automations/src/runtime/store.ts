// Durable per-automation state in KV bucket sentinel_automations: trigger state
// (armed, a pending `for` and when it started) and the automation's own store.
// Keys: `<automation_id>.trigger.<index>` and `<automation_id>.data.<key>`.
import { type KV, Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { AutomationStore } from '../sdk/define.js';
import { BUCKET } from './wire.js';

const DATA_KEY = /^[A-Za-z0-9_-]{1,128}$/;

/**
 * Opens the bucket. The gateway (or an admin) creates it; where the connection may
 * create streams (a test server, an unlocked dev server) a missing bucket is created.
 */
export async function openAutomationBucket(nc: NatsConnection): Promise<KV> {
  const kvm = new Kvm(nc);
  const kv = await kvm.open(BUCKET.automations);
  try {
    await kv.status();
    return kv;
  } catch {
    try {
      return await kvm.create(BUCKET.automations, { history: 1 });
    } catch (error) {
      throw new Error(
        `KV bucket ${BUCKET.automations} is missing and cannot be created with this credential (${(error as Error).message})`,
      );
    }
  }
}

/**
 * Writes a trigger's state only while this runtime leads: a leader that lost its lease
 * (frozen, cut off) and writes late must not overwrite what the new leader wrote. The
 * CLI makes it from the `automations` leader lease (the gateway's fencedUpdate, which
 * puts the lease's fencing token in the record and refuses a write under an older one).
 */
export interface TriggerStateFence {
  /** throws, saying why, when the lease has ended or a newer leader wrote the key */
  put(kv: KV, key: string, state: Record<string, unknown>): Promise<unknown>;
}

/** JSON get/put/delete for one automation, writes to one key applied in order. */
export class AutomationKv {
  readonly #chains = new Map<string, Promise<unknown>>();

  constructor(
    readonly kv: KV,
    readonly automationId: string,
    readonly fence?: TriggerStateFence,
  ) {}

  async #get<T>(key: string): Promise<T | undefined> {
    await this.#chains.get(key);
    const entry = await this.kv.get(key);
    return entry?.operation === 'PUT' ? entry.json<T>() : undefined;
  }

  #write(key: string, op: () => Promise<unknown>): Promise<void> {
    const next = (this.#chains.get(key) ?? Promise.resolve()).catch(() => {}).then(op);
    this.#chains.set(key, next);
    return next.then(() => {});
  }

  triggerState<T>(index: number): Promise<T | undefined> {
    return this.#get<T>(`${this.automationId}.trigger.${index}`);
  }

  /** trigger state is an object (threshold, derivative): fenced when the runtime has a fence */
  saveTriggerState(index: number, state: object): Promise<void> {
    const key = `${this.automationId}.trigger.${index}`;
    const fence = this.fence;
    return this.#write(key, () =>
      fence
        ? fence.put(this.kv, key, state as Record<string, unknown>)
        : this.kv.put(key, JSON.stringify(state)),
    );
  }

  /** every pending write done (before a runtime stops, so a restart reads them) */
  async flush(): Promise<void> {
    await Promise.allSettled([...this.#chains.values()]);
  }

  /** the store an automation's run sees */
  dataStore(): AutomationStore {
    const keyOf = (key: string) => {
      if (!DATA_KEY.test(key)) throw new Error(`store key must match ${DATA_KEY}: "${key}"`);
      return `${this.automationId}.data.${key}`;
    };
    return {
      get: (key) => this.#get(keyOf(key)),
      set: (key, value) => {
        const k = keyOf(key);
        return this.#write(k, () => this.kv.put(k, JSON.stringify(value ?? null)));
      },
      delete: (key) => {
        const k = keyOf(key);
        return this.#write(k, () => this.kv.delete(k));
      },
    };
  }
}
