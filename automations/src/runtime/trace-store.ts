// The last traces of each automation, kept in KV bucket sentinel_automations so that
// `sentinel automations trace <id>` (and the UI) can read them from anywhere, after a
// restart or a failover too. One key per automation, `<automation_id>.traces`, holding
// its last `limit` traces as a JSON array. A trace is written `delayMs` after it was
// made, and one key at most once per `intervalMs`: a quiet automation's run shows up
// within a quarter of a second, a busy one costs a KV write every 5 s rather than one
// per run (a write per run was a JetStream store per run on the server every command
// also goes through, and the tail of the bench's latency). One key, overwritten,
// leaves no tombstones behind.
import type { KV } from '@nats-io/kv';
import type { Trace } from './trace.js';

/** a stored trace bigger than this loses its actions (the key of 20 stays well under NATS' 1 MB) */
const MAX_STORED_BYTES = 12 * 1024;

/** How many traces the runtime keeps per automation in KV, whatever the CLI asks. */
export const STORED_TRACES = 20;

/** How long a trace waits before it is written (a stop writes it at once)... */
export const TRACE_DELAY_MS = 250;
/** ...and how often one automation's traces are written at most. */
export const TRACE_INTERVAL_MS = 5000;

export const tracesKey = (automationId: string) => `${automationId}.traces`;

const isTrace = (t: unknown): t is Trace =>
  !!t &&
  typeof t === 'object' &&
  typeof (t as Trace).seq === 'number' &&
  typeof (t as Trace).run_id === 'string';

/** Traces stored for one automation, oldest first (at most `limit`, the newest). */
export async function readStoredTraces(
  kv: KV,
  automationId: string,
  limit = STORED_TRACES,
): Promise<Trace[]> {
  const entry = await kv.get(tracesKey(automationId)).catch(() => null);
  if (entry?.operation !== 'PUT') return [];
  let stored: unknown;
  try {
    stored = entry.json();
  } catch {
    return []; // a value that is not JSON holds no traces
  }
  if (!Array.isArray(stored)) return [];
  return stored
    .filter(isTrace)
    .sort((a, b) => a.seq! - b.seq!)
    .slice(-limit);
}

/**
 * A trace as stored, as JSON: small enough that `limit` of them fit one KV value. `json`
 * is the trace without its seq, as published (so a run's trace is serialised once).
 */
function stored(trace: Trace, seq: number, json: string): string {
  // a trace is a non-empty object: its JSON ends with `}`, before which the seq goes
  if (json.length <= MAX_STORED_BYTES) return `${json.slice(0, -1)},"seq":${seq}}`;
  const fewer = JSON.stringify({ ...trace, seq, actions: trace.actions.slice(0, 10), truncated: true });
  if (fewer.length <= MAX_STORED_BYTES) return fewer;
  const { trigger: _trigger, ...rest } = trace;
  return JSON.stringify({ ...rest, seq, actions: [], conditions: [], error: trace.error?.slice(0, 1000) });
}

interface Ring {
  /** stored traces as JSON, oldest first, each with its seq */
  traces: string[];
  /** traces saved before what is stored was read */
  early: { trace: Trace; json: string }[];
  nextSeq: number;
  loaded: Promise<void>;
  ready: boolean;
  /** a write of this ring is due (one timer per ring: the writes spread over the interval) */
  timer: NodeJS.Timeout | undefined;
  /** when it was last written (performance.now()) */
  written: number;
}

export class TraceStore {
  readonly #rings = new Map<string, Ring>();
  #writes: Promise<unknown> = Promise.resolve();

  constructor(
    readonly kv: KV,
    readonly limit: number,
    readonly onError: (error: unknown) => void,
    readonly delayMs = TRACE_DELAY_MS,
    readonly intervalMs = TRACE_INTERVAL_MS,
  ) {}

  #ring(automationId: string): Ring {
    const known = this.#rings.get(automationId);
    if (known) return known;
    const created: Ring = {
      traces: [],
      early: [],
      nextSeq: 0,
      loaded: Promise.resolve(),
      ready: false,
      timer: undefined,
      written: -Infinity,
    };
    const start = () => {
      created.ready = true;
      for (const { trace, json } of created.early.splice(0)) this.#add(automationId, created, trace, json);
    };
    // continue the sequence of what an earlier runtime stored
    created.loaded = readStoredTraces(this.kv, automationId, this.limit).then(
      (traces) => {
        created.traces = traces.map((t) => JSON.stringify(t));
        created.nextSeq = (traces.at(-1)?.seq ?? -1) + 1;
        start();
      },
      (error) => {
        this.onError(error);
        start();
      },
    );
    this.#rings.set(automationId, created);
    return created;
  }

  #add(id: string, ring: Ring, trace: Trace, json: string): void {
    ring.traces.push(stored(trace, ring.nextSeq++, json));
    if (ring.traces.length > this.limit) ring.traces.splice(0, ring.traces.length - this.limit);
    if (ring.timer) return;
    const wait = Math.max(this.delayMs, ring.written + this.intervalMs - performance.now());
    ring.timer = setTimeout(() => this.#write(id, ring), wait).unref();
  }

  /**
   * In the background: a trace is never on the path of a run.
   * `json`: the trace as JSON, when the caller has it already.
   */
  save(trace: Trace, json = JSON.stringify(trace)): void {
    const ring = this.#ring(trace.automation_id);
    if (ring.ready) this.#add(trace.automation_id, ring, trace, json);
    else ring.early.push({ trace, json });
  }

  #write(id: string, ring: Ring): void {
    clearTimeout(ring.timer);
    ring.timer = undefined;
    ring.written = performance.now();
    const write = this.kv.put(tracesKey(id), `[${ring.traces.join(',')}]`).catch(this.onError);
    this.#writes = Promise.allSettled([this.#writes, write]);
  }

  /** every trace written now (before the runtime closes its connection) */
  async flush(): Promise<void> {
    await Promise.allSettled([...this.#rings.values()].map((r) => r.loaded));
    for (const [id, ring] of this.#rings) if (ring.timer) this.#write(id, ring);
    for (;;) {
      const writes = this.#writes;
      await writes;
      if (writes === this.#writes) return;
    }
  }
}
