// A sandbox worker: the runtime of one group of automations, on its own NATS connection
// with the runtime's credential. Automation modules are evaluated in fresh V8 contexts
// (no require, process, timers or network); their triggers, runs, timers and traces are
// this worker's runtime's. Before automation code runs, the worker marks whose in the
// shared buffer, and counts each automation's runs in flight there, so when the runtime's
// thread has to stop this worker (a loop, the heap limit) it knows whom to blame and
// which runs were lost. Bundled with its dependencies and started with eval.
import { parentPort, workerData } from 'node:worker_threads';
import { connect, credsAuthenticator } from '@nats-io/transport-node';
import { type Clock, type ClockJump, systemClock, type TimerHandle } from '../../clock.js';
import type { StateValue } from '../../sdk/define.js';
import { evaluateAutomation } from '../evaluate.js';
import { AutomationRuntime } from '../runtime.js';
import { type FromWorker, SHARED, type ToWorker, type WorkerInit } from './protocol.js';

const init = workerData as WorkerInit;
const cells = new Int32Array(init.shared, 0, SHARED.fixed + init.groupSize);
const answer = new Uint8Array(init.shared, (SHARED.fixed + init.groupSize) * 4);
const port = parentPort!;

/** messages of this task, sent together at its end: one wake-up of the runtime's thread per burst */
let outbox: FromWorker[] = [];
const send = () => {
  const batch = outbox;
  outbox = [];
  if (batch.length > 0) port.postMessage(batch);
};
const post = (message: FromWorker) => {
  if (outbox.push(message) === 1) queueMicrotask(send);
};

const messageOf = (error: unknown) =>
  error && typeof error === 'object' && 'message' in error ? String(error.message) : String(error);

/** a question the runtime's thread answers at once: this thread blocks until it has */
function sync(question: Extract<FromWorker, { t: 'sync' }>): unknown {
  Atomics.store(cells, SHARED.syncFlag, 0);
  outbox.push(question); // after what is already queued (order), and at once
  send();
  Atomics.wait(cells, SHARED.syncFlag, 0);
  const text = new TextDecoder().decode(answer.slice(0, Atomics.load(cells, SHARED.syncLength)));
  const reply = JSON.parse(text) as { ok: true; value?: unknown } | { ok: false; error: string };
  if (!reply.ok) throw new Error(reply.error);
  return reply.value;
}

/** automation id → its local slot */
const slotOf = new Map<string, number>();
let clearing = false;
const clearCurrent = () => {
  clearing = false;
  Atomics.store(cells, SHARED.current, 0);
};
/** marks whose code runs; cleared once the current task and its microtasks are over */
function enterSlot(local: number): void {
  Atomics.store(cells, SHARED.current, local + 1);
  if (!clearing) {
    clearing = true;
    setImmediate(clearCurrent);
  }
}

/** The runtime thread's manual clock (tests): its time asked, its timers proxied, its steps told. */
class BridgedClock implements Clock {
  #seq = 0;
  readonly #timers = new Map<number, () => unknown>();
  readonly #listeners = new Set<(jump: ClockJump) => void>();

  now(): number {
    return sync({ t: 'sync', op: 'now' }) as number;
  }

