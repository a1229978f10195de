// The sandbox worker: evaluates the bundled code of its automations in fresh V8
// contexts (no require, process, timers or network) and runs their conditions and
// `run`, each ctx call a message to the main thread. The worker's heap is capped by
// resourceLimits; a loop is seen by the main thread's watchdog. Before any automation
// code runs, the worker marks which one in the shared buffer, so when the worker has
// to be stopped the main thread knows whose code was running.
// Imports only node builtins: it is bundled on its own and started with eval.
import { runInNewContext } from 'node:vm';
import { parentPort, workerData } from 'node:worker_threads';
import type { CallOp, ConditionOutcome, FromWorker, ToWorker, WorkerInit } from './protocol.js';
import { SHARED } from './protocol.js';

const init = workerData as WorkerInit;
const cells = new Int32Array(init.shared, 0, SHARED.header / 4);
const answer = new Uint8Array(init.shared, SHARED.header);
const port = parentPort!;
/** messages of this task, sent together at its end: one wake-up of the main thread per burst */
let outbox: FromWorker[] = [];
const send = () => {
  const batch = outbox;
  outbox = [];
  if (batch.length > 0) port.postMessage(batch);
};
const post = (message: FromWorker) => {
  if (outbox.push(message) === 1) queueMicrotask(send);
};

type Fn = (...args: unknown[]) => unknown;
interface Definition {
  id?: unknown;
  conditions?: (Fn | { name: string; check: Fn })[];
  run: Fn;
}

const slots = new Map<number, Definition>();
let mainNow = Date.now();
const now = () => (init.liveClock ? Date.now() : mainNow);

interface Pending {
  runId: number;
  slot: number;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}
const pending = new Map<number, Pending>();
const runs = new Map<number, { slot: number; controller: AbortController; timers: number; calls: number }>();
let callSeq = 0;

let clearing = false;
const clear = () => {
  clearing = false;
  Atomics.store(cells, SHARED.current, 0);
};

/** marks whose code runs; cleared once the current task and its microtasks are over */
function enter(slot: number): void {
  Atomics.store(cells, SHARED.current, slot + 1);
  if (!clearing) {
    clearing = true;
    setImmediate(clear);
  }
}

function call(runId: number, op: CallOp, args: unknown[]): Promise<unknown> {
  const run = runs.get(runId);
  if (!run) return Promise.reject(new Error('this run has finished'));
  if (run.controller.signal.aborted) return Promise.reject(run.controller.signal.reason as Error);
  // thrown, not returned as a rejection: a loop that ignores its promises still stops here
  if (op === 'sleep' && run.timers >= init.maxTimers)
    throw new Error(`too many pending sleeps (limit ${init.maxTimers} per run)`);
  if (op !== 'sleep' && run.calls >= init.maxCalls)
    throw new Error(`too many calls in flight (limit ${init.maxCalls} per run)`);
  if (op === 'sleep') run.timers++;
  else run.calls++;
  const callId = ++callSeq;
  return new Promise((resolve, reject) => {
    const settle = () => {
      if (op === 'sleep') run.timers--;
      else run.calls--;
    };
    pending.set(callId, {
      runId,
      slot: run.slot,
      resolve: (v) => {
        settle();
        resolve(v);
      },
      reject: (e) => {
        settle();
        reject(e);
      },
    });
    post({ t: 'call', runId, callId, op, args: JSON.stringify(args) });
  });
}

/** a synchronous question to the main thread (state, entity): blocks this worker until answered */
function sync(slot: number, op: 'state' | 'entity', ref: unknown): unknown {
  if (typeof ref === 'object' && ref !== null && 'id' in ref) ref = (ref as { id: unknown }).id;
  if (typeof ref !== 'string') throw new Error('an entity is named by its id, its name or its handle');
  Atomics.store(cells, SHARED.syncFlag, 0);
  // after what is already queued (order), and at once: this thread blocks until the answer
  outbox.push({ t: 'sync', slot, op, ref });
  send();
  Atomics.wait(cells, SHARED.syncFlag, 0);
  const text = new TextDecoder().decode(answer.slice(0, Atomics.load(cells, SHARED.syncLength)));
  const reply = JSON.parse(text) as { ok: true; value?: unknown } | { ok: false; error: string };
  if (!reply.ok) throw new Error(reply.error);
  return reply.value;
}

