// Sandbox groups: worker threads, `groupSize` automations each, every worker a whole
// runtime for its group with its own NATS connection (the runtime's credential), so a
// reading goes from the socket to the command in one thread. A worker's heap is capped
// (resourceLimits) and a watchdog pings it: an automation whose code does not yield for
// `timeLimitMs`, or runs the worker out of memory, is named from the shared buffer, its
// worker is replaced, and the group's other automations are loaded again in the new one
// (their trigger state and timers are in KV and resume). The culprit is reported and not
// loaded again. Runs that were in flight in a replaced worker are reported as aborted.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { build, type Plugin } from 'esbuild';
import type { Clock, TimerHandle } from '../../clock.js';
import type { StateValue } from '../../sdk/define.js';
import type { Trace } from '../trace.js';
import {
  type FromWorker,
  SHARED,
  SYNC_BYTES,
  sharedBytes,
  type ToWorker,
  type WorkerConnection,
  type WorkerInit,
} from './protocol.js';

export interface SandboxOptions {
  /** automations per worker (1: a worker each, the most isolation and the most memory) */
  groupSize: number;
  /** how long automation code may run without yielding */
  timeLimitMs: number;
  /** V8 old-generation heap per worker */
  memoryLimitMb: number;
  /** pending ctx.sleep() per run */
  maxTimers: number;
  /** ctx calls in flight per run (commands, notifications, store) */
  maxCalls: number;
}

export const SANDBOX_DEFAULTS = {
  // each worker is a thread with its own event loop and connection: on a small machine
  // more workers than cores cost latency and ~25 MB each (docs/automations.md)
  groupSize: 50,
  timeLimitMs: 1000,
  memoryLimitMb: 64,
  maxTimers: 1000,
  maxCalls: 100,
} as const;

/** What the workers need from the runtime's thread. */
export interface SandboxHost {
  connection: WorkerConnection;
  clock: Clock;
  /** the system clock: workers keep their own; otherwise their timers are proxied to `clock` */
  liveClock: boolean;
  location?: { latitude: number; longitude: number };
  commandTimeoutMs?: number;
  storedTraces: number;
  forwardTraces: boolean;
  /** a fenced trigger-state write (the leader lease); absent: workers write directly */
  fence?: (key: string, state: Record<string, unknown>) => Promise<unknown>;
  stateOf(entityId: string): Promise<StateValue | undefined>;
  log(line: string, data?: Record<string, unknown>): void;
  /** a trace a worker recorded and published */
  forwarded(trace: Trace): void;
  /** a trace about an automation that only this thread can tell (stopped, disabled, runs lost) */
  report(automationId: string, fields: Partial<Trace> & Pick<Trace, 'result'>): void;
}

type LoadResult = { id?: string } | { error: string };

/** a worker never compiles: the loader's esbuild import is left out of its bundle */
const noCompiler: Plugin = {
  name: 'no-compiler-in-workers',
  setup(b) {
    b.onResolve({ filter: /^esbuild$/ }, () => ({ path: 'esbuild', namespace: 'stub' }));
    b.onLoad({ filter: /.*/, namespace: 'stub' }, () => ({
      contents: 'export function build() { throw new Error("sandbox workers do not compile"); }',
      loader: 'js',
    }));
  },
};

let workerCode: Promise<string> | undefined;

/** The worker's code with the runtime and NATS client, bundled once per process (from .ts sources or compiled .js). */
function workerSource(): Promise<string> {
  workerCode ??= (async () => {
    const here = fileURLToPath(import.meta.url);
    const entry = join(dirname(here), here.endsWith('.ts') ? 'group-worker.ts' : 'group-worker.js');
    const out = await build({
      entryPoints: [entry],
      bundle: true,
      write: false,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      logLevel: 'silent',
      plugins: [noCompiler],
    });
    return out.outputFiles[0]!.text;
  })();
  return workerCode;
}