  at(at: number, fn: () => unknown): TimerHandle {
    const timer = ++this.#seq;
    this.#timers.set(timer, fn);
    post({ t: 'timer', timer, at });
    return {
      cancel: () => {
        if (this.#timers.delete(timer)) post({ t: 'cancel', timer });
      },
    };
  }

  onJump(listener: (jump: ClockJump) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async fire(timer: number): Promise<void> {
    const fn = this.#timers.get(timer);
    this.#timers.delete(timer);
    try {
      await fn?.();
    } finally {
      post({ t: 'fired', timer });
    }
  }

  jump(jump: ClockJump): void {
    for (const listener of [...this.#listeners]) listener(jump);
  }
}

const bridged = init.liveClock ? undefined : new BridgedClock();
let fenceSeq = 0;
const fences = new Map<number, { resolve: () => void; reject: (error: Error) => void }>();

async function start(): Promise<AutomationRuntime> {
  const { creds, ...connection } = init.connection;
  const nc = await connect({
    ...connection,
    name: init.name,
    ...(creds ? { authenticator: credsAuthenticator(creds) } : {}),
    timeout: 10_000,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    noAsyncTraces: true,
  });
  const runtime = await AutomationRuntime.start({
    nc,
    clock: bridged ?? systemClock,
    ...(init.location ? { location: init.location } : {}),
    ...(init.commandTimeoutMs !== undefined ? { commandTimeoutMs: init.commandTimeoutMs } : {}),
    traceLimit: 0,
    storedTraces: init.storedTraces,
    isolation: { maxTimers: init.maxTimers, maxCalls: init.maxCalls },
    ...(init.fenced
      ? {
          fence: {
            put: (_kv, key, state) =>
              new Promise<void>((resolve, reject) => {
                const callId = ++fenceSeq;
                fences.set(callId, { resolve, reject });
                post({ t: 'fence', callId, key, state });
              }),
          },
        }
      : {}),
    log: (line, data) => post({ t: 'log', line, ...(data ? { data } : {}) }),
    worker: {
      enter: (id) => {
        const local = slotOf.get(id);
        if (local !== undefined) enterSlot(local);
      },
      runs: (id, delta) => {
        const local = slotOf.get(id);
        if (local !== undefined) Atomics.add(cells, SHARED.fixed + local, delta);
      },
      stateOf: (entityId) => sync({ t: 'sync', op: 'state', ref: entityId }) as StateValue | undefined,
    },
  });
  if (init.forwardTraces) runtime.on('trace', (trace) => post({ t: 'trace', trace }));
  return runtime;
}

async function load(runtime: AutomationRuntime, message: Extract<ToWorker, { t: 'load' }>): Promise<void> {
  const { local, file, fallbackId, code } = message;
  let exported: unknown;
  let id: string | undefined;
  try {
    enterSlot(local);
    exported = evaluateAutomation(
      code,
      file,
      (line) => post({ t: 'log', line, data: { file } }),
      init.loadTimeoutMs,
    );
    // known before its triggers start, so a run at once is already counted against it
    const declared = (exported as { id?: unknown } | null)?.id;
    // ids are unique across the runtime: refused before its triggers could start
    if (typeof declared === 'string' && message.taken.includes(declared))
      throw new Error(`an automation with id "${declared}" is already loaded`);
    if (typeof declared === 'string' && !slotOf.has(declared)) {
      id = declared;
      slotOf.set(id, local);
    }
  } catch (error) {
    post({ t: 'load_failed', local, error: messageOf(error) });
    return;
  }
  const added = await runtime.add(exported, fallbackId);
  if (id !== undefined && added !== id) slotOf.delete(id);
  post({ t: 'loaded', local, ...(added ? { id: added } : {}) });
}

// a promise an automation dropped (a sleep it did not await, cancelled when its run ended)
// must not end the worker and its neighbours
process.on('unhandledRejection', () => {});

void (async () => {
  let runtime: AutomationRuntime;
  try {
    runtime = await start();
  } catch (error) {
    post({ t: 'start_failed', error: messageOf(error) });
    return;
  }
  /** loads one after another, as the runtime's thread sends them */
  let loading: Promise<void> = Promise.resolve();
  port.on('message', (batch: ToWorker[]) => {
    for (const message of batch) {
      switch (message.t) {
        case 'load':
          loading = loading.then(() => load(runtime, message));
          break;
        case 'ping':
          post({ t: 'pong', seq: message.seq });
          break;
        case 'idle':
          // idle() flushes the connection first: the answer comes after every message the
          // server sent it before
          void loading.then(() => runtime.idle()).finally(() => post({ t: 'idle', seq: message.seq }));
          break;
        case 'fenced': {
          const call = fences.get(message.callId);
          fences.delete(message.callId);
          if (message.error === undefined) call?.resolve();
          else call?.reject(new Error(message.error));
          break;
        }
        case 'fire':
          void bridged?.fire(message.timer);
          break;
        case 'jump':
          bridged?.jump({ from: message.from, to: message.to });
          break;
        case 'stop':
          void (async () => {
            await runtime.stop();
            await runtime.options.nc.close();
            post({ t: 'stopped' }); // after the traces of the runs it aborted
          })();
          break;
      }
    }
  });
  post({ t: 'ready' });
})();
