// Every timer of the SDK and runtime goes through a Clock, so tests (and later replay)
// drive time by hand instead of sleeping, and a wall-clock step is noticed.

export interface TimerHandle {
  cancel(): void;
}

/** A step of the wall clock (NTP, a suspend, someone setting the time): where it was, where it is. */
export interface ClockJump {
  from: number;
  to: number;
}

export interface Clock {
  now(): number;
  /** calls `fn` once the clock reads `at` (ms since the epoch) or later */
  at(at: number, fn: () => unknown): TimerHandle;
  /** tells `listener` of each jump of the clock; returns the unsubscribe */
  onJump?(listener: (jump: ClockJump) => void): () => void;
}

/** Steps smaller than this are timer lateness on a busy machine, not a jump. */
export const JUMP_TOLERANCE_MS = 2000;
/** How often the system clock is compared with the monotonic one. */
const JUMP_CHECK_MS = 1000;

const jumpListeners = new Set<(jump: ClockJump) => void>();
let jumpMonitor: NodeJS.Timeout | undefined;

/** Compares the wall clock with the monotonic clock each second: a change of their offset is a step. */
function watchSystemJumps(): void {
  let offset = Date.now() - performance.now();
  jumpMonitor = setInterval(() => {
    const now = Date.now();
    const next = now - performance.now();
    if (Math.abs(next - offset) >= JUMP_TOLERANCE_MS) {
      const jump = { from: now - (next - offset), to: now };
      for (const listener of [...jumpListeners]) listener(jump);
    }
    offset = next;
  }, JUMP_CHECK_MS);
  jumpMonitor.unref();
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
  onJump(listener) {
    jumpListeners.add(listener);
    if (!jumpMonitor) watchSystemJumps();
    return () => {
      jumpListeners.delete(listener);
      if (jumpListeners.size === 0) {
        clearInterval(jumpMonitor);
        jumpMonitor = undefined;
      }
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
  readonly #jumpListeners = new Set<(jump: ClockJump) => void>();

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

  onJump(listener: (jump: ClockJump) => void): () => void {
    this.#jumpListeners.add(listener);
    return () => this.#jumpListeners.delete(listener);
  }

  /**
   * A step of the clock to `to` (an NTP correction, a suspend): listeners are told, then
   * every timer due by `to` fires once, all at `to` (nothing in between happened).
   */
  async jump(to: number): Promise<void> {
    const jump = { from: this.#now, to };
    this.#now = to;
    for (const listener of [...this.#jumpListeners]) listener(jump);
    await this.#fireDue(to);
  }

  async #fireDue(to: number): Promise<void> {
    for (;;) {
      const due = this.#pending.filter((p) => p.at <= to).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) return;
      this.#pending.splice(this.#pending.indexOf(due), 1);
      this.#now = Math.max(this.#now, due.at);
      await due.fn();
    }
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

  /** moves to `to`, time passing normally; going backwards is a step (see jump) and fires nothing */
  async set(to: number): Promise<void> {
    if (to < this.#now) return this.jump(to);
    await this.#fireDue(to);
    this.#now = to;
  }
}
