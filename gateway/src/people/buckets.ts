// The people buckets, created like the bus's own (bus/bus.ts): file storage, one
// value per key, replicas as the gateway decides (--nats-replicas), idempotent so
// two nodes or a CLI command starting at once find them in place.
import { type JetStreamClient, StorageType } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';

export interface BucketLayout {
  /** replicas of buckets and the audit stream when they are created (a NATS cluster: 3) */
  replicas?: number;
}

export function openPeopleBucket(
  js: JetStreamClient,
  name: string,
  layout: BucketLayout = {},
  ttlMs = 0,
): Promise<KV> {
  return new Kvm(js).create(name, {
    history: 1,
    storage: StorageType.File,
    ttl: ttlMs,
    replicas: layout.replicas ?? 1,
  });
}