interface Slot {
  file: string;
  fallbackId: string;
  code: string;
  id?: string;
}

const messageOf = (error: unknown) =>
  error && typeof error === 'object' && 'message' in error ? String(error.message) : String(error);

let groupSeq = 0;

class SandboxGroup {
  readonly slots: (Slot | undefined)[];
  readonly #name = `sentinel-automations-${++groupSeq}`;
  #worker!: Worker;
  #cells!: Int32Array;
  #answer!: Uint8Array;
  /** the worker has connected and started its runtime (and, after a replacement, loaded its group again) */
  #ready!: Promise<void>;
  #started!: () => void;
  /** the current worker has started (a worker that never does is not replaced, in a loop) */
  #isReady = false;
  #failed!: (error: Error) => void;
  #loads = new Map<number, (result: LoadResult) => void>();
  #waits = new Map<number, () => void>();
  #waitSeq = 0;
  /** a manual clock's timers, proxied for the worker: its id → this clock's handle */
  #timers = new Map<number, TimerHandle>();
  #fires = new Map<number, () => void>();
  #watchdog?: NodeJS.Timeout;
  #pingSeq = 0;
  #lastPong = 0;
  #stopped = false;
  #onStopped: (() => void) | undefined;
  /** messages posted in this task, sent together at its end */
  #outbox: ToWorker[] = [];

  constructor(
    readonly options: SandboxOptions,
    readonly host: SandboxHost,
    readonly source: string,
  ) {
    this.slots = new Array(options.groupSize).fill(undefined);
    this.#spawn();
  }

  get full(): boolean {
    return this.slots.every((s) => s !== undefined);
  }

  get ids(): string[] {
    return this.slots.flatMap((s) => (s?.id ? [s.id] : []));
  }

