// A deadline on one adapter operation: noble's promises never settle when the
// adapter hangs (a pulled dongle, a stuck HCI command), so every wait is bounded.

/** Settles as `promise` does, or rejects with `onTimeout()` after `ms`; the timer never outlives it. */
export function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(onTimeout()), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}
