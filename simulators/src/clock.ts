// Time as a value: the device reads the time and schedules work only through a
// Clock, so tests can drive it by hand (manualClock) instead of sleeping.

/** Cancels a scheduled callback; calling it twice, or after it ran, is harmless. */
export type Cancel = () => void;

export interface Clock {
  /** milliseconds since the Unix epoch */
  now(): number;
  /** runs `callback` once after `ms` milliseconds */
  schedule(ms: number, callback: () => void): Cancel;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  schedule(ms, callback) {
    const timer = setTimeout(callback, ms);
    return () => clearTimeout(timer);
  },
};

/** A clock that only moves when told to; for unit tests of timing logic. */
export interface ManualClock extends Clock {
  /** moves time forward, running every callback that falls due, in order */
  advance(ms: number): void;
  /** how many callbacks are waiting */
  readonly pending: number;
}

export function manualClock(start = 1_700_000_000_000): ManualClock {
  let now = start;
  let nextId = 0;
  const timers = new Map<number, { due: number; callback: () => void }>();
  return {
    now: () => now,
    schedule(ms, callback) {
      const id = nextId++;
      timers.set(id, { due: now + Math.max(0, ms), callback });
      return () => timers.delete(id);
    },
    advance(ms) {
      const end = now + ms;
      for (;;) {
        // the earliest due timer first; ids break ties so scheduling order is kept
        let first: [number, { due: number; callback: () => void }] | undefined;
        for (const entry of timers) {
          if (entry[1].due <= end && (!first || entry[1].due < first[1].due)) first = entry;
        }
        if (!first) break;
        timers.delete(first[0]);
        now = first[1].due;
        first[1].callback();
      }
      now = end;
    },
    get pending() {
      return timers.size;
    },
  };
}
