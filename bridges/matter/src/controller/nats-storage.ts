// Controller state (fabric keys, node ids, cached node structure) in a NATS KV bucket, so
// that the matter server on another gateway node can take the controller over without
// re-pairing anything. A matter.js StorageDriver: every record of a namespace is read when
// matter.js opens it (reads are then from memory), and every change is written through,
// in order. Only the holder of the `matter` leader lock runs a controller on the bucket.
import {
  type DataNamespace,
  type Environment,
  fromJson,
  StorageDriver,
  StorageError,
  StorageService,
  type SupportedStorageTypes,
  toJson,
} from '@matter/main';
import type { KV } from '@nats-io/kv';
import { z } from 'zod';
import type { NodeStorage } from './storage.js';

/** The bucket the matter server keeps its controller in (one controller per cluster). */
export const MATTER_BUCKET = 'sentinel_matter';

/** One KV record: a version, so a later format can be told apart, and matter.js's own JSON. */
const RecordSchema = z.object({ v: z.literal(1), value: z.string() });

/** Why a record could not be read; its key and reason are in the message. */
export type CorruptReason = 'not_json' | 'not_a_record' | 'bad_value';

/** A record that is not what this driver wrote. The controller then does not start. */
export class CorruptRecordError extends StorageError {
  constructor(
    readonly key: string,
    readonly reason: CorruptReason,
    detail: string,
  ) {
    super(
      `matter storage: KV record ${key} is unreadable (${reason}: ${detail}); the controller does not start ` +
        'rather than overwrite fabric state. Restore the record (kv history) or delete it if it is expendable',
    );
    this.name = 'CorruptRecordError';
  }
}

export interface NatsStorageStats {
  /** records read when namespaces were opened */
  loaded: number;
  /** records written or deleted */
  written: number;
  /** unreadable records found, by reason */
  corrupt: Record<CorruptReason, number>;
  /** writes NATS refused */
  writeFailures: number;
}

export interface NatsStorage extends NodeStorage {
  readonly stats: NatsStorageStats;
  /** resolves once every write made so far is in the bucket */
  flush(): Promise<void>;
}

export interface NatsStorageOptions {
  /** one line per notable thing (a corrupt record, a failed write); never record values */
  readonly log?: (message: string, data?: Record<string, unknown>) => void;
}

