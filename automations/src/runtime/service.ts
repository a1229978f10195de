// The runtime as a process: connect with the automations credential, start, load a
// directory, stop cleanly. The CLI wraps this in the `automations` leader lock (the
// lock lives in the gateway, which this package does not import).
import { readFile } from 'node:fs/promises';
import { Kvm } from '@nats-io/kv';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import type { WorkerConnection } from './isolation/protocol.js';
import { AutomationRuntime, type RuntimeOptions } from './runtime.js';

export class RuntimeBusError extends Error {
  override name = 'RuntimeBusError';
}

/**
 * One connection, reconnecting forever: the runtime outlives a nats-server restart. Its
 * sandbox workers connect the same way with `connection` (the runtime's options).
 */
export async function connectRuntimeBus(
  servers: string,
  credsFile?: string,
): Promise<{ nc: NatsConnection; connection: WorkerConnection }> {
  let creds: Uint8Array | undefined;
  if (credsFile) {
    creds = await readFile(credsFile).catch((error: Error) => {
      throw new RuntimeBusError(`cannot read NATS credentials ${credsFile}: ${error.message}`);
    });
  }
  const connection: WorkerConnection = {
    servers: servers.split(',').map((s) => s.trim()),
    ...(creds ? { creds } : {}),
  };
  try {
    const nc = await connect({
      servers: connection.servers,
      name: 'sentinel-automations',
      ...(creds ? { authenticator: credsAuthenticator(creds) } : {}),
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      noAsyncTraces: true,
    });
    return { nc, connection };
  } catch (error) {
    throw new RuntimeBusError(`cannot connect to NATS at ${servers}: ${(error as Error).message}`);
  }
}

export interface ServiceOptions extends Omit<RuntimeOptions, 'nc'> {
  dir: string;
}

/** Starts a runtime on `nc` and loads every automation of `dir`; failures are traces, not throws. */
export async function startAutomationService(nc: NatsConnection, options: ServiceOptions) {
  // a process's traces are read from KV and the trace subject, not from its memory: 100 per
  // automation kept here were 10,000 objects aging into the old generation at 1,000 runs/s
  const runtime = await AutomationRuntime.start({ traceLimit: 0, ...options, nc });
  const ids = await runtime.loadDirectory(options.dir);
  return { runtime, ids, stop: () => runtime.stop() };
}

/** A KV bucket by name (the CLI opens the leader-lock bucket with it). */
export function openBucket(nc: NatsConnection, bucket: string) {
  return new Kvm(nc).open(bucket);
}
