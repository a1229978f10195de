// Messages between the runtime (main thread) and a sandbox worker that runs the code of
// a group of automations. Only plain data crosses: the triggers, the mode runner, the
// clock, NATS and KV stay in the main thread; the worker runs conditions and `run`, and
// asks the main thread for everything else.

/** Int32 cells of the shared buffer each worker gets. */
export const SHARED = {
  /** 1 + the slot whose code runs now, 0 when none: names the culprit of a loop or an OOM */
  current: 0,
  /** sync call state: 0 waiting, 1 answered */
  syncFlag: 1,
  /** byte length of the answer in the buffer */
  syncLength: 2,
  /** bytes before the answer */
  header: 16,
} as const;

/** room for one synchronous answer (an entity record or a state value, as JSON) */
export const SYNC_BYTES = 64 * 1024;

export type CallOp = 'command' | 'notify' | 'sleep' | 'store_get' | 'store_set' | 'store_delete' | 'log';

export type ToWorker =
  /** evaluate a bundled module (CommonJS) into `slot` */
  | { t: 'load'; slot: number; file: string; code: string; now: number }
  | { t: 'unload'; slot: number }
  | { t: 'run'; slot: number; runId: number; trigger: string; now: number }
  | { t: 'abort'; runId: number; reason: string; now: number }
  /** the answer to a call; `value` is JSON */
  | { t: 'reply'; callId: number; ok: true; value?: string; now: number }
  | { t: 'reply'; callId: number; ok: false; error: string; now: number }
  | { t: 'ping'; seq: number };

export interface ConditionOutcome {
  index: number;
  name: string;
  result: boolean;
  error?: string;
}

export type FromWorker =
  /** `definition`: the default export as JSON, functions replaced by {"__fn": name} */
  | { t: 'loaded'; slot: number; definition: string }
  | { t: 'load_failed'; slot: number; error: string }
  | { t: 'console'; slot: number; line: string }
  | { t: 'call'; runId: number; callId: number; op: CallOp; args: string }
  /** a call the worker blocks on (Atomics.wait) until the answer is in the shared buffer */
  | { t: 'sync'; slot: number; op: 'state' | 'entity'; ref: string }
  | {
      t: 'done';
      runId: number;
      conditions: ConditionOutcome[];
      result: 'ok' | 'error' | 'aborted' | 'conditions_failed';
      error?: string;
    }
  | { t: 'pong'; seq: number };

export interface WorkerInit {
  shared: SharedArrayBuffer;
  /** ctx.now() reads Date.now() (system clock) or the last time the main thread sent (manual clock) */
  liveClock: boolean;
  loadTimeoutMs: number;
  maxTimers: number;
  maxCalls: number;
}
