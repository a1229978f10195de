// The flasher: connect (sync, detect), stub or ROM, baud, write (compressed or not),
// verify by MD5, read, erase, reset into the app — over any FlasherPort, reporting every
// step as a FlashState. Failures end as one FlasherError with a code and a hint.

import { ESPError, Transport } from 'esptool-js';
import { md5, toHex } from '../hash.js';
import { FlasherError, PortError } from './errors.js';
import { CHECKSUM_STATUS, CommandStatusError, SentinelLoader } from './loader.js';
import type { FlasherPort } from './port.js';
import type { DetectedChip, FlashPart, FlashState, FlashStateListener } from './state.js';

export const ROM_BAUD = 115200;

/** esptool-js's Transport traces to console.log even with tracing off: route it to our log. */
class QuietTransport extends Transport {
  log: ((line: string) => void) | undefined;
  override trace(message: string): void {
    this.log?.(message);
  }
}

export interface ConnectOptions {
  /** line rate for the transfer after the sync at 115200; 115200 keeps it */
  baud?: number;
  /** upload and run the flasher stub (default true); false flashes through the ROM */
  stub?: boolean;
  /** "default_reset" pulses DTR/RTS into download mode; "no_reset" for ports without reset lines */
  before?: 'default_reset' | 'no_reset';
  /** sync attempts (each one a reset and five SYNCs) */
  attempts?: number;
  /** expected chip ("esp32s3"); "auto" or unset accepts any */
  chip?: string;
  onState?: FlashStateListener;
  /** esptool-js's own log lines (debugging) */
  log?: (line: string) => void;
}

export interface WriteOptions {
  compress?: boolean;
  /** erase the whole flash first (stub only) */
  erase?: boolean;
  onState?: FlashStateListener;
}

/** "ESP32-S3" → "esp32s3", the names manifests and app images use. */
export const chipFamily = (chipName: string) => chipName.toLowerCase().replace(/-/g, '');

const errorMessage = (error: unknown) => (error instanceof Error ? error.message : String(error));

function findPortError(error: unknown): PortError | undefined {
  for (let e = error, depth = 0; e && depth < 8; e = (e as { cause?: unknown }).cause, depth++)
    if (e instanceof PortError) return e;
  return undefined;
}

const PORT_CODES = {
  busy: 'port_busy',
  vanished: 'port_vanished',
  closed: 'port_closed',
  not_found: 'no_port',
} as const;

export class FlasherSession {
  readonly loader: SentinelLoader;
  readonly transport: QuietTransport;
  info: DetectedChip | undefined;
  private deviceLost = false;
  private opened = false;

  constructor(
    readonly port: FlasherPort,
    private readonly options: ConnectOptions = {},
  ) {
    this.transport = new QuietTransport(port as never, false);
    this.transport.log = options.log;
    this.transport.setDeviceLostCallback(() => {
      this.deviceLost = true;
    });
    this.loader = new SentinelLoader(this.transport, options.baud ?? ROM_BAUD, options.log);
  }

  private emit(state: FlashState, listener = this.options.onState): void {
    listener?.(state);
  }

  /** Turns anything thrown under esptool-js into one FlasherError with a code. */
  classify(error: unknown): FlasherError {
    if (error instanceof FlasherError) return error;
    const portError = findPortError(error) ?? (this.port as { failure?: PortError }).failure;
    if (portError) return new FlasherError(PORT_CODES[portError.kind], portError.message, { cause: error });
    if (this.deviceLost)
      return new FlasherError('port_vanished', 'the serial port was lost (the device disconnected)', {
        cause: error,
      });
    if (error instanceof CommandStatusError && CHECKSUM_STATUS.has(error.status))
      return new FlasherError('checksum_error', error.message, { cause: error });
    return new FlasherError('flash_failed', errorMessage(error), { cause: error });
  }

  private async guard<T>(work: () => Promise<T>, listener?: FlashStateListener): Promise<T> {
    try {
      return await work();
    } catch (error) {
      const failure = this.classify(error);
      this.emit(failure.toState(), listener);
      throw failure;
    }
  }

