// Messages between the runtime's thread and a sandbox worker. A worker is a whole runtime
// for its group of automations: its own NATS connection (the same credential), the
// triggers, modes, timers, durable state and traces of its automations, and their code
// in fresh V8 contexts. A reading therefore goes from the socket to the command in one
// thread. The runtime's thread supervises (watchdog, memory, reloading), answers what
// only it has (states of entities the worker does not watch, the leader lease's fence,
// a manual clock in tests) and collects the traces it is asked for.
import type { Trace } from '../trace.js';

/** Int32 cells at the start of each worker's shared buffer, then one per slot, then the answer bytes. */
export const SHARED = {
  /** 1 + the local slot whose code runs now, 0 when none: names the culprit of a loop or an OOM */
  current: 0,
  /** sync call state: 0 waiting, 1 answered */
  syncFlag: 1,
  /** byte length of the answer */
  syncLength: 2,
  /** cells before the per-slot counters of runs in flight */
  fixed: 4,
} as const;

/** room for one synchronous answer (a state value or the time, as JSON) */
export const SYNC_BYTES = 64 * 1024;

/** bytes of a group's shared buffer: the cells, then the answer */
export const sharedBytes = (groupSize: number) => (SHARED.fixed + groupSize) * 4 + SYNC_BYTES;

/** The runtime's NATS servers and credential, for its workers' own connections. */
export interface WorkerConnection {
  servers: string[];
  /** a credentials file's content (the automations role) */
  creds?: Uint8Array;
  user?: string;
  pass?: string;
  token?: string;
}

export interface WorkerInit {
  shared: SharedArrayBuffer;
  groupSize: number;
  /** how the worker reaches NATS: the runtime's servers and credential */
  connection: WorkerConnection;
  name: string;
  /** the system clock; otherwise every timer and reading of the time is the runtime thread's clock */
  liveClock: boolean;
  location?: { latitude: number; longitude: number };
  commandTimeoutMs?: number;
  storedTraces: number;
  /** trigger-state writes go through the runtime thread's leader fence */
  fenced: boolean;
  /** every trace to the runtime thread (its in-memory log), not only the ones it must see */
  forwardTraces: boolean;
  loadTimeoutMs: number;
  maxTimers: number;
  maxCalls: number;
}

export type ToWorker =
  /** evaluate a bundled module (CommonJS) and add it in local slot `local`, unless its id is `taken` */
  | { t: 'load'; local: number; file: string; fallbackId: string; code: string; taken: string[] }
  | { t: 'ping'; seq: number }
  /** answer once every reading received before this is evaluated and every run has ended */
  | { t: 'idle'; seq: number }
  | { t: 'stop' }
  | { t: 'fenced'; callId: number; error?: string }
  /** manual clock: a timer is due (its time is now) / the clock stepped */
  | { t: 'fire'; timer: number }
  | { t: 'jump'; from: number; to: number };

export type FromWorker =
  | { t: 'ready' }
  | { t: 'start_failed'; error: string }
  /** `id` undefined: the definition was refused (the worker recorded its load_error trace) */
  | { t: 'loaded'; local: number; id?: string }
  | { t: 'load_failed'; local: number; error: string }
  | { t: 'trace'; trace: Trace }
  | { t: 'log'; line: string; data?: Record<string, unknown> }
  /** a question the worker blocks on (Atomics.wait) until the answer is in the shared buffer */
  | { t: 'sync'; op: 'state'; ref: string }
  | { t: 'sync'; op: 'now' }
  | { t: 'fence'; callId: number; key: string; state: Record<string, unknown> }
  | { t: 'timer'; timer: number; at: number }
  | { t: 'cancel'; timer: number }
  | { t: 'fired'; timer: number }
  | { t: 'pong'; seq: number }
  | { t: 'idle'; seq: number }
  | { t: 'stopped' };
