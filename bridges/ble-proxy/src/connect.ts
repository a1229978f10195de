// The proxy's NATS connection: reconnects forever (a Pi Zero outlives any
// server restart), with an optional credentials file scoped to its own subjects.
import { readFile } from 'node:fs/promises';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';

export class ProxyConnectError extends Error {
  override name = 'ProxyConnectError';
}

export async function connectProxy(options: {
  servers: string;
  credsFile?: string | undefined;
  name: string;
}): Promise<NatsConnection> {
  const servers = options.servers
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const authenticator = options.credsFile
    ? credsAuthenticator(
        await readFile(options.credsFile).catch((error: Error) => {
          throw new ProxyConnectError(`cannot read NATS credentials ${options.credsFile}: ${error.message}`, {
            cause: error,
          });
        }),
      )
    : undefined;
  try {
    return await connect({
      servers,
      name: options.name,
      authenticator,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      reconnectJitter: 500,
      pingInterval: 10_000,
      waitOnFirstConnect: true,
    });
  } catch (error) {
    throw new ProxyConnectError(
      `cannot connect to NATS at ${servers.map(withoutPassword).join(', ')}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
}

/** A server URL as it may be shown: a user:password in it is masked. */
export const withoutPassword = (url: string) => url.replace(/\/\/[^/@\s,]*@/g, '//***@');
