// The keys of a KV bucket, read from its stream's subject list in one request.
// nats.js's `kv.keys()` walks an ordered push consumer and stops when it sees
// `pending === 0`; a write to the bucket while it walks can leave it waiting for
// that forever (seen with two gateway nodes using one onboarding link at once).
// The subject list has no such race; it may name deleted keys, which every
// caller reads anyway and skips.
import { Bucket, type KV } from '@nats-io/kv';

export async function bucketKeys(kv: KV): Promise<string[]> {
  // every bucket here comes from Kvm; falling back to kv.keys() would bring the race back
  if (!(kv instanceof Bucket)) throw new TypeError('bucketKeys needs a bucket opened with Kvm');
  const info = await kv.jsm.streams.info(kv.stream, { subjects_filter: `${kv.prefix}.>` });
  const start = kv.prefix.length + 1;
  return Object.keys(info.state.subjects ?? {}).map((subject) => subject.slice(start));
}