  #spawn(): void {
    const shared = new SharedArrayBuffer(sharedBytes(this.options.groupSize));
    this.#cells = new Int32Array(shared, 0, SHARED.fixed + this.options.groupSize);
    this.#answer = new Uint8Array(shared, (SHARED.fixed + this.options.groupSize) * 4, SYNC_BYTES);
    Atomics.store(this.#cells, SHARED.syncFlag, 1); // 0 only while the worker waits for an answer
    const { host } = this;
    const init: WorkerInit = {
      shared,
      groupSize: this.options.groupSize,
      connection: host.connection,
      name: this.#name,
      liveClock: host.liveClock,
      ...(host.location ? { location: host.location } : {}),
      ...(host.commandTimeoutMs !== undefined ? { commandTimeoutMs: host.commandTimeoutMs } : {}),
      storedTraces: host.storedTraces,
      fenced: host.fence !== undefined,
      forwardTraces: host.forwardTraces,
      loadTimeoutMs: this.options.timeLimitMs,
      maxTimers: this.options.maxTimers,
      maxCalls: this.options.maxCalls,
    };
    const worker = new Worker(this.source, {
      eval: true,
      workerData: init,
      // nothing of the runtime's environment (paths, tokens) reaches automation code
      env: {},
      argv: [],
      execArgv: [],
      resourceLimits: {
        maxOldGenerationSizeMb: this.options.memoryLimitMb,
        maxYoungGenerationSizeMb: Math.max(1, Math.min(16, Math.round(this.options.memoryLimitMb / 8))),
        stackSizeMb: 1,
      },
    });
    worker.unref();
    this.#worker = worker;
    this.#isReady = false;
    let failed!: (error: Error) => void;
    this.#ready = new Promise<void>((resolve, reject) => {
      this.#started = resolve;
      this.#failed = reject;
      failed = reject;
    });
    this.#ready.catch(() => {}); // awaited by every load; a failed start is each load's error
    worker.on('message', (batch: FromWorker[]) => {
      if (worker !== this.#worker) return; // a replaced worker's last words
      for (const message of batch) this.#onMessage(message);
    });
    worker.on('error', (error: Error & { code?: string }) => {
      if (worker !== this.#worker) return;
      failed(error);
      if (!this.#isReady) return; // it never started: its loads fail with the error, nothing to replace
      this.#replace(
        error.code === 'ERR_WORKER_OUT_OF_MEMORY'
          ? `exceeded the memory limit (${this.options.memoryLimitMb} MB heap per worker)`
          : `crashed its worker: ${messageOf(error)}`,
      );
    });
    worker.on('exit', (code) => {
      if (worker !== this.#worker) return;
      failed(new Error(`its worker exited (code ${code})`));
      if (this.#stopped) this.#onStopped?.();
      else if (this.#isReady) this.#replace(`its worker exited (code ${code})`);
    });
  }

  #post(message: ToWorker): void {
    if (this.#outbox.push(message) === 1) queueMicrotask(this.#send);
  }

  readonly #send = () => {
    const batch = this.#outbox;
    this.#outbox = [];
    // also while stopping: the worker's runtime may still ask for fenced writes as it flushes
    if (batch.length > 0) this.#worker.postMessage(batch);
  };

  /** pings the worker; no answer for timeLimitMs while automation code runs means code that does not yield */
  #watch(): void {
    clearInterval(this.#watchdog);
    const period = Math.max(10, Math.round(this.options.timeLimitMs / 4));
    this.#lastPong = performance.now();
    this.#watchdog = setInterval(() => {
      // a period of slack: module evaluation's own timeout (the same limit) reports first.
      // A silent worker with no automation code marked is busy with the runtime itself, and
      // one waiting for an answer from this thread (a state read from KV) is not looping
      if (
        performance.now() - this.#lastPong > this.options.timeLimitMs + period &&
        Atomics.load(this.#cells, SHARED.current) > 0 &&
        Atomics.load(this.#cells, SHARED.syncFlag) !== 0
      ) {
        this.#replace(`ran for more than ${this.options.timeLimitMs} ms without yielding (time limit)`);
        return;
      }
      this.#post({ t: 'ping', seq: ++this.#pingSeq });
    }, period);
    this.#watchdog.unref();
  }

  #onMessage(message: FromWorker): void {
    switch (message.t) {
      case 'ready':
        this.#isReady = true;
        this.#watch();
        this.#started();
        return;
      case 'start_failed':
        this.#failed(new Error(message.error));
        return;
      case 'pong':
        this.#lastPong = performance.now();
        return;
      case 'loaded':
      case 'load_failed': {
        const resolve = this.#loads.get(message.local);
        this.#loads.delete(message.local);
        resolve?.(message.t === 'loaded' ? (message.id ? { id: message.id } : {}) : { error: message.error });
        return;
      }
      case 'trace':
        this.host.forwarded(message.trace);
        return;
      case 'log':
        this.host.log(message.line, message.data);
        return;
      case 'sync':
        if (message.op === 'now') this.#answerSync(() => this.host.clock.now());
        else {
          const { ref } = message;
          void this.host.stateOf(ref).then(
            (value) => this.#answerSync(() => value),
            (error) =>
              this.#answerSync(() => {
                throw error;
              }),
          );
        }
        return;
      case 'fence': {
        const worker = this.#worker;
        const { callId } = message;
        const fence = this.host.fence;
        void (fence ? fence(message.key, message.state) : Promise.reject(new Error('no leader fence'))).then(
          () => worker === this.#worker && this.#post({ t: 'fenced', callId }),
          (error) => worker === this.#worker && this.#post({ t: 'fenced', callId, error: messageOf(error) }),
        );
        return;
      }
      case 'timer': {
        const { timer } = message;
        this.#timers.set(
          timer,
          this.host.clock.at(message.at, () => {
            this.#timers.delete(timer);
            return new Promise<void>((resolve) => {
              this.#fires.set(timer, resolve);
              this.#post({ t: 'fire', timer });
            });
          }),
        );
        return;
      }
      case 'cancel':
        this.#timers.get(message.timer)?.cancel();
        this.#timers.delete(message.timer);
        return;
      case 'fired':
        this.#fires.get(message.timer)?.();
        this.#fires.delete(message.timer);
        return;
      case 'idle': {
        const resolve = this.#waits.get(message.seq);
        this.#waits.delete(message.seq);
        resolve?.();
        return;
      }
      case 'stopped':
        void this.#worker.terminate();
        return;
    }
  }

  /** the answer to the question the worker blocks on */
  #answerSync(answer: () => unknown): void {
    let reply: { ok: true; value?: unknown } | { ok: false; error: string };
    try {
      reply = { ok: true, value: answer() };
    } catch (error) {
      reply = { ok: false, error: messageOf(error) };
    }
    let bytes = new TextEncoder().encode(JSON.stringify(reply));
    if (bytes.length > SYNC_BYTES)
      bytes = new TextEncoder().encode(JSON.stringify({ ok: false, error: 'answer too large' }));
    this.#answer.set(bytes);
    Atomics.store(this.#cells, SHARED.syncLength, bytes.length);
    Atomics.store(this.#cells, SHARED.syncFlag, 1);
    Atomics.notify(this.#cells, SHARED.syncFlag);
  }

  /** cancels the manual clock's proxies of this worker's timers, and lets a firing in wait go on */
  #dropTimers(): void {
    for (const timer of this.#timers.values()) timer.cancel();
    this.#timers.clear();
    for (const fired of this.#fires.values()) fired();
    this.#fires.clear();
  }

  /** a step of the manual clock, for the worker's time triggers */
  jumped(from: number, to: number): void {
    this.#post({ t: 'jump', from, to });
  }

  /** evaluates a module in this group and adds it to the worker's runtime */
  async load(file: string, fallbackId: string, code: string, taken: string[]): Promise<LoadResult> {
    const local = this.slots.indexOf(undefined);
    const entry: Slot = { file, fallbackId, code };
    this.slots[local] = entry;
    let result: LoadResult;
    try {
      await this.#ready;
      result = await this.#load(local, entry, taken);
    } catch (error) {
      result = { error: `its sandbox worker did not start: ${messageOf(error)}` };
    }
    if ('error' in result || !result.id) this.slots[local] = undefined;
    else entry.id = result.id;
    return result;
  }

  #load(local: number, entry: Slot, taken: string[] = []): Promise<LoadResult> {
    return new Promise((resolve) => {
      this.#loads.set(local, resolve);
      this.#post({
        t: 'load',
        local,
        file: entry.file,
        fallbackId: entry.fallbackId,
        code: entry.code,
        taken,
      });
    });
  }

  /** every reading the worker received before now evaluated, every run ended (in its successor, if replaced meanwhile) */
  async idle(): Promise<void> {
    for (;;) {
      const worker = this.#worker;
      await this.#ready.catch(() => {});
      if (this.#stopped) return;
      const seq = ++this.#waitSeq;
      await new Promise<void>((resolve) => {
        this.#waits.set(seq, resolve);
        this.#post({ t: 'idle', seq });
      });
      if (worker === this.#worker) return;
    }
  }

  /**
   * Stops the worker, names the automation whose code was running, reports the runs in
   * flight, and loads the others again in a new worker.
   */
  #replace(reason: string): void {
    if (this.#stopped) return;
    const culpritLocal = Atomics.load(this.#cells, SHARED.current) - 1;
    const culprit = this.slots[culpritLocal];
    const inFlight = this.slots.map((_, local) => Atomics.load(this.#cells, SHARED.fixed + local));
    clearInterval(this.#watchdog);
    void this.#worker.terminate();
    this.#outbox = []; // meant for the old worker
    this.#dropTimers(); // the new worker sets its own
    const loads = new Map(this.#loads);
    this.#loads.clear();
    const who = culprit ? (culprit.id ?? culprit.fallbackId) : 'unknown code';
    if (culprit) {
      this.slots[culpritLocal] = undefined;
      loads.get(culpritLocal)?.({ error: `stopped at load: ${reason}` });
      loads.delete(culpritLocal);
      if (culprit.id) {
        this.host.report(culprit.id, {
          result: 'error',
          error: `stopped: ${reason}; not run again until the runtime restarts`,
        });
        this.host.report(culprit.id, {
          result: 'error',
          error: `disabled: its code ${reason}; fix it, then restart the runtime`,
        });
      }
    }
    this.slots.forEach((slot, local) => {
      if (!slot?.id) return;
      for (let i = 0; i < (inFlight[local] ?? 0); i++)
        this.host.report(slot.id, { result: 'aborted', error: `its worker was replaced: ${who} ${reason}` });
    });
    this.host.log('sandbox worker replaced', { worker: this.#name, culprit: who, reason });
    const waits = [...this.#waits.values()];
    this.#waits.clear();
    this.#spawn();
    const started = this.#ready;
    // the others again (a load cut short by the culprit is retried); idle waits for them
    this.#ready = (async () => {
      await started;
      for (const [local, slot] of this.slots.entries()) {
        if (!slot) continue;
        const result = await this.#load(local, slot).catch((error) => ({ error: messageOf(error) }));
        const waiting = loads.get(local);
        if (waiting) waiting(result);
        else if ('error' in result || !result.id) {
          this.slots[local] = undefined;
          if (slot.id)
            this.host.report(slot.id, {
              result: 'error',
              error: `disabled: failed to load again after its worker was replaced: ${'error' in result ? result.error : 'refused'}`,
            });
        }
      }
    })();
    this.#ready.catch(() => {});
    for (const resolve of waits) resolve();
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    const ready = await this.#ready.then(
      () => true,
      () => false,
    );
    this.#send();
    this.#stopped = true;
    clearInterval(this.#watchdog);
    this.#dropTimers();
    if (ready) {
      // the worker stops its runtime (runs aborted and traced, KV writes flushed) and exits
      const exited = new Promise<void>((resolve) => {
        this.#onStopped = resolve;
      });
      this.#worker.postMessage([{ t: 'stop' } satisfies ToWorker]);
      const timeout = setTimeout(() => void this.#worker.terminate(), 5000);
      await exited;
      clearTimeout(timeout);
    } else await this.#worker.terminate();
    for (const resolve of this.#waits.values()) resolve();
  }
}

/** Places automations in groups and starts workers as needed. */
export class SandboxPool {
  readonly #groups: SandboxGroup[] = [];
  readonly #unwatchClock: (() => void) | undefined;

  constructor(
    readonly options: SandboxOptions,
    readonly host: SandboxHost,
  ) {
    // a live clock is watched by each worker; a manual one steps here
    if (!host.liveClock)
      this.#unwatchClock = host.clock.onJump?.(({ from, to }) => {
        for (const g of this.#groups) g.jumped(from, to);
      });
  }

  get workers(): number {
    return this.#groups.length;
  }

  get ids(): string[] {
    return this.#groups.flatMap((g) => g.ids);
  }

  has(id: string): boolean {
    return this.#groups.some((g) => g.ids.includes(id));
  }

  /** `taken`: the ids the runtime's thread runs itself (ids are unique across the runtime) */
  async load(file: string, fallbackId: string, code: string, taken: string[]): Promise<LoadResult> {
    const source = await workerSource();
    let group = this.#groups.find((g) => !g.full);
    if (!group) {
      group = new SandboxGroup(this.options, this.host, source);
      this.#groups.push(group);
    }
    return group.load(file, fallbackId, code, [...taken, ...this.ids]);
  }

  async idle(): Promise<void> {
    await Promise.all(this.#groups.map((g) => g.idle()));
  }

  async stop(): Promise<void> {
    this.#unwatchClock?.();
    await Promise.all(this.#groups.map((g) => g.stop()));
    this.#groups.length = 0;
  }
}