function context(slot: number, runId: number, trigger: unknown, signal: AbortSignal) {
  return {
    automationId: slots.get(slot)?.id,
    trigger,
    signal,
    now,
    entity: (ref: unknown) => sync(slot, 'entity', ref),
    state: (ref: unknown) => sync(slot, 'state', ref),
    command: (ref: unknown, value: unknown, options?: { action?: string }) =>
      call(runId, 'command', [
        typeof ref === 'object' && ref ? (ref as { id: string }).id : ref,
        value,
        options,
      ]),
    notify: (channel: unknown, notification: unknown) =>
      call(runId, 'notify', [channel, notification]).then(() => undefined),
    sleep: (duration: unknown) => call(runId, 'sleep', [duration]).then(() => undefined),
    store: {
      get: (key: unknown) => call(runId, 'store_get', [key]),
      set: (key: unknown, value: unknown) => call(runId, 'store_set', [key, value]).then(() => undefined),
      delete: (key: unknown) => call(runId, 'store_delete', [key]).then(() => undefined),
    },
    log: (message: unknown, data?: unknown) => {
      void call(runId, 'log', [String(message), data]).catch(() => {});
    },
  };
}

const messageOf = (error: unknown) =>
  error && typeof error === 'object' && 'message' in error ? String(error.message) : String(error);

async function execute(slot: number, runId: number, triggerJson: string): Promise<void> {
  const definition = slots.get(slot);
  const controller = new AbortController();
  runs.set(runId, { slot, controller, timers: 0, calls: 0 });
  const conditions: ConditionOutcome[] = [];
  const done = (result: 'ok' | 'error' | 'aborted' | 'conditions_failed', error?: string) => {
    runs.delete(runId);
    post({ t: 'done', runId, conditions, result, ...(error !== undefined ? { error } : {}) });
  };
  if (!definition) return done('error', 'the automation is not loaded in its worker');
  const ctx = context(slot, runId, JSON.parse(triggerJson), controller.signal);
  try {
    for (const [index, condition] of (definition.conditions ?? []).entries()) {
      const name = typeof condition === 'function' ? condition.name || `#${index}` : condition.name;
      const check = typeof condition === 'function' ? condition : condition.check;
      try {
        enter(slot);
        const result = (await check(ctx)) === true;
        conditions.push({ index, name, result });
        if (!result) return done('conditions_failed');
      } catch (error) {
        conditions.push({ index, name, result: false, error: messageOf(error) });
        return done('error', `condition ${name} threw: ${messageOf(error)}`);
      }
    }
    enter(slot);
    await definition.run(ctx);
    if (controller.signal.aborted) throw controller.signal.reason;
    done('ok');
  } catch (error) {
    if (controller.signal.aborted) done('aborted', messageOf(controller.signal.reason));
    else done('error', messageOf(error));
  }
}

function load(slot: number, file: string, code: string): void {
  const module = { exports: {} as Record<string, unknown> };
  const console = {
    log: (...args: unknown[]) => post({ t: 'console', slot, line: args.map(String).join(' ') }),
  };
  try {
    enter(slot);
    runInNewContext(
      code,
      { module, exports: module.exports, console },
      { filename: file, timeout: init.loadTimeoutMs },
    );
  } catch (error) {
    post({ t: 'load_failed', slot, error: `throws at load: ${messageOf(error)}` });
    return;
  }
  const exported = module.exports.default as Definition | undefined;
  if (exported === undefined) {
    post({ t: 'load_failed', slot, error: 'has no default export (export default defineAutomation({...}))' });
    return;
  }
  let definition: string;
  try {
    // functions stay here; the main thread validates the rest as data
    definition = JSON.stringify(exported, (_key, value) =>
      typeof value === 'function' ? { __fn: value.name ?? '' } : value,
    );
  } catch (error) {
    post({ t: 'load_failed', slot, error: `its default export is not plain data: ${messageOf(error)}` });
    return;
  }
  slots.set(slot, exported);
  post({ t: 'loaded', slot, definition });
}

// a promise an automation dropped (a sleep it did not await, cancelled when its run ended)
// must not end the worker and its neighbours
process.on('unhandledRejection', () => {});

port.on('message', (batch: ToWorker[]) => {
  for (const message of batch) handle(message);
});

function handle(message: ToWorker): void {
  if ('now' in message) mainNow = message.now;
  switch (message.t) {
    case 'load':
      load(message.slot, message.file, message.code);
      return;
    case 'unload':
      slots.delete(message.slot);
      return;
    case 'run':
      void execute(message.slot, message.runId, message.trigger);
      return;
    case 'abort': {
      const run = runs.get(message.runId);
      if (!run) return;
      run.controller.abort(new Error(message.reason));
      for (const [id, p] of pending)
        if (p.runId === message.runId) {
          pending.delete(id);
          p.reject(new Error(message.reason));
        }
      return;
    }
    case 'reply': {
      const p = pending.get(message.callId);
      if (!p) return;
      pending.delete(message.callId);
      enter(p.slot);
      if (message.ok) p.resolve(message.value === undefined ? undefined : JSON.parse(message.value));
      else p.reject(new Error(message.error));
      return;
    }
    case 'ping':
      post({ t: 'pong', seq: message.seq });
      return;
  }
}
