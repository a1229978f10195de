// One NATS connection per process, reconnecting forever: a gateway outlives any
// single nats-server restart.
import { readFile } from 'node:fs/promises';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '../log.js';

export interface BusConnectOptions {
  servers: string | string[];
  credsFile?: string | undefined;
  name: string;
  log?: Logger;
  /** fail fast instead of waiting for a server to appear (CLI commands) */
  waitOnFirstConnect?: boolean;
}

export class BusUnreachableError extends Error {
  override name = 'BusUnreachableError';
}

export async function connectBus(options: BusConnectOptions): Promise<NatsConnection> {
  const servers = (Array.isArray(options.servers) ? options.servers : options.servers.split(','))
    .map((s) => s.trim())
    .filter(Boolean);
  const authenticator = options.credsFile
    ? credsAuthenticator(
        await readFile(options.credsFile).catch((error: Error) => {
          throw new BusUnreachableError(
            `cannot read NATS credentials ${options.credsFile}: ${error.message}`,
            { cause: error },
          );
        }),
      )
    : undefined;
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers,
      name: options.name,
      authenticator,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      reconnectJitter: 100,
      pingInterval: 10_000,
      waitOnFirstConnect: options.waitOnFirstConnect ?? false,
      // a stack trace captured per request costs more than the request on the reading path
      noAsyncTraces: true,
    });
  } catch (error) {
    throw new BusUnreachableError(
      `cannot connect to NATS at ${servers.join(', ')}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const log = options.log;
  if (log) {
    void (async () => {
      for await (const status of nc.status()) {
        if (status.type === 'disconnect')
          log.warn({ server: status.server }, 'NATS disconnected; reconnecting');
        else if (status.type === 'reconnect') log.info({ server: status.server }, 'NATS reconnected');
        else if (status.type === 'error') log.error({ err: status.error }, 'NATS error');
      }
    })();
  }
  return nc;
}
