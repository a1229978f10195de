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
  const { servers, auth } = splitCredentials(
    (Array.isArray(options.servers) ? options.servers : options.servers.split(','))
      .map((s) => s.trim())
      .filter(Boolean),
  );
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
      ...auth,
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

/**
 * Whether the connection is up now: false from a disconnect until the reconnect. A
 * stop does not wait for NATS work while the bus is away: it could not finish.
 */
export function followConnection(nc: NatsConnection): () => boolean {
  let up = true;
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === 'disconnect') up = false;
      else if (status.type === 'reconnect') up = true;
    }
  })();
  return () => up && !nc.isClosed();
}

/** A server URL (or comma-separated list) as it may be shown: credentials in it are masked. */
export const withoutPassword = (urls: string) => urls.replace(/\/\/[^/@\s,]*@/g, '//***@');

/**
 * nats://user:password@host (or nats://token@host): the client library ignores
 * credentials in a server URL, so they are taken out and given as options; the
 * URLs that remain (the ones error messages show) carry none.
 */
function splitCredentials(urls: string[]): {
  servers: string[];
  auth: { user: string; pass: string } | { token: string } | undefined;
} {
  let auth: { user: string; pass: string } | { token: string } | undefined;
  const servers = urls.map((url) => {
    const at = /^([a-z]+:\/\/)([^/@\s]*)@(.*)$/i.exec(url);
    if (!at) return url;
    const info = at[2]!;
    const colon = info.indexOf(':');
    auth ??=
      colon < 0
        ? { token: decodeURIComponent(info) }
        : {
            user: decodeURIComponent(info.slice(0, colon)),
            pass: decodeURIComponent(info.slice(colon + 1)),
          };
    return `${at[1]}${at[3]}`;
  });
  return { servers, auth };
}