/** KV keys allow [-/_=.A-Za-z0-9]; every other byte of a segment becomes `=XX`, dots separate segments. */
export function encodeSegment(segment: string): string {
  let out = '';
  for (const byte of Buffer.from(segment, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[-_A-Za-z0-9]/.test(c) ? c : `=${byte.toString(16).padStart(2, '0').toUpperCase()}`;
  }
  return out;
}

export function decodeSegment(encoded: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < encoded.length; i++) {
    if (encoded[i] === '=') {
      bytes.push(Number.parseInt(encoded.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(encoded.charCodeAt(i));
  }
  return Buffer.from(bytes).toString('utf8');
}

/** A NodeStorage on `kv`; `kv` is a bucket opened by the caller (see MATTER_BUCKET). */
export function natsStorage(kv: KV, options: NatsStorageOptions = {}): NatsStorage {
  const stats: NatsStorageStats = {
    loaded: 0,
    written: 0,
    corrupt: { not_json: 0, not_a_record: 0, bad_value: 0 },
    writeFailures: 0,
  };
  // one chain for the whole bucket: a delete never overtakes the put before it
  let writes: Promise<void> = Promise.resolve();
  const enqueue = (write: () => Promise<unknown>): Promise<void> => {
    const next = writes.then(async () => {
      try {
        await write();
        stats.written += 1;
      } catch (error) {
        stats.writeFailures += 1;
        options.log?.('matter storage: write to NATS failed', { error: (error as Error).message });
        throw error;
      }
    });
    writes = next.catch(() => {});
    return next;
  };

  class NatsKvDriver extends StorageDriver {
    static readonly id = 'nats-kv';
    readonly #prefix: string;
    readonly #store = new Map<string, Map<string, SupportedStorageTypes>>();
    #initialized = false;

    constructor(namespace: string) {
      super();
      this.#prefix = encodeSegment(namespace);
    }

    static async create(namespace: DataNamespace): Promise<NatsKvDriver> {
      const driver = new NatsKvDriver(namespace.namespace);
      await driver.initialize();
      return driver;
    }

    get initialized() {
      return this.#initialized;
    }

    async initialize(): Promise<void> {
      if (this.#initialized) return;
      const keys: string[] = [];
      for await (const key of await kv.keys(`${this.#prefix}.>`)) keys.push(key);
      for (const key of keys) {
        const entry = await kv.get(key);
        if (entry === null || entry.operation !== 'PUT') continue;
        const { contexts, name } = this.#split(key);
        this.#context(contexts).set(name, parseRecord(key, entry.string(), stats, options));
        stats.loaded += 1;
      }
      this.#initialized = true;
    }

    async close(): Promise<void> {
      await writes;
      this.#initialized = false;
    }

    get(contexts: string[], key: string): SupportedStorageTypes | undefined {
      return this.#store.get(contextKey(contexts))?.get(key);
    }

    set(contexts: string[], values: Record<string, SupportedStorageTypes>): Promise<void>;
    set(contexts: string[], key: string, value: SupportedStorageTypes): Promise<void>;
    set(
      contexts: string[],
      keyOrValues: string | Record<string, SupportedStorageTypes>,
      value?: SupportedStorageTypes,
    ): Promise<void> {
      const entries: Array<[string, SupportedStorageTypes]> =
        typeof keyOrValues === 'string'
          ? [[keyOrValues, value as SupportedStorageTypes]]
          : Object.entries(keyOrValues);
      const pending: Promise<void>[] = [];
      for (const [key, v] of entries) {
        if (!key.length) throw new StorageError('Key must not be empty.');
        this.#context(contexts).set(key, v);
        const record = JSON.stringify({ v: 1, value: toJson(v) });
        pending.push(enqueue(() => kv.put(this.#kvKey(contexts, key), record)));
      }
      return Promise.all(pending).then(() => {});
    }

    delete(contexts: string[], key: string): Promise<void> {
      if (!this.#store.get(contextKey(contexts))?.delete(key)) return Promise.resolve();
      return enqueue(() => kv.delete(this.#kvKey(contexts, key)));
    }

    override has(contexts: string[], key: string): boolean {
      return this.#store.get(contextKey(contexts))?.has(key) ?? false;
    }

    keys(contexts: string[]): string[] {
      return [...(this.#store.get(contextKey(contexts))?.keys() ?? [])];
    }

    values(contexts: string[]): Record<string, SupportedStorageTypes> {
      return Object.fromEntries(this.#store.get(contextKey(contexts)) ?? []);
    }

    contexts(contexts: string[]): string[] {
      const base = contextKey(contexts);
      const found = new Set<string>();
      for (const key of this.#store.keys()) {
        if (base === '' ? key === '' : !key.startsWith(`${base}.`)) continue;
        const next = (base === '' ? key : key.slice(base.length + 1)).split('.')[0];
        if (next) found.add(next);
      }
      return [...found];
    }

    async clearAll(contexts: string[]): Promise<void> {
      const base = contextKey(contexts);
      const doomed: Promise<void>[] = [];
      for (const [key, values] of [...this.#store]) {
        if (key !== base && !key.startsWith(`${base}.`)) continue;
        for (const name of values.keys()) doomed.push(this.delete(key === '' ? [] : key.split('.'), name));
      }
      await Promise.all(doomed);
    }

    #context(contexts: string[]): Map<string, SupportedStorageTypes> {
      for (const c of contexts) {
        if (!c.length || c.includes('.'))
          throw new StorageError('Context must not contain empty segments or dots.');
      }
      const key = contextKey(contexts);
      let values = this.#store.get(key);
      if (values === undefined) {
        values = new Map();
        this.#store.set(key, values);
      }
      return values;
    }

    #kvKey(contexts: string[], key: string): string {
      return [this.#prefix, ...contexts.map(encodeSegment), encodeSegment(key)].join('.');
    }

    #split(kvKey: string): { contexts: string[]; name: string } {
      const parts = kvKey.split('.').slice(1).map(decodeSegment);
      return { contexts: parts.slice(0, -1), name: parts[parts.length - 1] ?? '' };
    }
  }

  return {
    description: `NATS KV bucket ${(kv as { bucket?: string }).bucket ?? MATTER_BUCKET}`,
    stats,
    flush: () => writes,
    install(env: Environment) {
      const service = new StorageService(env);
      service.registerDriver(NatsKvDriver as never);
      service.defaultDriver = NatsKvDriver.id;
      env.set(StorageService, service);
    },
  };
}

function contextKey(contexts: string[]): string {
  return contexts.join('.');
}

function parseRecord(
  key: string,
  text: string,
  stats: NatsStorageStats,
  options: NatsStorageOptions,
): SupportedStorageTypes {
  const fail = (reason: CorruptReason, detail: string): never => {
    stats.corrupt[reason] += 1;
    options.log?.('matter storage: unreadable KV record', { key, reason, detail });
    throw new CorruptRecordError(key, reason, detail);
  };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    return fail('not_json', (error as Error).message);
  }
  const record = RecordSchema.safeParse(raw);
  if (!record.success) return fail('not_a_record', 'expected {"v":1,"value":…}');
  try {
    return fromJson(record.data.value);
  } catch (error) {
    return fail('bad_value', (error as Error).message);
  }
}
