// Awaiting one event of a typed EventEmitter, with a predicate and a deadline, so
// tests and tools wait for what happens instead of sleeping.
import type { EventEmitter } from 'node:events';

export class EventTimeoutError extends Error {
  override name = 'EventTimeoutError';
}

export interface WaitForEventOptions<Args extends unknown[]> {
  /** only an emission whose arguments pass this counts */
  filter?: (...args: Args) => boolean;
  /** reject after this long (default 5000 ms) */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** Resolves with the arguments of the next matching emission of `event`. */
export function waitForEvent<T extends Record<keyof T, unknown[]>, K extends keyof T & string>(
  emitter: EventEmitter<T>,
  event: K,
  options: WaitForEventOptions<T[K]> = {},
): Promise<T[K]> {
  const { filter, timeoutMs = 5000, signal } = options;
  // The generic EventEmitter's listener type is too clever to name here; this view is exact
  // for the one event we touch.
  const target = emitter as unknown as {
    on(event: K, listener: (...args: T[K]) => void): void;
    off(event: K, listener: (...args: T[K]) => void): void;
  };
  return new Promise<T[K]>((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      target.off(event, listener);
      signal?.removeEventListener('abort', onAbort);
    };
    const listener = (...args: T[K]) => {
      if (filter && !filter(...args)) return;
      done();
      resolve(args);
    };
    const onAbort = () => {
      done();
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      done();
      reject(new EventTimeoutError(`no "${event}" event within ${timeoutMs} ms`));
    }, timeoutMs);
    target.on(event, listener);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