  /** Opens the port, syncs, detects the chip, starts the stub, raises the baud, attaches flash. */
  async connect(): Promise<DetectedChip> {
    const { loader, options } = this;
    this.emit({ state: 'connecting' });
    try {
      await loader.connect(options.before ?? 'default_reset', options.attempts ?? 7, true);
      this.opened = true;
    } catch (error) {
      const failure = this.connectFailure(error);
      // the port is ours and open when the sync failed: close it before reporting
      if (failure.code !== 'port_busy' && failure.code !== 'no_port') {
        this.opened = true;
        await this.close();
      }
      this.emit(failure.toState());
      throw failure;
    }
    return this.guard(async () => {
      const chip = loader.chip;
      const family = chipFamily(chip.CHIP_NAME);
      const info: DetectedChip = {
        chip: chip.CHIP_NAME,
        family,
        description: await chip.getChipDescription(loader),
        features: (await chip.getChipFeatures(loader)).map((f) => f.trim()),
        mac: await chip.readMac(loader),
      };
      this.info = info;
      this.emit({ state: 'detected', info });
      if (options.chip && options.chip !== 'auto' && options.chip !== family)
        throw new FlasherError(
          'wrong_chip',
          `expected an ${options.chip}, but the board is an ${chip.CHIP_NAME}`,
        );
      await chip.postConnect?.(loader);
      if (options.stub ?? true) await loader.runStub();
      this.emit({ state: 'stub', running: loader.IS_STUB });
      const baud = options.baud ?? ROM_BAUD;
      if (baud !== ROM_BAUD) {
        await loader.raiseBaud(baud, ROM_BAUD);
        this.emit({ state: 'baud', baud });
      }
      await loader.flashSpiAttach(0);
      return info;
    });
  }

  private connectFailure(error: unknown): FlasherError {
    if (error instanceof FlasherError) return error;
    const portError = findPortError(error);
    if (portError) return this.classify(error);
    if (!(error instanceof ESPError)) {
      // open() itself failed: Web Serial raises DOMExceptions (InvalidStateError: open
      // elsewhere; NetworkError: the OS refused it)
      return new FlasherError('port_busy', `cannot open the serial port: ${errorMessage(error)}`, {
        cause: error,
      });
    }
    const boot = this.loader.bootLog;
    if (boot && !boot.download)
      return new FlasherError(
        'wrong_boot_mode',
        boot.bootMode === 'flash boot'
          ? 'the chip is not in download mode (it booted from flash)'
          : `the chip is not in download mode (it booted with boot mode ${boot.bootMode})`,
        { cause: error },
      );
    if (boot?.download)
      return new FlasherError('no_sync', 'the chip is in download mode but does not answer', {
        cause: error,
        hint: 'the chip waits for download but its replies do not arrive: check the TX line (chip → computer) and the baud rate, then try again',
      });
    return new FlasherError('no_sync', 'no answer from the chip\u2019s serial bootloader', { cause: error });
  }

  /** Writes each part, then checks it by MD5 against what the flash now holds. */
  async write(parts: FlashPart[], options: WriteOptions = {}): Promise<{ bytes: number; ms: number }> {
    const listener = options.onState ?? this.options.onState;
    const compress = options.compress ?? true;
    const { loader } = this;
    const started = Date.now();
    return this.guard(async () => {
      if (options.erase) {
        if (!loader.IS_STUB)
          throw new FlasherError('unsupported', 'erasing the whole flash needs the flasher stub');
        this.emit({ state: 'erasing' }, listener);
        await loader.eraseFlash();
      }
      const flashSize = await this.flashSize();
      for (const part of parts)
        if (flashSize !== undefined && part.offset + part.data.length > flashSize)
          throw new FlasherError(
            'too_big',
            `${part.name ?? 'a part'} ends at 0x${(part.offset + part.data.length).toString(16)}, past the end of the ${flashSize >> 20} MB flash`,
          );
      let bytes = 0;
      for (const [index, part] of parts.entries()) {
        const name = part.name ?? `0x${part.offset.toString(16)}`;
        const common = { part: index, parts: parts.length, name, offset: part.offset };
        this.emit(
          { state: 'writing', ...common, written: 0, total: part.data.length, compressed: compress },
          listener,
        );
        await loader.writeFlash({
          fileArray: [{ data: part.data, address: part.offset }],
          flashMode: 'keep',
          flashFreq: 'keep',
          flashSize: 'keep',
          eraseAll: false,
          compress,
          reportProgress: (_file, written, total) =>
            this.emit({ state: 'writing', ...common, written, total, compressed: compress }, listener),
        });
        this.emit({ state: 'verifying', ...common }, listener);
        const padded = padTo4(part.data);
        const expected = toHex(md5(padded));
        const actual = await loader.flashMd5sum(part.offset, padded.length);
        if (actual !== expected)
          throw new FlasherError(
            'md5_mismatch',
            `${name} at 0x${part.offset.toString(16)}: the flash has MD5 ${actual}, the file ${expected}`,
          );
        bytes += part.data.length;
      }
      return { bytes, ms: Date.now() - started };
    }, listener);
  }

