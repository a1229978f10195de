// The last traces of each automation, kept in KV bucket sentinel_automations so that
// `sentinel automations trace <id>` (and the UI) can read them from anywhere, after a
// restart or a failover too. A ring of `limit` keys per automation,
// `<automation_id>.trace.<slot>`: a bounded number of keys, each overwritten in turn
// (deleting old keys instead would leave a tombstone per run in the stream forever).
import type { KV } from '@nats-io/kv';
import type { Trace } from './trace.js';

/** a trace bigger than this is stored without its actions (KV values stay small) */
const MAX_STORED_BYTES = 32 * 1024;

export const traceKey = (automationId: string, slot: number) => `${automationId}.trace.${slot}`;

/** Traces stored for one automation, oldest first. */
export async function readStoredTraces(kv: KV, automationId: string, limit: number): Promise<Trace[]> {
  const entries = await Promise.all(
    Array.from({ length: limit }, (_, slot) => kv.get(traceKey(automationId, slot)).catch(() => null)),
  );
  const traces: Trace[] = [];
  for (const entry of entries) {
    if (entry?.operation !== 'PUT') continue;
    try {
      const trace = entry.json<Trace>();
      if (typeof trace?.seq === 'number') traces.push(trace);
    } catch {
      // a value that is not JSON is not a trace: skipped
    }
  }
  return traces.sort((a, b) => a.seq! - b.seq!);
}

/** How many slots the runtime uses per automation: the ring wraps at this, whatever the CLI asks. */
export const STORED_TRACES = 20;

export class TraceStore {
  /** next sequence number per automation, found from what is stored when first needed */
  readonly #next = new Map<string, Promise<number>>();
  #writes: Promise<unknown> = Promise.resolve();

  constructor(
    readonly kv: KV,
    readonly limit: number,
    readonly onError: (error: unknown) => void,
  ) {}

  #seq(automationId: string): Promise<number> {
    const previous =
      this.#next.get(automationId) ??
      readStoredTraces(this.kv, automationId, this.limit).then(
        (stored) => (stored.at(-1)?.seq ?? -1) + 1,
        () => 0,
      );
    const mine = previous.then((n) => n);
    this.#next.set(
      automationId,
      previous.then((n) => n + 1),
    );
    return mine;
  }

  /** writes in the background: a trace is never on the path of a run */
  save(trace: Trace): void {
    const write = this.#seq(trace.automation_id).then((seq) => {
      let stored: Trace = { ...trace, seq };
      let text = JSON.stringify(stored);
      if (text.length > MAX_STORED_BYTES) {
        stored = { ...stored, actions: stored.actions.slice(0, 10), truncated: true };
        text = JSON.stringify(stored);
        if (text.length > MAX_STORED_BYTES)
          text = JSON.stringify({ ...stored, actions: [], trigger: undefined });
      }
      return this.kv.put(traceKey(trace.automation_id, seq % this.limit), text);
    });
    this.#writes = Promise.allSettled([this.#writes, write.catch(this.onError)]);
  }

  /** every write done (before the runtime closes its connection) */
  async flush(): Promise<void> {
    for (;;) {
      const writes = this.#writes;
      await writes;
      if (writes === this.#writes) return;
    }
  }
}
