// Finding Debian's nats-server, with an error that says how to get it.
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

export class NatsServerNotFoundError extends Error {
  override name = 'NatsServerNotFoundError';
  constructor() {
    super(
      'nats-server not found on PATH; install it with `apt-get install nats-server`, or pass --nats <url>',
    );
  }
}

export function findNatsServer(env: NodeJS.ProcessEnv = process.env): string {
  const dirs = [...(env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/bin', '/usr/local/bin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, 'nats-server');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; keep looking
    }
  }
  throw new NatsServerNotFoundError();
}
