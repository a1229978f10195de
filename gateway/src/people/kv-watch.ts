// Follows a KV bucket like bus/mirror.ts, but hands over each entry's revision:
// people stores write back (last_seen, last_used) with compare-and-set on it, so
// a write-back can never bring a revoked session or token back to life.
import type { KV } from '@nats-io/kv';

export interface FollowedEntry {
  key: string;
  revision: number;
  /** parsed JSON of a put; undefined for a delete, a purge or a value that is not JSON */
  value: unknown;
  operation: 'PUT' | 'DEL' | 'PURGE';
}

/** Resolves once every current key was delivered; returns the stop function. */
export async function followBucket(kv: KV, handle: (entry: FollowedEntry) => void): Promise<() => void> {
  const watch = await kv.watch();
  let resolveInitial: () => void = () => {};
  const initial = new Promise<void>((resolve) => {
    resolveInitial = resolve;
  });
  // an empty bucket delivers nothing to wait for
  if ((await kv.status()).values === 0) resolveInitial();
  void (async () => {
    for await (const entry of watch) {
      let value: unknown;
      if (entry.operation === 'PUT') {
        try {
          value = entry.json();
        } catch {
          value = undefined;
        }
      }
      handle({ key: entry.key, revision: entry.revision, value, operation: entry.operation });
      if (entry.delta === 0) resolveInitial();
    }
  })();
  await initial;
  return () => watch.stop();
}

/** The value of a KV entry as JSON, or undefined (missing, deleted, not JSON). */
export async function readJson(
  kv: KV,
  key: string,
): Promise<{ value: unknown; revision: number } | undefined> {
  const entry = await kv.get(key);
  if (entry?.operation !== 'PUT') return undefined;
  try {
    return { value: entry.json(), revision: entry.revision };
  } catch {
    return { value: undefined, revision: entry.revision };
  }
}
