// `sentinel flash` and `sentinel read-flash` (CONTRACT.md §5): esptool-js through a
// serial port (real or simulated), verified by MD5, progress on stderr, result on stdout.

import { writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import {
  CHIP_NAMES,
  type ChipName,
  FlasherError,
  FlasherSession,
  type FlashPart,
  type FlashState,
  PicketIdSchema,
} from '@sentinel/firmware';
import { DeviceExistsError, openGatewayStore } from '@sentinel/gateway/store';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { CliError, UsageError } from '../errors.js';
import { checkImagesForChip } from '../serial/image-chip.js';
import { openNodeSerialPort } from '../serial/node-port.js';
import { loadManifest, parseOffset, partsFromArguments, partsFromManifest } from '../serial/parts.js';
import { progressRenderer } from '../serial/progress.js';
import {
  checkProvisionRequest,
  nvsPartition,
  type ProvisionRequest,
  provisioningPart,
} from '../serial/provision.js';
import { addGatewayOptions, gatewayOptionValues, STORE_OPTIONS } from './options.js';

const DEFAULT_BAUD = 460800;

function baudOption(text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 300 || value > 5_000_000)
    throw new InvalidArgumentError('give a baud rate such as 115200, 460800 or 921600');
  return value;
}

interface PortFlags {
  port: string;
  baud: number;
  chip: string;
  stub: boolean;
  before: 'default_reset' | 'no_reset';
}

function addPortOptions(command: Command): Command {
  return command
    .requiredOption('--port <path>', 'serial port (/dev/ttyUSB0, /dev/ttyACM0, a simulator pty)')
    .option('--baud <n>', 'baud rate for the transfer (the sync runs at 115200)', baudOption, DEFAULT_BAUD)
    .addOption(
      new Option('--chip <chip>', 'expected chip; auto accepts whatever answers')
        .choices(['auto', ...CHIP_NAMES])
        .default('auto'),
    )
    .option('--no-stub', 'talk to the ROM loader only (slower; no read-flash, no --erase)')
    .addOption(
      new Option(
        '--before <reset>',
        'how to enter the bootloader: pulse DTR/RTS, or nothing (board already waiting)',
      )
        .choices(['default_reset', 'no_reset'])
        .default('default_reset'),
    );
}

function session(flags: PortFlags, onState: (state: FlashState) => void): FlasherSession {
  const port = openNodeSerialPort(flags.port, {
    onNotice: (message) => process.stderr.write(`note: ${message}\n`),
  });
  return new FlasherSession(port, {
    baud: flags.baud,
    stub: flags.stub,
    chip: flags.chip,
    before: flags.before,
    onState,
  });
}

/** A flasher failure as the CLI's one line: what happened, then what to do. */
function asCliError(error: unknown): never {
  if (error instanceof FlasherError)
    throw new CliError(`${error.message} (${error.code}): ${error.hint}`, { cause: error });
  throw error;
}

