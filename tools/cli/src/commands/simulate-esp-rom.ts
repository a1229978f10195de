// `sentinel simulate esp-rom` (CONTRACT §5): a simulated ESP ROM serial
// bootloader (and flasher stub) behind a pty, and optionally over RFC 2217 and
// WebSocket, until SIGTERM; then the whole flash goes to --dump.
import { writeFile } from 'node:fs/promises';
import {
  ESP_CHIPS,
  type EspChip,
  EspRomSimulator,
  PtyHost,
  PtyHostError,
  type Rfc2217Server,
  serveEspRomOverWebSocket,
  serveRfc2217,
  type WsBridge,
} from '@sentinel/simulators';
import type { Command } from 'commander';
import { z } from 'zod';
import { CliError, UsageError } from '../errors.js';
import { captureLauncher, type Launcher } from '../launcher.js';

const SIZE_UNITS: Record<string, number> = { '': 1, K: 1024, KB: 1024, M: 1024 ** 2, MB: 1024 ** 2 };

/** "4MB", "512KB", "4M", "4194304" → bytes */
export function parseFlashSize(text: string): number | undefined {
  const match = /^(\d+)\s*(K|KB|M|MB)?$/i.exec(text.trim());
  if (!match) return undefined;
  return Number(match[1]) * SIZE_UNITS[(match[2] ?? '').toUpperCase()]!;
}

const port = (flag: string) =>
  z.coerce
    .number({ message: `${flag} must be a port number` })
    .int(`${flag} must be a whole number`)
    .min(0, `${flag} must be 0…65535 (0 = any free port)`)
    .max(65535, `${flag} must be 0…65535 (0 = any free port)`);

const OptionsSchema = z.object({
  chip: z.enum(ESP_CHIPS as [EspChip, ...EspChip[]], {
    message: `--chip must be one of ${ESP_CHIPS.join(', ')}`,
  }),
  pty: z.string().min(1, '--pty needs a path for the pty link'),
  rfc2217: port('--rfc2217').optional(),
  ws: port('--ws').optional(),
  listen: z.string().min(1),
  flashSize: z.string().transform((text, ctx) => {
    const size = parseFlashSize(text);
    if (size === undefined || size < 0x40000 || size > 0x8000000 || (size & (size - 1)) !== 0) {
      ctx.addIssue({
        code: 'custom',
        message: '--flash-size must be a power of two from 256KB to 128MB, e.g. 4MB',
      });
      return z.NEVER;
    }
    return size;
  }),
  dump: z.string().min(1).optional(),
});
type EspRomCliOptions = z.output<typeof OptionsSchema>;

export function registerEspRomSimulator(simulate: Command): void {
  simulate
    .command('esp-rom')
    .description(
      'a simulated ESP ROM serial bootloader (and flasher stub) behind a pseudo-terminal, until SIGTERM; each ' +
        'opening of the pty resets the chip into download mode at 115200 baud, keeping the flash',
    )
    .requiredOption('--chip <chip>', `the chip to simulate: ${ESP_CHIPS.join(', ')}`)
    .requiredOption('--pty <link path>', 'where to create the pty link for flashers to open')
    .option(
      '--rfc2217 <port>',
      'also serve RFC 2217 (rfc2217://host:port) on this TCP port; 0 = any free port',
    )
    .option('--ws <port>', 'also serve the WebSocket bridge on this TCP port; 0 = any free port')
    .option('--listen <address>', 'address for --rfc2217 and --ws', '127.0.0.1')
    .option('--flash-size <size>', 'flash size (256KB…128MB, a power of two)', '4MB')
    .option('--dump <file>', 'write the whole flash to this file on SIGTERM')
    .addHelpText(
      'after',
      '\nPrints one JSON line on stdout once the pty exists:\n' +
        '  {"event":"ready","chip":…,"pty":<link>,"device":"/dev/pts/N","flash_size":…,"rfc2217":<port>,"ws":<url>}\n' +
        'Events (pty opened/closed, stub running, baud changes) go to stderr.\n' +
        '\nExamples:\n' +
        '  sentinel simulate esp-rom --chip esp32c3 --pty /tmp/esp --dump flash.bin\n' +
        '  esptool.py --port /tmp/esp --before no_reset write_flash 0x0 app.bin\n' +
        '  sentinel simulate esp-rom --chip esp32 --pty /tmp/esp --rfc2217 4000\n' +
        '  esptool.py --port rfc2217://127.0.0.1:4000 chip_id\n',
    )
    .action(async (raw: Record<string, unknown>) => {
      // first thing: a signal during start-up may orphan us before we look
      const launcher = captureLauncher();
      const parsed = OptionsSchema.safeParse(raw);
      if (!parsed.success) throw new UsageError(parsed.error.issues[0]!.message);
      await runEspRomSimulator(parsed.data, launcher);
    });
}

