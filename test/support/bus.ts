// Small awaitables over a real NATS connection for tests: no sleeps, only events.

import { readFileSync } from 'node:fs';
import { Kvm } from '@nats-io/kv';
import { connect, credsAuthenticator, type NatsConnection, type Subscription } from '@nats-io/transport-node';

/** `credsFile`: for a locked server, e.g. a gateway's embedded one (CliGateway.natsCreds). */
export async function connectTestBus(url: string, credsFile?: string): Promise<NatsConnection> {
  return connect({
    servers: url,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 100,
    waitOnFirstConnect: true,
    ...(credsFile ? { authenticator: credsAuthenticator(readFileSync(credsFile)) } : {}),
  });
}

/**
 * Collects JSON messages on a subject; `next(predicate)` resolves with the first match (already received or future).
 * Resolves once the server has the subscription, so nothing published afterwards can be missed.
 */
export async function collect<T = Record<string, unknown>>(nc: NatsConnection, subject: string) {
  const received: T[] = [];
  const waiters: { predicate: (m: T) => boolean; resolve: (m: T) => void }[] = [];
  const sub: Subscription = nc.subscribe(subject, {
    callback: (_error, msg) => {
      const message = msg.json<T>();
      received.push(message);
      for (const waiter of [...waiters]) {
        if (waiter.predicate(message)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(message);
        }
      }
    },
  });
  await nc.flush();
  return {
    received,
    next(predicate: (m: T) => boolean = () => true, timeoutMs = 10_000): Promise<T> {
      const found = received.find(predicate);
      if (found) return Promise.resolve(found);
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no message on ${subject} matched within ${timeoutMs} ms`)),
          timeoutMs,
        );
        waiters.push({
          predicate,
          resolve: (m) => {
            clearTimeout(timer);
            resolve(m);
          },
        });
      });
    },
    /** resolves once `count` messages have arrived */
    count(count: number, timeoutMs = 10_000): Promise<T[]> {
      let seen = 0; // next() offers every message, past and future, to the predicate once
      return received.length >= count
        ? Promise.resolve(received)
        : this.next(() => ++seen >= count, timeoutMs).then(() => received);
    },
    stop: () => sub.unsubscribe(),
  };
}

/** Waits until a KV key holds a value that satisfies the predicate (a watch, not polling). */
export async function kvValue<T>(
  nc: NatsConnection,
  bucket: string,
  key: string,
  predicate: (v: T) => boolean = () => true,
  timeoutMs = 10_000,
): Promise<T> {
  const kv = await new Kvm(nc).open(bucket);
  const watch = await kv.watch({ key });
  const timer = setTimeout(() => watch.stop(), timeoutMs);
  try {
    for await (const entry of watch) {
      if (entry.operation !== 'PUT') continue;
      const value = entry.json<T>();
      if (predicate(value)) return value;
    }
  } finally {
    clearTimeout(timer);
    watch.stop();
  }
  throw new Error(`KV ${bucket}/${key} did not reach the expected value within ${timeoutMs} ms`);
}

/** Every value in a KV bucket. */
export async function kvAll<T>(nc: NatsConnection, bucket: string): Promise<Map<string, T>> {
  const kv = await new Kvm(nc).open(bucket);
  const all = new Map<string, T>();
  for await (const key of await kv.keys()) {
    const entry = await kv.get(key);
    if (entry?.operation === 'PUT') all.set(key, entry.json<T>());
  }
  return all;
}

/** The entity ids bound to a device, by the device's key (`{temperature: "0190…"}`). */
export async function entityIdsOf(nc: NatsConnection, deviceId: string): Promise<Record<string, string>> {
  const entities = await kvAll<{ id: string; bindings: { device_id: string; key: string }[] }>(
    nc,
    'sentinel_entities',
  );
  const ids: Record<string, string> = {};
  for (const entity of entities.values()) {
    for (const b of entity.bindings) if (b.device_id === deviceId) ids[b.key] = entity.id;
  }
  return ids;
}
