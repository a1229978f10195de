// The entity directory: sentinel_entities read at start and kept current by a watch,
// so automations can name entities by id or by name.
import { type KV, KvWatchInclude } from '@nats-io/kv';
import type { EntityHandle } from '../sdk/define.js';
import { type EntityRecord, entitySchema } from './wire.js';

export class UnknownEntityError extends Error {
  override name = 'UnknownEntityError';
  constructor(readonly ref: string) {
    super(`unknown entity "${ref}" (not an id or name in sentinel_entities)`);
  }
}

export class EntityDirectory {
  readonly #byId = new Map<string, EntityRecord>();
  #stopWatch?: () => void;
  /** told when an entity leaves the registry (the runtime warns the automations watching it) */
  onRemove?: (entity: EntityRecord) => void;

  static async open(kv: KV): Promise<EntityDirectory> {
    const directory = new EntityDirectory();
    for await (const key of await kv.keys()) {
      const entry = await kv.get(key);
      if (entry?.operation === 'PUT') directory.#put(entry.json());
    }
    const watch = await kv.watch({ include: KvWatchInclude.UpdatesOnly });
    directory.#stopWatch = () => watch.stop();
    (async () => {
      for await (const entry of watch) {
        if (entry.operation === 'PUT') directory.#put(entry.json());
        else {
          const removed = directory.#byId.get(entry.key);
          directory.#byId.delete(entry.key);
          if (removed) directory.onRemove?.(removed);
        }
      }
    })().catch(() => {});
    return directory;
  }

  /** for tests and replay: a fixed set of entities */
  static of(records: EntityRecord[]): EntityDirectory {
    const directory = new EntityDirectory();
    for (const r of records) directory.#put(r);
    return directory;
  }

  #put(value: unknown): void {
    const parsed = entitySchema.safeParse(value);
    if (parsed.success) this.#byId.set(parsed.data.id, parsed.data);
  }

  /** by id first, then by exact name; ambiguous names are refused rather than guessed */
  resolve(ref: EntityHandle | string): EntityHandle {
    if (typeof ref !== 'string') return this.resolve(ref.id);
    const byId = this.#byId.get(ref);
    if (byId) return byId;
    const named = [...this.#byId.values()].filter((e) => e.name === ref);
    if (named.length === 1) return named[0]!;
    if (named.length > 1)
      throw new Error(`entity name "${ref}" is ambiguous: use one of ${named.map((e) => e.id).join(', ')}`);
    throw new UnknownEntityError(ref);
  }

  stop(): void {
    this.#stopWatch?.();
  }
}
