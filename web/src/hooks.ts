// Preact hooks over the stores.

import { useEffect, useState } from 'preact/hooks';
import type { Store } from './store.js';

export function useStore<T>(store: Store<T>): T {
  const [value, setValue] = useState(store.get());
  useEffect(() => {
    setValue(store.get());
    return store.subscribe(setValue);
  }, [store]);
  return value;
}

/** The time, refreshed every `everyMs`, for "3 min ago" and staleness. */
export function useNow(everyMs = 10_000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  return now;
}

/** Sets the document title for a page. */
export function useTitle(title: string): void {
  useEffect(() => {
    document.title = title ? `${title} · Sentinel Edge` : 'Sentinel Edge';
  }, [title]);
}

/** A GET repeated every `everyMs` (small status documents that the live feed does not carry). */
export function usePoll<T>(
  load: () => Promise<T>,
  everyMs: number,
  key = '',
): { data?: T; error?: unknown; reload(): void } {
  const [data, setData] = useState<T | undefined>();
  const [error, setError] = useState<unknown>();
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let current = true;
    const run = () =>
      load()
        .then((d) => {
          if (!current) return;
          setData(d);
          setError(undefined);
        })
        .catch((e: unknown) => current && setError(e));
    void run();
    const timer = everyMs > 0 ? setInterval(run, everyMs) : undefined;
    return () => {
      current = false;
      clearInterval(timer);
    };
  }, [key, tick]);
  return { data, error, reload: () => setTick((t) => t + 1) };
}
