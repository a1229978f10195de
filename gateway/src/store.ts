// The gateway's store as CLI commands reach it (`sentinel device add|remove|list`):
// the NATS given by --nats, else the embedded nats-server of a running gateway on
// the same --data, else a short-lived nats-server on that store. The embedded
// server is locked; the credential is the gateway's, read from that data directory.
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { CredentialStore } from './auth/credentials.js';
import { type Bus, openBus } from './bus/bus.js';
import { connectBus } from './bus/connect.js';
import { createLogger } from './log.js';
import { embeddedAuthDir, embeddedGatewayCreds } from './nats/embedded-auth.js';
import { NatsServerSupervisor } from './nats/supervisor.js';

export interface GatewayStoreOptions {
  natsUrl?: string | undefined;
  natsCreds?: string | undefined;
  dataDir?: string | undefined;
}

export interface GatewayStore {
  readonly natsUrl: string;
  readonly bus: Bus;
  addDevice(id: string): Promise<{ device_id: string; token: string }>;
  removeDevice(id: string): Promise<boolean>;
  listDevices(): Promise<{ device_id: string; created: number }[]>;
  close(): Promise<void>;
}

export const embeddedStoreDir = (dataDir: string) => join(resolve(dataDir), 'nats');

export async function openGatewayStore(options: GatewayStoreOptions): Promise<GatewayStore> {
  const dataDir = options.dataDir ?? './data';
  let server: NatsServerSupervisor | undefined;
  let nc: NatsConnection;
  if (options.natsUrl) {
    nc = await connectBus({ servers: options.natsUrl, credsFile: options.natsCreds, name: 'sentinel-cli' });
  } else {
    const storeDir = embeddedStoreDir(dataDir);
    const running = await readFile(NatsServerSupervisor.urlFile(storeDir), 'utf8').catch(() => undefined);
    const credsFile = embeddedGatewayCreds(dataDir);
    const connected = running
      ? await connectBus({ servers: running, credsFile, name: 'sentinel-cli' }).catch(() => undefined)
      : undefined;
    if (connected) {
      nc = connected;
    } else {
      server = await NatsServerSupervisor.start({
        storeDir,
        authDir: embeddedAuthDir(dataDir),
        port: 0,
        log: createLogger('warn', 'sentinel-cli'),
      });
      nc = await connectBus({ servers: server.url, credsFile: server.credsFile, name: 'sentinel-cli' });
    }
  }
  try {
    const bus = await openBus(nc);
    const credentials = new CredentialStore(bus.kv.credentials);
    return {
      natsUrl: server?.url ?? nc.getServer(),
      bus,
      addDevice: (id) => credentials.add(id),
      removeDevice: (id) => credentials.remove(id),
      listDevices: () => credentials.list(),
      async close() {
        await nc.drain();
        await server?.stop();
      },
    };
  } catch (error) {
    await nc.close();
    await server?.stop();
    throw error;
  }
}