async function runEspRomSimulator(options: EspRomCliOptions, launcher: Launcher): Promise<void> {
  const log = (line: string) => process.stderr.write(`esp-rom: ${line}\n`);
  const sim = new EspRomSimulator({ chip: options.chip, flashSize: options.flashSize });
  sim.on('stub-running', () => log('flasher stub running'));
  sim.on('baud-changed', ({ baud, reason }) => {
    if (reason !== 'reset') log(`baud rate ${baud} (${reason})`);
  });
  sim.on('app-booted', ({ image }) => log(`booted the app in flash (${image} image)`));
  sim.on('reset', ({ mode, cause }) => {
    if (cause !== 'pty-open')
      log(`reset (${cause}) into ${mode === 'download' ? 'download mode' : 'the app'}`);
  });

  const stop = new AbortController();
  // `on`, not `once`: Ctrl-C under npm arrives twice (from the terminal, and forwarded by
  // npm), and a second signal must not kill the process before it stopped socat and dumped
  const onSignal = () => stop.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const unwatch = launcher.watch();

  const pty = new PtyHost(sim, { link: options.pty });
  pty.on('opened', () => log(`pty opened (client ${pty.sessions}): reset into download mode`));
  pty.on('closed', () => log('pty closed'));
  let rfc2217: Rfc2217Server | undefined;
  let ws: WsBridge | undefined;
  let failure: unknown;
  pty.on('failed', (error) => {
    failure = error;
    stop.abort();
  });
  // socat signalled along with us (a service manager stopping the whole group): a stop
  pty.on('terminated', () => stop.abort());
  try {
    const { device } = await pty.start().catch((cause: unknown) => {
      throw new CliError(
        cause instanceof PtyHostError ? cause.message : `cannot create the pty: ${String(cause)}`,
        { cause },
      );
    });
    if (options.rfc2217 !== undefined) {
      rfc2217 = await serveRfc2217(sim, { host: options.listen, port: options.rfc2217 }).catch(
        (cause: unknown) => {
          throw new CliError(
            `--rfc2217: cannot listen on ${options.listen}:${options.rfc2217}: ${(cause as Error).message}`,
            { cause },
          );
        },
      );
    }
    if (options.ws !== undefined) {
      ws = await serveEspRomOverWebSocket(sim, { host: options.listen, port: options.ws }).catch(
        (cause: unknown) => {
          throw new CliError(
            `--ws: cannot listen on ${options.listen}:${options.ws}: ${(cause as Error).message}`,
            {
              cause,
            },
          );
        },
      );
    }
    const ready = {
      event: 'ready',
      chip: options.chip,
      pty: options.pty,
      device,
      flash_size: options.flashSize,
      ...(rfc2217 ? { rfc2217: rfc2217.port } : {}),
      ...(ws ? { ws: ws.url } : {}),
    };
    process.stdout.write(`${JSON.stringify(ready)}\n`);
    if (!stop.signal.aborted) await new Promise((resolve) => stop.signal.addEventListener('abort', resolve));
    if (failure) throw new CliError((failure as Error).message, { cause: failure });
  } finally {
    unwatch();
    await pty.stop();
    await rfc2217?.close();
    await ws?.close();
    try {
      if (options.dump) {
        try {
          await writeFile(options.dump, sim.flash);
          log(`wrote ${sim.flash.length} bytes of flash to ${options.dump}`);
        } catch (cause) {
          // biome-ignore lint/correctness/noUnsafeFinally: a lost dump is the failure the user must see
          throw new CliError(`--dump: cannot write ${options.dump}: ${(cause as Error).message}`, { cause });
        }
      }
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  }
}
