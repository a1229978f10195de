// Run modes: what happens when a trigger fires while a run is in progress.
import type { Mode } from '../sdk/define.js';

export type Execute<E> = (event: E, signal: AbortSignal) => Promise<void>;

export class ModeRunner<E> {
  readonly #running = new Set<AbortController>();
  readonly #queue: E[] = [];
  readonly #settled = new Set<Promise<void>>();

  constructor(
    readonly mode: Mode,
    readonly max: number,
    readonly execute: Execute<E>,
    /** a firing that will not run, and why */
    readonly skip: (event: E, reason: string) => void,
  ) {}

  submit(event: E): void {
    const reason = this.#refusal();
    if (reason) this.skip(event, reason);
    else if (this.mode === 'queued' && this.#running.size > 0) this.#queue.push(event);
    else {
      if (this.mode === 'restart') {
        for (const run of this.#running) run.abort(new Error('restarted by a new trigger (mode restart)'));
      }
      this.#start(event);
    }
  }

  /** why a new firing cannot run or wait, if it cannot */
  #refusal(): string | undefined {
    const busy = this.#running.size > 0;
    switch (this.mode) {
      case 'single':
        return busy ? 'already running (mode single)' : undefined;
      case 'restart':
        return undefined;
      case 'queued':
        return busy && this.#queue.length + 1 >= this.max ? `queue full (max ${this.max})` : undefined;
      case 'parallel':
        return this.#running.size >= this.max ? `${this.max} runs in progress (max)` : undefined;
    }
  }

  #start(event: E): void {
    const controller = new AbortController();
    this.#running.add(controller);
    const done = this.execute(event, controller.signal)
      .catch(() => {}) // execute records its own errors in the trace
      .finally(() => {
        this.#running.delete(controller);
        this.#settled.delete(done);
        const next = this.#queue.shift();
        if (next !== undefined) this.#start(next);
      });
    this.#settled.add(done);
  }

  /** resolves once nothing is running or queued */
  async idle(): Promise<void> {
    while (this.#settled.size > 0) await Promise.allSettled([...this.#settled]);
  }

  abortAll(reason: string): void {
    this.#queue.length = 0;
    for (const run of this.#running) run.abort(new Error(reason));
  }
}
