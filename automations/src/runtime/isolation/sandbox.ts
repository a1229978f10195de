// Sandbox groups: worker threads that run the code of automations, `groupSize` per
// worker. A worker's heap is capped (resourceLimits) and a watchdog pings it while it
// has work; an automation whose code does not yield for `timeLimitMs`, or runs the
// worker out of memory, is named from the shared buffer, its worker is replaced, and
// the group's other automations are loaded again in the new one (their trigger state
// lives in the main thread and is not lost). The culprit is reported and not reloaded.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { build } from 'esbuild';
import type { Duration } from '../../duration.js';
import type { AutomationStore, CommandReply, EntityRef, StateValue } from '../../sdk/define.js';
import type { NotificationInput } from '../../sdk/notify.js';
import {
  type CallOp,
  type ConditionOutcome,
  type FromWorker,
  SHARED,
  SYNC_BYTES,
  type ToWorker,
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
  liveClock: boolean;
  now: () => number;
}

export const SANDBOX_DEFAULTS = {
  groupSize: 10,
  timeLimitMs: 1000,
  memoryLimitMb: 64,
  maxTimers: 1000,
  maxCalls: 100,
} as const;

/** What a run may ask the main thread for. */
export interface RunServices {
  command(ref: EntityRef, value: StateValue, options?: { action?: string }): Promise<CommandReply>;
  notify(channel: string, notification: NotificationInput): Promise<void>;
  sleep(duration: Duration): Promise<void>;
  store: AutomationStore;
  log(message: string, data?: Record<string, unknown>): void;
}

/** What an automation's code may ask synchronously, and where its console goes. */
export interface SlotHost {
  sync(op: 'state' | 'entity', ref: string): unknown;
  console(line: string): void;
  /** its code was stopped (loop, memory); it will not run again */
  killed(reason: string): void;
}

export interface RunOutcome {
  conditions: ConditionOutcome[];
  result: 'ok' | 'error' | 'aborted' | 'conditions_failed';
  error?: string;
}

let workerCode: Promise<string> | undefined;

/** The worker's code, bundled once per process (from the .ts sources or the compiled .js). */
function workerSource(): Promise<string> {
  workerCode ??= (async () => {
    const here = fileURLToPath(import.meta.url);
    const entry = join(dirname(here), here.endsWith('.ts') ? 'sandbox-worker.ts' : 'sandbox-worker.js');
    const out = await build({
      entryPoints: [entry],
      bundle: true,
      write: false,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      logLevel: 'silent',
    });
    return out.outputFiles[0]!.text;
  })();
  return workerCode;
}

interface Slot {
  slot: number;
  file: string;
  code: string;
  host: SlotHost;
  id?: string;
}

interface ActiveRun {
  slot: number;
  services: RunServices;
  resolve: (outcome: RunOutcome) => void;
}

const messageOf = (error: unknown) =>
  error && typeof error === 'object' && 'message' in error ? String(error.message) : String(error);

class SandboxGroup {
  readonly slots = new Map<number, Slot>();
  #worker!: Worker;
  #cells!: Int32Array;
  #answer!: Uint8Array;
  #loads = new Map<number, (result: { definition: string } | { error: string }) => void>();
  #runs = new Map<number, ActiveRun>();
  #watchdog?: NodeJS.Timeout;
  #pingSeq = 0;
  #lastPong = 0;
  #stopped = false;
  /** replacing a worker: new runs wait for the group to be loaded again */
  #ready: Promise<void> | undefined;
  /** messages posted in this task, sent together at its end (one wake-up of the worker per burst) */
  #outbox: ToWorker[] = [];

  constructor(
    readonly options: SandboxOptions,
    readonly source: string,
  ) {
    this.#spawn();
  }

  get full(): boolean {
    return this.slots.size >= this.options.groupSize;
  }

