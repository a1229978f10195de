// Follows a KV bucket: delivers every current key, resolves once they are all in,
// then keeps delivering changes (puts by other nodes or the platform, deletes).
import type { KV } from '@nats-io/kv';

export interface FollowedEntry {
  key: string;
  /** the entry's revision: stores that write back with compare-and-set on it need it */
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

/** `value` is the parsed JSON of a put, or undefined for a delete/purge or a value that is not JSON. */
export type MirrorHandler = (key: string, value: unknown, operation: 'PUT' | 'DEL' | 'PURGE') => void;

export function mirrorBucket(kv: KV, handle: MirrorHandler): Promise<() => void> {
  return followBucket(kv, (entry) => handle(entry.key, entry.value, entry.operation));
}