export function registerFlashCommands(program: Command): void {
  addGatewayOptions(
    addPortOptions(
      program
        .command('flash')
        .description(
          'write images through a serial port with esptool-js, verify each by MD5, reset into the app; prints a JSON summary',
        )
        .argument(
          '[offset-file...]',
          '<offset> <file> pairs, e.g. 0x1000 bootloader.bin 0x8000 partitions.bin 0x10000 app.bin',
        ),
    )
      .option(
        '--manifest <file|url>',
        'flash the parts an esp-web-tools manifest lists for the chip that answers',
      )
      .option('--erase', 'erase the whole flash first (needs the stub)')
      .option('--force', 'write images built for another chip than the one that answers')
      .option('--no-compress', 'send the bytes uncompressed (FLASH_DATA instead of FLASH_DEFL_DATA)')
      .option('--no-reset', 'stay in the bootloader afterwards instead of resetting into the app')
      .option(
        '--provision <device id>',
        'register this picket device with the gateway and write its NVS partition',
      )
      .option(
        '--gateway-url <url>',
        `with --provision: where the device finds its gateway; repeat for more, in order (default: mqtt://${hostname()}:1883)`,
        (url: string, previous: string[] | undefined) => [...(previous ?? []), url],
      )
      .option('--wifi-ssid <name>', 'with --provision: the Wi-Fi network the device joins')
      .addOption(
        new Option('--wifi-password <password>', 'with --provision: its password (empty for an open network)')
          .env('SENTINEL_WIFI_PASSWORD')
          .default(''),
      ),
    STORE_OPTIONS,
  ).action(async (args: string[], flags: FlashFlags) => {
    const given = await partsFromArguments(args);
    if (given.length === 0 && !flags.manifest)
      throw new UsageError('nothing to flash: give <offset> <file> pairs or --manifest');
    if (given.length > 0 && flags.manifest)
      throw new UsageError('give either --manifest or <offset> <file> pairs, not both');
    const manifest = flags.manifest ? await loadManifest(flags.manifest) : undefined;
    if (flags.erase && !flags.stub) throw new UsageError('--erase needs the flasher stub (drop --no-stub)');
    const request = provisionRequest(flags);
    const store = request ? await openStore(flags, request.deviceId) : undefined;
    const render = progressRenderer();
    const run = session(flags, render);
    const started = Date.now();
    try {
      const info = await run.connect().catch(asCliError);
      const parts =
        manifest && flags.manifest
          ? await partsFromManifest(manifest, flags.manifest, info.family as ChipName)
          : given;
      // before the first byte is written (or erased): an image for another chip never boots
      if (!flags.force) checkImagesForChip(parts, info.family);
      const nvs = request ? await nvsPartition(parts, run, flags.stub).catch(asCliError) : undefined;
      const written = await run
        .write(parts, { compress: flags.compress, erase: flags.erase ?? false })
        .catch(asCliError);
      let provisioned: Record<string, unknown> | undefined;
      let bytes = written.bytes;
      if (request && nvs && store) {
        // registered only once the image is on the board; revoked again if its NVS write fails
        const credentials = await store.addDevice(request.deviceId).catch(storeError);
        try {
          const part = provisioningPart(nvs, request, credentials.token);
          bytes += (await run.write([part], { compress: flags.compress }).catch(asCliError)).bytes;
        } catch (error) {
          await store.removeDevice(request.deviceId).catch(() => false);
          throw error;
        }
        provisioned = {
          device_id: credentials.device_id,
          nvs_offset: `0x${nvs.offset.toString(16)}`,
          gateway_urls: request.gatewayUrls,
        };
      }
      if (flags.reset) await run.resetAndClose().catch(asCliError);
      const ms = Date.now() - started;
      render({ state: 'done', bytes, ms });
      render.finish();
      process.stdout.write(
        `${JSON.stringify({ ...summary(info.family, info.mac, parts, ms), ...(provisioned ? { provisioned } : {}) })}\n`,
      );
    } finally {
      render.finish();
      await run.close();
      await store?.close();
    }
  });

  addPortOptions(
    program
      .command('read-flash')
      .description('read flash into a file (a backup), checked by the MD5 the flasher stub sends')
      .argument('<offset>', 'where to start, e.g. 0x0')
      .argument('<size>', 'how many bytes, e.g. 0x400000 (4 MB)')
      .argument('<file>', 'where to write them'),
  ).action(async (offsetText: string, sizeText: string, file: string, flags: PortFlags) => {
    const offset = parseOffset(offsetText);
    const size = parseOffset(sizeText, 'size');
    if (size === 0) throw new UsageError('size must be more than 0');
    if (!flags.stub) throw new UsageError('read-flash needs the flasher stub (drop --no-stub)');
    const render = progressRenderer();
    const run = session(flags, render);
    try {
      const info = await run.connect().catch(asCliError);
      const data = await run.read(offset, size).catch(asCliError);
      render.finish();
      await writeFile(file, data).catch((error: unknown) => {
        throw new CliError(`cannot write ${file}: ${(error as Error).message}`, { cause: error });
      });
      await run.resetAndClose().catch(asCliError);
      process.stdout.write(
        `${JSON.stringify({ chip: info.family, mac: info.mac, offset: `0x${offset.toString(16)}`, size, file })}\n`,
      );
    } finally {
      render.finish();
      await run.close();
    }
  });
}

interface FlashFlags extends PortFlags, Record<string, unknown> {
  erase?: boolean;
  force?: boolean;
  compress: boolean;
  reset: boolean;
  provision?: string;
  manifest?: string;
  gatewayUrl?: string[];
  wifiSsid?: string;
  wifiPassword: string;
}

function provisionRequest(flags: FlashFlags): ProvisionRequest | undefined {
  if (flags.provision === undefined) {
    if (flags.wifiSsid !== undefined) throw new UsageError('--wifi-ssid goes with --provision <device id>');
    return undefined;
  }
  const id = PicketIdSchema.safeParse(flags.provision);
  if (!id.success)
    throw new UsageError(`invalid device id "${flags.provision}": ${id.error.issues[0]!.message}`);
  const request: ProvisionRequest = {
    deviceId: id.data,
    gatewayUrls: flags.gatewayUrl ?? [`mqtt://${hostname()}:1883`],
    ...(flags.wifiSsid !== undefined ? { wifi: { ssid: flags.wifiSsid, password: flags.wifiPassword } } : {}),
  };
  checkProvisionRequest(request);
  return request;
}

type Store = Awaited<ReturnType<typeof openGatewayStore>>;

/** The gateway store `sentinel device add` uses, checked for the id before anything is flashed. */
async function openStore(flags: FlashFlags, id: string): Promise<Store> {
  let store: Store;
  try {
    store = await openGatewayStore(gatewayOptionValues(flags, STORE_OPTIONS));
  } catch (error) {
    throw new CliError(`cannot reach the gateway store: ${(error as Error).message}`, { cause: error });
  }
  const taken = (await store.listDevices()).some((d) => d.device_id === `picket-${id}`);
  if (taken) {
    await store.close();
    throw new CliError(
      `device "${id}" is already registered: remove it first (sentinel device remove ${id}) or pick another id`,
    );
  }
  return store;
}

/** Errors the store raises for a user's input. */
function storeError(error: unknown): never {
  if (error instanceof DeviceExistsError) throw new CliError(error.message, { cause: error });
  throw error;
}

function summary(chip: string, mac: string, parts: FlashPart[], ms: number) {
  return {
    chip,
    mac,
    parts: parts.map((p) => ({ offset: `0x${p.offset.toString(16)}`, file: p.name, size: p.data.length })),
    verified: true,
    ms,
  };
}