  #spawn(): void {
    const shared = new SharedArrayBuffer(SHARED.header + SYNC_BYTES);
    this.#cells = new Int32Array(shared, 0, SHARED.header / 4);
    this.#answer = new Uint8Array(shared, SHARED.header);
    const init: WorkerInit = {
      shared,
      liveClock: this.options.liveClock,
      loadTimeoutMs: this.options.timeLimitMs,
      maxTimers: this.options.maxTimers,
      maxCalls: this.options.maxCalls,
    };
    const worker = new Worker(this.source, {
      eval: true,
      workerData: init,
      // nothing of the runtime's environment (credentials paths, tokens) reaches automation code
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
    this.#lastPong = performance.now();
    worker.on('message', (batch: FromWorker[]) => {
      for (const message of batch) this.#onMessage(message);
    });
    worker.on('error', (error: Error & { code?: string }) => {
      if (worker !== this.#worker) return;
      this.#replace(
        error.code === 'ERR_WORKER_OUT_OF_MEMORY'
          ? `exceeded the memory limit (${this.options.memoryLimitMb} MB heap per worker)`
          : `crashed its worker: ${messageOf(error)}`,
      );
    });
    worker.on('exit', (code) => {
      if (worker !== this.#worker || this.#stopped) return;
      this.#replace(`its worker exited (code ${code})`);
    });
  }

  #post(message: ToWorker): void {
    if (this.#outbox.push(message) === 1) queueMicrotask(this.#send);
  }

  readonly #send = () => {
    const batch = this.#outbox;
    this.#outbox = [];
    if (batch.length > 0 && !this.#stopped) this.#worker.postMessage(batch);
  };

  #busy(): boolean {
    return this.#runs.size > 0 || this.#loads.size > 0;
  }

  /** pings while the worker has work; no answer for timeLimitMs means code that does not yield */
  #watch(): void {
    if (this.#watchdog || this.#stopped) return;
    const period = Math.max(10, Math.round(this.options.timeLimitMs / 4));
    this.#lastPong = performance.now();
    this.#watchdog = setInterval(() => {
      if (!this.#busy()) {
        clearInterval(this.#watchdog);
        this.#watchdog = undefined;
        return;
      }
      // a period of slack: module evaluation's own timeout (the same limit) reports first
      if (performance.now() - this.#lastPong > this.options.timeLimitMs + period) {
        this.#replace(`ran for more than ${this.options.timeLimitMs} ms without yielding (time limit)`);
        return;
      }
      this.#post({ t: 'ping', seq: ++this.#pingSeq });
    }, period);
    this.#watchdog.unref();
  }

  #onMessage(message: FromWorker): void {
    switch (message.t) {
      case 'pong':
        this.#lastPong = performance.now();
        return;
      case 'loaded':
      case 'load_failed': {
        const resolve = this.#loads.get(message.slot);
        this.#loads.delete(message.slot);
        resolve?.(message.t === 'loaded' ? { definition: message.definition } : { error: message.error });
        return;
      }
      case 'console':
        this.slots.get(message.slot)?.host.console(message.line);
        return;
      case 'sync': {
        let reply: { ok: true; value?: unknown } | { ok: false; error: string };
        try {
          const host = this.slots.get(message.slot)?.host;
          if (!host) throw new Error('unknown automation');
          reply = { ok: true, value: host.sync(message.op, message.ref) };
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
        return;
      }
      case 'call':
        void this.#call(message.runId, message.callId, message.op, message.args);
        return;
      case 'done': {
        const run = this.#runs.get(message.runId);
        this.#runs.delete(message.runId);
        run?.resolve({
          conditions: message.conditions,
          result: message.result,
          ...(message.error !== undefined ? { error: message.error } : {}),
        });
        return;
      }
    }
  }

  async #call(runId: number, callId: number, op: CallOp, argsJson: string): Promise<void> {
    const run = this.#runs.get(runId);
    const worker = this.#worker;
    let reply: ToWorker;
    try {
      if (!run) throw new Error('this run has ended');
      const args = JSON.parse(argsJson) as unknown[];
      const s = run.services;
      let value: unknown;
      switch (op) {
        case 'command':
          value = await s.command(args[0] as string, args[1] as StateValue, args[2] as { action?: string });
          break;
        case 'notify':
          await s.notify(args[0] as string, args[1] as NotificationInput);
          break;
        case 'sleep':
          await s.sleep(args[0] as Duration);
          break;
        case 'store_get':
          value = await s.store.get(args[0] as string);
          break;
        case 'store_set':
          await s.store.set(args[0] as string, args[1]);
          break;
        case 'store_delete':
          await s.store.delete(args[0] as string);
          break;
        case 'log':
          s.log(args[0] as string, args[1] as Record<string, unknown> | undefined);
          break;
      }
      reply = {
        t: 'reply',
        callId,
        ok: true,
        ...(value !== undefined ? { value: JSON.stringify(value) } : {}),
        now: this.options.now(),
      };
    } catch (error) {
      reply = { t: 'reply', callId, ok: false, error: messageOf(error), now: this.options.now() };
    }
    if (worker === this.#worker && !this.#stopped) this.#post(reply);
  }

