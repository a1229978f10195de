// Reads one KV entry as JSON with its revision: people stores write back (last_seen,
// last_used) with compare-and-set on it, so a write-back can never bring a revoked
// session or token back to life. (Following a whole bucket: bus/mirror.ts.)
import type { KV } from '@nats-io/kv';

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