  private detectedFlashSize: number | undefined;

  /** The flash size from the flash chip's JEDEC id (undefined when the id is unknown). */
  async flashSize(): Promise<number | undefined> {
    if (this.detectedFlashSize === undefined) {
      const text = await this.loader.detectFlashSize();
      this.detectedFlashSize = text ? this.loader.flashSizeBytes(text as never) : undefined;
    }
    return this.detectedFlashSize;
  }

  /** Reads flash (stub only), checked by the MD5 the stub sends after the data. */
  async read(offset: number, size: number, onState?: FlashStateListener): Promise<Uint8Array> {
    const listener = onState ?? this.options.onState;
    return this.guard(async () => {
      const flashSize = await this.flashSize();
      if (flashSize !== undefined && offset + size > flashSize)
        throw new FlasherError(
          'too_big',
          `0x${offset.toString(16)} + ${size} bytes runs past the end of the ${flashSize >> 20} MB flash`,
          { hint: 'read less: the offset plus the size must stay within the flash' },
        );
      this.emit({ state: 'reading', offset, read: 0, total: size }, listener);
      return this.loader.readFlash(offset, size, (_packet, read, total) =>
        this.emit({ state: 'reading', offset, read, total }, listener),
      );
    }, listener);
  }

  /** Hard reset into the app (EN pulsed with IO0 released), then close the port. */
  async resetAndClose(onState?: FlashStateListener): Promise<void> {
    const listener = onState ?? this.options.onState;
    await this.guard(async () => {
      this.emit({ state: 'resetting' }, listener);
      await this.loader.after('hard_reset', false);
    }, listener);
    await this.close();
  }

  async close(): Promise<void> {
    if (!this.opened && !this.port.readable) return;
    this.opened = false;
    // A port that failed mid-write can keep a stream locked by a write that never
    // finished; esptool-js's disconnect would wait for it forever. Close the port itself.
    const failed = this.deviceLost || (this.port as { failure?: PortError }).failure !== undefined;
    if (!failed) {
      const gaveUp = new Promise<'timeout'>((resolve) => {
        const timer: unknown = setTimeout(() => resolve('timeout'), 2000);
        // Node's timers would hold the process open after a clean close; a browser's are numbers
        (timer as { unref?: () => void }).unref?.();
      });
      const outcome = await Promise.race([
        this.transport.disconnect().then(() => 'closed' as const),
        gaveUp,
      ]).catch(() => 'failed' as const);
      if (outcome === 'closed') return;
    }
    await this.port.close().catch(() => {});
  }
}

function padTo4(data: Uint8Array): Uint8Array {
  if (data.length % 4 === 0) return data;
  const out = new Uint8Array(data.length + 4 - (data.length % 4)).fill(0xff);
  out.set(data);
  return out;
}

export interface FlashRun extends ConnectOptions, WriteOptions {
  parts: FlashPart[];
  /** reset into the app afterwards (default true) */
  reset?: boolean;
}

/** The whole run: connect, write and verify every part, reset into the app. */
export async function flash(
  port: FlasherPort,
  run: FlashRun,
): Promise<{ info: DetectedChip; bytes: number; ms: number }> {
  const session = new FlasherSession(port, run);
  const started = Date.now();
  try {
    const info = await session.connect();
    const { bytes } = await session.write(run.parts, run);
    if (run.reset ?? true) await session.resetAndClose();
    const ms = Date.now() - started;
    run.onState?.({ state: 'done', bytes, ms });
    return { info, bytes, ms };
  } finally {
    await session.close();
  }
}
