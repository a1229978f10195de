// TLS for device transports: MQTT over TLS (8883) and HTTPS/WSS on the HTTP port.
// Certificates come from the user (--tls-cert/--tls-key, PEM) or, with `--tls auto`,
// from a local CA generated once under <data>/tls: a CA certificate that devices
// and browsers are told to trust, and a server certificate signed by it with
// subject alternative names for this host's name, localhost, 127.0.0.1 and ::1.
// Node's crypto cannot write X.509 certificates, so generation runs Debian's
// `openssl` (present wherever nats-server and mosquitto are).
import { execFile } from 'node:child_process';
import { access, chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import type { TLSSocket, Server as TlsServer } from 'node:tls';
import { promisify } from 'node:util';
import { Counter } from 'prom-client';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';

export type TlsMode = 'off' | 'auto';

export interface TlsOptions {
  tls: TlsMode;
  tlsCert?: string | undefined;
  tlsKey?: string | undefined;
  dataDir: string;
}

/** What the servers are given, plus where it came from (for logs and /status). */
export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  source: 'files' | 'generated';
  /** the CA devices must trust, when the gateway generated it */
  caFile?: string;
}

export class TlsSetupError extends Error {
  override name = 'TlsSetupError';
}

export const generatedTlsDir = (dataDir: string) => join(resolve(dataDir), 'tls');

/** The TLS material the options ask for, or undefined when TLS is off. */
export async function loadTls(options: TlsOptions): Promise<TlsMaterial | undefined> {
  const { tlsCert, tlsKey } = options;
  if ((tlsCert === undefined) !== (tlsKey === undefined))
    throw new TlsSetupError('--tls-cert and --tls-key go together: give both, or neither');
  if (tlsCert && tlsKey) {
    if (options.tls === 'auto')
      throw new TlsSetupError(
        '--tls auto generates certificates; leave it out when giving --tls-cert/--tls-key',
      );
    const read = (file: string, what: string) =>
      readFile(file).catch((error: Error) => {
        throw new TlsSetupError(`cannot read the TLS ${what} ${file}: ${error.message}`, { cause: error });
      });
    return { cert: await read(tlsCert, 'certificate'), key: await read(tlsKey, 'key'), source: 'files' };
  }
  if (options.tls === 'off') return undefined;
  const files = await ensureGeneratedCertificates(generatedTlsDir(options.dataDir));
  return {
    cert: await readFile(files.cert),
    key: await readFile(files.key),
    source: 'generated',
    caFile: files.ca,
  };
}

export interface GeneratedCertificates {
  ca: string;
  cert: string;
  key: string;
}

/**
 * A local CA and a server certificate in `dir`, made on first use and kept: a
 * restart must not change what devices were told to trust.
 */
export async function ensureGeneratedCertificates(
  dir: string,
  hosts: string[] = defaultHosts(),
): Promise<GeneratedCertificates> {
  const files = {
    ca: join(dir, 'ca.pem'),
    caKey: join(dir, 'ca.key'),
    cert: join(dir, 'server.pem'),
    key: join(dir, 'server.key'),
  };
  const present = await Promise.all(
    [files.ca, files.cert, files.key].map((f) =>
      access(f).then(
        () => true,
        () => false,
      ),
    ),
  );
  if (present.every(Boolean)) return { ca: files.ca, cert: files.cert, key: files.key };

  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const csr = join(dir, 'server.csr');
  const extensions = join(dir, 'server.ext');
  const names = hosts.map((h) => (/^[\d.]+$|:/.test(h) ? `IP:${h}` : `DNS:${h}`)).join(',');
  await writeFile(
    extensions,
    `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=${names}\n`,
    { mode: 0o600 },
  );
  // P-256: what ESP-IDF's mbedTLS, browsers and Node all accept, and fast on a device
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  try {
    await openssl([
      'req',
      '-x509',
      ...newKey,
      '-keyout',
      files.caKey,
      '-out',
      files.ca,
      '-days',
      '3650',
      '-subj',
      `/CN=Sentinel local CA (${hosts[0]})`,
      '-addext',
      'basicConstraints=critical,CA:TRUE,pathlen:0',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ]);
    await openssl(['req', ...newKey, '-keyout', files.key, '-out', csr, '-subj', `/CN=${hosts[0]}`]);
    await openssl([
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      files.ca,
      '-CAkey',
      files.caKey,
      '-CAcreateserial',
      '-out',
      files.cert,
      '-days',
      '825',
      '-extfile',
      extensions,
    ]); // 825 days: the longest validity Apple's TLS clients accept
    for (const key of [files.caKey, files.key]) await chmod(key, 0o600);
  } catch (error) {
    // never leave a half-made set that the next start would take as complete
    await Promise.all([files.ca, files.caKey, files.cert, files.key].map((f) => rm(f, { force: true })));
    throw error;
  } finally {
    await Promise.all([csr, extensions, join(dir, 'ca.srl')].map((f) => rm(f, { force: true })));
  }
  return { ca: files.ca, cert: files.cert, key: files.key };
}

function defaultHosts(): string[] {
  const name = hostname().toLowerCase();
  return [...new Set([name, 'localhost', '127.0.0.1', '::1'])].filter(Boolean);
}

async function openssl(args: string[]): Promise<void> {
  try {
    await promisify(execFile)('openssl', args, { timeout: 30_000 });
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { stderr?: string };
    throw new TlsSetupError(
      e.code === 'ENOENT'
        ? 'cannot generate TLS certificates: openssl is not installed (apt-get install openssl), or give --tls-cert and --tls-key'
        : `openssl ${args[0]} failed: ${(e.stderr ?? e.message).trim().split('\n').pop()}`,
      { cause: error },
    );
  }
}

/**
 * A client that does not complete the TLS handshake (plain TCP to the TLS port,
 * an untrusted certificate, a scanner) is dropped by Node before any protocol
 * code runs; this counts and logs it so it is visible, and nothing else is touched.
 */
export function watchHandshakeFailures(
  server: TlsServer,
  transport: string,
  metrics: Metrics,
  log: Logger,
): void {
  const failures =
    (metrics.registry.getSingleMetric('sentinel_tls_handshake_failures_total') as
      | Counter<'transport'>
      | undefined) ??
    new Counter({
      name: 'sentinel_tls_handshake_failures_total',
      help: 'connections dropped during the TLS handshake, by transport',
      labelNames: ['transport'],
      registers: [metrics.registry],
    });
  server.on('tlsClientError', (error: NodeJS.ErrnoException, socket: TLSSocket) => {
    failures.inc({ transport });
    log.debug(
      { transport, remote: socket.remoteAddress, reason: error.code ?? error.message },
      'TLS handshake failed',
    );
  });
}
