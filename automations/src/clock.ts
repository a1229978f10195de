// Every timer of the SDK and runtime goes through a Clock, so tests (and later replay)
// drive time by hand instead of sleeping, and a wall-clock step is noticed.

export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  now(): number;
  /** calls `fn` once the clock reads `at` (ms since the epoch) or later */
  at(at: number, fn: () => unknown): TimerHandle;
}

/**
 * Long timeouts are split into short hops that re-read the wall clock, so a
 * `for: 10m` or a 07:00 alarm fires on time after an NTP step or a suspend,
 * instead of after the monotonic delay setTimeout measures.
 */
const MAX_HOP_MS = 30_000;

export const systemClock: Clock = {
  now: () => Date.now(),
  at(at, fn) {
    let timer: NodeJS.Timeout | undefined;
    const hop = () => {
      const remaining = at - Date.now();
      if (remaining <= 0) {
        timer = undefined;
        fn();
        return;
      }
      timer = setTimeout(hop, Math.min(remaining, MAX_HOP_MS));
      timer.unref();
    };
    hop();
    return {
      cancel: () => {
        if (timer) clearTimeout(timer);
        timer = undefined;
      },
    };
  },
};

interface Pending {
  at: number;
  seq: number;
  fn: () => unknown;
}

/** A clock that moves only when told; timers fire in order, each awaited before the next. */
export class ManualClock implements Clock {
  #now: number;
  #seq = 0;
  #pending: Pending[] = [];
  #waiters: { count: number; resolve: () => void }[] = [];

  constructor(start: number | Date) {
    this.#now = typeof start === 'number' ? start : start.getTime();
  }

  now(): number {
    return this.#now;
  }

  at(at: number, fn: () => unknown): TimerHandle {
    const entry: Pending = { at, seq: this.#seq++, fn };
    this.#pending.push(entry);
    for (const w of [...this.#waiters]) {
      if (this.#pending.length >= w.count) {
        this.#waiters.splice(this.#waiters.indexOf(w), 1);
        w.resolve();
      }
    }
    return {
      cancel: () => {
        const i = this.#pending.indexOf(entry);
        if (i >= 0) this.#pending.splice(i, 1);
      },
    };
  }

  /** timers waiting to fire (for tests that check nothing is left scheduled) */
  get pendingCount(): number {
    return this.#pending.length;
  }

  /** resolves once at least `count` timers wait: work that schedules asynchronously has got there */
  whenPending(count: number): Promise<void> {
    if (this.#pending.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ count, resolve }));
  }

  /** moves forward by `ms`, firing every timer due on the way at its own time */
  advance(ms: number): Promise<void> {
    return this.set(this.#now + ms);
  }

  /** moves to `to`; going backwards (a clock step) fires nothing */
  async set(to: number): Promise<void> {
    for (;;) {
      const due = this.#pending.filter((p) => p.at <= to).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.#pending.splice(this.#pending.indexOf(due), 1);
      this.#now = Math.max(this.#now, due.at);
      await due.fn();
    }
    this.#now = to;
  }
}
