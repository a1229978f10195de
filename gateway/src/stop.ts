// The gateway's stop: its steps in order against one overall deadline, so that SIGTERM
// ends the process within the contract's 5 s whatever state NATS is in. Each step that
// waits on NATS (a lock release, a node record removed, a device marked offline, the
// drain) has its own timeout; run one after another while NATS is away they added up
// to 10–17 s. Here every step still starts, in order (the local part of a step —
// closing sockets, failing pending commands — happens at once), but is waited for only
// while the shared budget lasts, and steps that need the bus are not waited for at all
// while the bus is down. Nothing acknowledged is lost by cutting a wait short: a reading
// is acknowledged to a device only once JetStream stored it, and what is still waiting
// when the deadline comes was never acknowledged.
import type { Logger } from './log.js';

export interface StopStepOptions {
  /** for the log, when the step is cut short or fails */
  name?: string;
  /** waits on NATS: not waited for while the bus is down */
  bus?: boolean;
  /** bounds its own wait (closing NATS, stopping nats-server): waited for even past the deadline */
  final?: boolean;
}

/** A step; `deadline` is the performance.now() time by which the whole stop should be done. */
export type StopStep = (deadline: number) => Promise<unknown> | unknown;

export interface StopSequenceOptions {
  log: Logger;
  /** how long the whole stop may wait, in ms */
  budgetMs: number;
  /** whether the NATS connection is up (a step that needs it cannot finish otherwise) */
  busUp: () => boolean;
}

export class StopSequence {
  readonly #steps: { run: StopStep; options: StopStepOptions }[] = [];
  #running: Promise<void> | undefined;

  constructor(private readonly o: StopSequenceOptions) {}

  /** Adds a step; steps run in the reverse order of adding (what started last stops first). */
  push(run: StopStep, options: StopStepOptions = {}): void {
    this.#steps.push({ run, options });
  }

  /** Runs every step once; a second call waits for the first. */
  run(): Promise<void> {
    this.#running ??= this.#run();
    return this.#running;
  }

  async #run(): Promise<void> {
    const deadline = performance.now() + this.o.budgetMs;
    const steps = this.#steps.splice(0).reverse();
    for (const { run, options: step } of steps) {
      let work: Promise<unknown>;
      try {
        work = Promise.resolve(run(deadline));
      } catch (error) {
        work = Promise.reject(error);
      }
      const settled = work.catch((error: unknown) => {
        this.o.log.warn({ err: error, step: step.name }, 'error while stopping');
      });
      const left = step.final
        ? Number.POSITIVE_INFINITY
        : step.bus && !this.o.busUp()
          ? 0
          : deadline - performance.now();
      if (!(await settlesWithin(settled, left))) {
        this.o.log.warn(
          { step: step.name, bus_up: this.o.busUp() },
          'stop step not done in time; going on without it',
        );
      }
    }
  }
}

/** True when the promise settled within `ms` (it goes on either way). */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  if (ms === Number.POSITIVE_INFINITY) return promise.then(() => true);
  if (ms <= 0) {
    // what settles in this turn (a step with nothing to wait for) counts as done
    return Promise.race([
      promise.then(() => true),
      new Promise<boolean>((r) => setImmediate(() => r(false))),
    ]);
  }
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.then(() => true),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
