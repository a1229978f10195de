// The `sentinel gateway` process of `bench web` (its HTTP port is what matters here),
// and HTTP requests to it that see the bytes as they travel (no decompression).
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { fileURLToPath } from 'node:url';
import { ChildFailedError, type ManagedChild, startProcess, waitForReadyLine } from '../lib/processes.js';

const SENTINEL =
  process.env.BENCH_SENTINEL ?? fileURLToPath(new URL('../../bin/sentinel.js', import.meta.url));

export interface WebGateway {
  child: ManagedChild;
  httpPort: number;
  mqttPort: number;
  origin: string;
}

export async function startWebGateway(options: {
  natsUrl: string;
  dataDir: string;
  verbose: boolean;
}): Promise<WebGateway> {
  const args = [
    SENTINEL,
    'gateway',
    '--nats',
    options.natsUrl,
    '--mqtt-port',
    '0',
    '--http-port',
    '0',
    '--host',
    '127.0.0.1',
    '--data',
    options.dataDir,
    '--node-id',
    'bench-web',
    '--log-level',
    'warn',
  ];
  const child = startProcess('gateway', process.execPath, args, { verbose: options.verbose });
  try {
    const ready = await waitForReadyLine<{ event: 'ready'; http_port?: number; mqtt_port?: number }>(
      child,
      60_000,
    );
    if (typeof ready.http_port !== 'number' || ready.http_port <= 0)
      throw new ChildFailedError(
        'gateway',
        `ready line without a usable http_port: ${JSON.stringify(ready)}`,
      );
    return {
      child,
      httpPort: ready.http_port,
      mqttPort: ready.mqtt_port ?? 0,
      origin: `http://127.0.0.1:${ready.http_port}`,
    };
  } catch (error) {
    await child.stop();
    throw error;
  }
}

export interface RawAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  /** the body as it came over the wire (still compressed, if it was) */
  body: Buffer;
  /** request sent → last byte received, ms */
  ms: number;
}

/** A GET that keeps the body as transferred; `headers` as a browser sends them. */
export function rawGet(url: string, headers: Record<string, string> = {}): Promise<RawAnswer> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'GET', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks),
          ms: performance.now() - started,
        }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}