  /** evaluates a module in this group; the default export as JSON (functions as {"__fn": name}) */
  async load(
    slot: number,
    file: string,
    code: string,
    host: SlotHost,
  ): Promise<{ definition: string } | { error: string }> {
    if (this.#ready) await this.#ready;
    const entry: Slot = { slot, file, code, host };
    this.slots.set(slot, entry);
    const result = await this.#load(entry);
    if ('error' in result) this.slots.delete(slot);
    return result;
  }

  #load(entry: Slot): Promise<{ definition: string } | { error: string }> {
    return new Promise((resolve) => {
      this.#loads.set(entry.slot, resolve);
      this.#watch();
      this.#post({
        t: 'load',
        slot: entry.slot,
        file: entry.file,
        code: entry.code,
        now: this.options.now(),
      });
    });
  }

  setId(slot: number, id: string): void {
    const entry = this.slots.get(slot);
    if (entry) entry.id = id;
  }

  unload(slot: number): void {
    if (!this.slots.delete(slot)) return;
    if (!this.#stopped) this.#post({ t: 'unload', slot });
  }

  async run(slot: number, trigger: unknown, services: RunServices, signal: AbortSignal): Promise<RunOutcome> {
    if (this.#ready) await this.#ready; // not otherwise: the post goes out in this task's batch

    if (!this.slots.has(slot))
      return { conditions: [], result: 'error', error: 'the automation was stopped' };
    const runId = ++runSeq;
    return new Promise<RunOutcome>((resolve) => {
      const onAbort = () =>
        this.#post({ t: 'abort', runId, reason: messageOf(signal.reason), now: this.options.now() });
      signal.addEventListener('abort', onAbort, { once: true });
      this.#runs.set(runId, {
        slot,
        services,
        resolve: (outcome) => {
          signal.removeEventListener('abort', onAbort);
          resolve(outcome);
        },
      });
      this.#watch();
      this.#post({ t: 'run', slot, runId, trigger: JSON.stringify(trigger), now: this.options.now() });
    });
  }

  /**
   * Stops the worker, names the automation whose code was running, ends every run and
   * load in flight with the reason, and loads the others again in a new worker.
   */
  #replace(reason: string): void {
    if (this.#stopped) return;
    const culpritSlot = Atomics.load(this.#cells, SHARED.current) - 1;
    const culprit = this.slots.get(culpritSlot);
    const old = this.#worker;
    clearInterval(this.#watchdog);
    this.#watchdog = undefined;
    void old.terminate();
    if (culprit) this.slots.delete(culpritSlot);
    const who = culprit ? (culprit.id ?? culprit.file) : 'unknown code';
    const runs = [...this.#runs.values()];
    const loads = [...this.#loads.entries()];
    this.#runs.clear();
    this.#loads.clear();
    for (const run of runs) {
      run.resolve(
        run.slot === culpritSlot
          ? {
              conditions: [],
              result: 'error',
              error: `stopped: ${reason}; not run again until the runtime restarts`,
            }
          : { conditions: [], result: 'aborted', error: `its worker was replaced: ${who} ${reason}` },
      );
    }
    for (const [slot, resolve] of loads) {
      if (slot === culpritSlot) resolve({ error: `stopped at load: ${reason}` });
    }
    culprit?.host.killed(reason);
    this.#outbox = []; // meant for the old worker
    this.#spawn();
    // the others, again (loads that were cut short by the culprit are retried too)
    const again = [...this.slots.values()];
    const pendingLoads = new Map(loads);
    const reloaded = { ready: undefined as Promise<void> | undefined };
    reloaded.ready = (async () => {
      for (const entry of again) {
        const result = await this.#load(entry);
        const waiting = pendingLoads.get(entry.slot);
        if (waiting) waiting(result);
        else if ('error' in result) entry.host.killed(`failed to load again: ${result.error}`);
      }
      if (this.#ready === reloaded.ready) this.#ready = undefined;
    })();
    this.#ready = reloaded.ready;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#watchdog);
    for (const run of this.#runs.values())
      run.resolve({ conditions: [], result: 'aborted', error: 'the runtime is stopping' });
    this.#runs.clear();
    await this.#worker.terminate();
  }
}

let runSeq = 0;

/** Places automations in groups and starts workers as needed. */
export class SandboxPool {
  readonly #groups: SandboxGroup[] = [];
  #slotSeq = 0;

  constructor(readonly options: SandboxOptions) {}

  get workers(): number {
    return this.#groups.length;
  }

  async load(file: string, code: string, host: SlotHost) {
    const source = await workerSource();
    let group = this.#groups.find((g) => !g.full);
    if (!group) {
      group = new SandboxGroup(this.options, source);
      this.#groups.push(group);
    }
    const slot = ++this.#slotSeq;
    const result = await group.load(slot, file, code, host);
    return { slot, group, result };
  }

  async stop(): Promise<void> {
    await Promise.all(this.#groups.map((g) => g.stop()));
    this.#groups.length = 0;
  }
}

export type { SandboxGroup };
