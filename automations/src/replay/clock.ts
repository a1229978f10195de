// The replay's simulated clock: it moves only when the replay moves it, and after each
// timer it fires it waits until the automation has done what that timer woke it up for,
// so an action is stamped with the time it would have happened at.
import type { Clock, TimerHandle } from '../clock.js';

interface Pending {
  at: number;
  seq: number;
  fn: () => unknown;
}

export class ReplayClock implements Clock {
  #now: number;
  #seq = 0;
  readonly #pending: Pending[] = [];

  constructor(start: number) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  at(at: number, fn: () => unknown): TimerHandle {
    const entry: Pending = { at, seq: this.#seq++, fn };
    this.#pending.push(entry);
    return {
      cancel: () => {
        const i = this.#pending.indexOf(entry);
        if (i >= 0) this.#pending.splice(i, 1);
      },
    };
  }

  /** Fires every timer due up to `to` in time order, calling `settle` after each; never goes back. */
  async advanceTo(to: number, settle: () => Promise<void>): Promise<void> {
    for (;;) {
      let due: Pending | undefined;
      for (const p of this.#pending) {
        if (p.at <= to && (!due || p.at < due.at || (p.at === due.at && p.seq < due.seq))) due = p;
      }
      if (!due) break;
      this.#pending.splice(this.#pending.indexOf(due), 1);
      this.#now = Math.max(this.#now, due.at);
      await due.fn();
      await settle();
    }
    this.#now = Math.max(this.#now, to);
  }
}
