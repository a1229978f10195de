// `sentinel matter-server`: the Matter bridge (bridges/matter) as a standalone process: a
// matter.js controller behind the matter server's WebSocket API, so Home Assistant's
// Matter integration can use it. Prints one JSON line once listening; SIGINT/SIGTERM stop it.
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { CliError, UsageError } from '../errors.js';
import { untilSignal } from './simulate-matter.js';

export interface MatterServerFlags {
  port: string;
  host: string;
  storage?: string;
  loopbackOnly?: boolean;
}

function parsePort(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) > 65535)
    throw new UsageError(`--port: must be a TCP port 0…65535 (0: a free one), got ${JSON.stringify(text)}`);
  return Number(text);
}

export function registerMatterServerCommand(program: Command): void {
  program
    .command('matter-server')
    .description(
      'run a Matter controller with the WebSocket API of the matter server (ws://host:port/ws) until SIGINT/SIGTERM',
    )
    .option('--port <n>', 'the API’s TCP port (0: a free one)', '5580')
    .option('--host <address>', 'the API’s address; another than loopback lets the network in', '127.0.0.1')
    .option(
      '--storage <dir>',
      'keep the fabric and the paired nodes in this directory (default: in memory, lost on exit)',
    )
    .option(
      '--loopback-only',
      'keep Matter traffic on loopback: no mDNS on the network; devices are reached only at the ip_addr/port ' +
        'given to commission_with_code (tests, demos with `sentinel simulate matter`)',
    )
    .addHelpText(
      'after',
      '\nPrints {"event":"listening","url":"ws://127.0.0.1:5580/ws",…} on stdout once clients can connect.\n\n' +
        'Examples:\n' +
        '  sentinel matter-server --storage ./matter\n' +
        '  sentinel matter-server --port 0 --loopback-only   # with `sentinel simulate matter`\n',
    )
    .action(async (flags: MatterServerFlags) => {
      const port = parsePort(flags.port);
      if (flags.storage === '') throw new UsageError('--storage: give a directory');
      const signalled = untilSignal();
      const matter = await import('@sentinel/matter');
      let storage: ReturnType<typeof matter.memoryStorage>;
      if (flags.storage === undefined) {
        process.stderr.write(
          'matter-server: no --storage: the fabric and every pairing are kept in memory and lost on exit\n',
        );
        storage = matter.memoryStorage();
      } else {
        const dir = resolve(flags.storage);
        try {
          await mkdir(dir, { recursive: true });
        } catch (cause) {
          throw new CliError(`--storage: cannot create ${dir}: ${(cause as Error).message}`, { cause });
        }
        storage = matter.directoryStorage(dir);
      }
      let server: Awaited<ReturnType<typeof matter.startMatterServer>>;
      try {
        server = await matter.startMatterServer({
          storage,
          host: flags.host,
          apiPort: port,
          loopbackOnly: flags.loopbackOnly ?? false,
        });
      } catch (cause) {
        const code = (cause as NodeJS.ErrnoException).code;
        if (code === 'EADDRINUSE')
          throw new CliError(
            `${flags.host}:${port} is already in use (another matter server?); pick another --port`,
            { cause },
          );
        if (code === 'EADDRNOTAVAIL')
          throw new CliError(`--host ${flags.host} is not an address of this machine`, { cause });
        throw cause;
      }
      process.stdout.write(
        `${JSON.stringify({
          event: 'listening',
          url: server.url,
          port: server.port,
          storage: flags.storage === undefined ? 'memory' : 'directory',
        })}\n`,
      );
      const signal = await signalled;
      process.stderr.write(`matter-server: ${signal}, stopping…\n`);
      await server.close();
    });
}
