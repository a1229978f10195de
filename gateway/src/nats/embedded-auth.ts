// The embedded nats-server is locked like an external one (docs/security.md): at
// first start the gateway generates an operator, accounts and credentials in
// <data>/nats-auth (the same `nats-auth` code and layout as `sentinel nats-auth
// init`), and runs the server in operator mode with them. A local process that
// has no credentials is refused; local `sentinel` commands read the gateway's
// credentials from the data directory they are given.
//
// A data directory from before this had an open server: JetStream kept its
// streams under the anonymous global account ($G). Operator mode files them under
// the owning account's public key, so the first locked start moves the directory
// there, and every device, entity id and state carries over.
import { existsSync } from 'node:fs';
import { readdir, rename } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Logger } from '../log.js';
import { paths, readManifest } from './auth/files.js';
import { initNatsAuth } from './auth/generate.js';

export interface EmbeddedAuth {
  /** nats-server.conf: operator, accounts, JetStream store */
  configFile: string;
  /** the gateway's own credential; local CLI commands use it too */
  gatewayCreds: string;
}

export const embeddedAuthDir = (dataDir: string) => join(resolve(dataDir), 'nats-auth');

/** Where JetStream keeps the streams of an account under `-sd <storeDir>`. */
const accountStore = (storeDir: string, account: string) => join(storeDir, 'jetstream', account);
const ANONYMOUS_ACCOUNT = '$G';

/** The credentials of an embedded server, made at its first locked start. */
export async function prepareEmbeddedAuth(
  authDir: string,
  storeDir: string,
  log: Logger,
): Promise<EmbeddedAuth> {
  const files = paths(authDir);
  // the manifest is written last: without it, an earlier first start stopped half-way
  if (!existsSync(files.manifest)) {
    await initNatsAuth({
      out: authDir,
      force: true,
      listen: '127.0.0.1:4222', // the supervisor's -a/-p replace it
      storeDir: resolve(storeDir),
      resolverDir: join(authDir, 'resolver'),
    });
    log.info({ dir: authDir }, 'generated credentials for the embedded nats-server (first locked start)');
  }
  const manifest = await readManifest(authDir);
  if (resolve(manifest.server.store_dir) !== resolve(storeDir))
    log.warn(
      { configured: manifest.server.store_dir, expected: storeDir },
      'nats-server.conf names another JetStream store (was the data directory moved?); the server uses the configured one',
    );
  await adoptAnonymousStore(storeDir, manifest.accounts.SENTINEL.public_key, log);
  return { configFile: files.serverConfig, gatewayCreds: files.userCreds('gateway') };
}

/** The gateway credential of a data directory whose server was locked, if any. */
export function embeddedGatewayCreds(dataDir: string): string | undefined {
  const creds = paths(embeddedAuthDir(dataDir)).userCreds('gateway');
  return existsSync(creds) ? creds : undefined;
}

async function adoptAnonymousStore(storeDir: string, account: string, log: Logger): Promise<void> {
  const from = accountStore(storeDir, ANONYMOUS_ACCOUNT);
  const to = accountStore(storeDir, account);
  if (!existsSync(from)) return;
  if (existsSync(to)) {
    log.warn(
      { anonymous: from, account: to },
      'the JetStream store has streams of both an open server and the locked one; keeping the locked one, the open one is left where it is',
    );
    return;
  }
  const streams = await readdir(join(from, 'streams')).catch(() => []);
  await rename(from, to);
  log.info(
    { streams: streams.length },
    'moved the streams of the open nats-server into the SENTINEL account',
  );
}
