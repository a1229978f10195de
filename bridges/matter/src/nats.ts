// The matter server's NATS side: the connection (with the matter credential) and the two
// KV buckets it uses, the controller's own (MATTER_BUCKET) and the leader locks'. The lock
// itself belongs to the gateway (sentinel_locks); the caller runs it on the bucket opened here.
import { readFile } from 'node:fs/promises';
import { type KV, Kvm } from '@nats-io/kv';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { MATTER_BUCKET } from './controller/nats-storage.js';

export const LOCKS_BUCKET = 'sentinel_locks';

export interface MatterBus {
  readonly nc: NatsConnection;
  /** the controller's state (natsStorage) */
  readonly store: KV;
  readonly locks: KV;
  close(): Promise<void>;
}

/** A failure to reach NATS or its buckets, with what to do about it. */
export class MatterBusError extends Error {
  override name = 'MatterBusError';
}

export interface MatterBusOptions {
  /** one or more NATS URLs, comma-separated */
  readonly servers: string;
  readonly credsFile?: string;
  /** max_age of the locks bucket should this process create it: the leader lease */
  readonly lockTtlMs: number;
}

export async function openMatterBus(options: MatterBusOptions): Promise<MatterBus> {
  let creds: Uint8Array | undefined;
  if (options.credsFile !== undefined) {
    creds = await readFile(options.credsFile).catch((error: Error) => {
      throw new MatterBusError(`cannot read NATS credentials ${options.credsFile}: ${error.message}`);
    });
  }
  const nc = await connect({
    servers: options.servers.split(',').map((s) => s.trim()),
    name: 'sentinel-matter-server',
    ...(creds ? { authenticator: credsAuthenticator(creds) } : {}),
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
  }).catch((error: Error) => {
    throw new MatterBusError(
      `cannot connect to NATS at ${options.servers}: ${error.message}; is nats-server running?`,
    );
  });
  const kvm = new Kvm(nc);
  const bucket = async (name: string, ttl: number) => {
    try {
      const kv = await kvm.open(name);
      await kv.status(); // open() alone does not notice a missing bucket
      return kv;
    } catch {
      // the first start on this NATS; where a gateway ran first, it made them
      // (history: a corrupted record can be restored from its previous revision)
      return kvm.create(name, { history: 5, ttl });
    }
  };
  try {
    const [store, locks] = await Promise.all([
      bucket(MATTER_BUCKET, 0),
      bucket(LOCKS_BUCKET, options.lockTtlMs),
    ]);
    return {
      nc,
      store,
      locks,
      close: () => nc.drain().catch(() => nc.close()),
    };
  } catch (error) {
    await nc.close();
    throw new MatterBusError(
      `cannot open the KV buckets ${MATTER_BUCKET} and ${LOCKS_BUCKET}: ${(error as Error).message}; ` +
        'start a gateway on this NATS first (it creates them), or use a credential allowed to',
    );
  }
}
