// A simulated ESP chip as seen through its UART0 and its auto-reset circuit:
// the ROM serial bootloader, the flasher stub once uploaded, a NOR flash, and
// the app boot when the strapping pin says so. Hosts talk to it through the
// SerialDevice interface (bytes both ways, DTR/RTS, baud rate), in memory or
// through the pty, RFC 2217 and WebSocket front ends next to this file.
import { EventEmitter } from 'node:events';
import { z } from 'zod';
import { CHIP_PROFILES, type ChipProfile, defaultMac, ESP_CHIPS, type EspChip } from './chips.js';
import { FlashMemory } from './flash.js';
import { Loader, type LoaderHost } from './loader.js';
import { Op, opName, parseRequest, ROM_BAUD } from './protocol.js';
import { RegisterFile } from './registers.js';
import { type ChipPins, pinsFor, type SerialSignals } from './reset-circuit.js';
import { SlipDecoder, slipEncode } from './slip.js';
import { baudsMatch, garble, UartDirection } from './uart.js';

/** The device side of a UART plus reset circuit; what a serial port adapter drives. */
export interface SerialDevice {
  /** host → device bytes */
  receive(bytes: Uint8Array): void;
  /** device → host bytes; returns an unsubscribe function */
  onTransmit(listener: (bytes: Uint8Array) => void): () => void;
  /** host line states (true = asserted) */
  setSignals(signals: { dtr?: boolean; rts?: boolean }): void;
  /** the host UART's baud; a mismatch with the device's garbles bytes both ways, as on real hardware */
  setBaudRate(baud: number): void;
}

/** off: held in reset (EN low); download: ROM serial loader; stub: flasher stub running; app: booted from flash */
export type EspRomState = 'off' | 'download' | 'stub' | 'app';

export type ResetCause = 'power-on' | 'en-pin' | 'pty-open' | 'software';

/** Faults to inject, so tests can see how a flasher reports each failure. */
export interface EspRomFaults {
  /** never answer SYNC, as a chip that did not enter download mode */
  ignoreSync?: boolean;
  /** IO0 is not wired to the reset circuit (or held high): resets always boot the app — "wrong boot mode" */
  bootPinStuckHigh?: boolean;
  /** corrupt the payload of these data blocks on the way in (the loader then reports a checksum error) */
  corruptBlocks?: { op?: 'FLASH_DATA' | 'FLASH_DEFL_DATA' | 'MEM_DATA'; seq: number; times?: number }[];
  /** the link drops (as a USB adapter unplugged) when this many FLASH_DATA/FLASH_DEFL_DATA packets have arrived */
  dropLinkAfterDataPackets?: number;
  /** answer CHANGE_BAUDRATE but keep the old rate */
  ignoreBaudChange?: boolean;
  /** flash addresses whose bit 0 cannot be programmed to 0 (a worn cell) */
  stuckFlashCells?: number[];
}

export interface EspRomSimulatorOptions {
  chip: EspChip;
  /** bytes, default 4 MiB */
  flashSize?: number;
  mac?: Uint8Array;
  /** delay bytes by 10 bit times each at the current baud (benchmarks) */
  lineRate?: boolean;
  /** how long EN takes to rise after the reset line is released (the board's RC delay), default 10 ms */
  enRiseMs?: number;
  faults?: EspRomFaults;
}

export interface EspCommandOutcome {
  op: number;
  /** protocol name (FLASH_DATA …) or hex */
  name: string;
  loader: 'rom' | 'stub';
  /** 0 = success, else the ROM error (0x05…) or stub error (0xC0…) */
  error: number;
}

export interface EspRomStats {
  commands: number;
  errors: number;
  /** bytes outside SLIP frames (boot noise, garbage) */
  noiseBytes: number;
  /** chunks that crossed the line at mismatched baud rates */
  garbledChunks: number;
}

export interface EspRomEvents {
  reset: [{ mode: 'download' | 'app'; cause: ResetCause }];
  state: [EspRomState];
  'stub-running': [];
  'baud-changed': [{ baud: number; reason: 'command' | 'autobaud' | 'reset' }];
  'app-booted': [{ image: 'valid' | 'invalid'; entry?: number }];
  command: [EspCommandOutcome];
  'link-down': [];
  'internal-error': [Error];
}

export class EspRomOptionsError extends Error {
  override name = 'EspRomOptionsError';
}

const OptionsSchema = z.object({
  chip: z.enum(ESP_CHIPS as [EspChip, ...EspChip[]]),
  flashSize: z
    .number()
    .int()
    .min(0x40000, 'flash must be at least 256 KiB')
    .max(0x8000000, 'flash must be at most 128 MiB')
    .refine((n) => (n & (n - 1)) === 0, 'flash size must be a power of two')
    .default(4 * 1024 * 1024),
  mac: z
    .instanceof(Uint8Array)
    .refine((m) => m.length === 6, 'a MAC has 6 bytes')
    .optional(),
  lineRate: z.boolean().default(false),
  enRiseMs: z.number().min(0).max(1000).default(10),
  faults: z
    .object({
      ignoreSync: z.boolean().optional(),
      bootPinStuckHigh: z.boolean().optional(),
      corruptBlocks: z
        .array(
          z.object({
            op: z.enum(['FLASH_DATA', 'FLASH_DEFL_DATA', 'MEM_DATA']).optional(),
            seq: z.number().int().min(0),
            times: z.number().int().min(1).optional(),
          }),
        )
        .optional(),
      dropLinkAfterDataPackets: z.number().int().min(0).optional(),
      ignoreBaudChange: z.boolean().optional(),
      stuckFlashCells: z.array(z.number().int().min(0)).optional(),
    })
    .default({}),
});

const OHAI = new TextEncoder().encode('OHAI');

export class EspRomSimulator extends EventEmitter<EspRomEvents> implements SerialDevice {
  readonly chip: EspChip;
  readonly profile: ChipProfile;
  readonly mac: Uint8Array;
  readonly stats: EspRomStats = { commands: 0, errors: 0, noiseBytes: 0, garbledChunks: 0 };
  private readonly memory: FlashMemory;
  private readonly registers: RegisterFile;
  private readonly faults: EspRomFaults;
  private readonly lineRate: boolean;
  private readonly txListeners = new Set<(bytes: Uint8Array) => void>();
  private readonly toDevice: UartDirection;
  private readonly toHost: UartDirection;
  private readonly decoder: SlipDecoder;
  private currentState: EspRomState = 'off';
  private lines: SerialSignals = { dtr: false, rts: false };
  private hostBaud = ROM_BAUD;
  private hostFollows = false;
  private deviceBaud = ROM_BAUD;
  private loader: Loader | undefined;
  /** bumped on every reset: a loader from before it stops */
  private epoch = 0;
  private frames: Uint8Array[] = [];
  private frameWaiter: (() => void) | undefined;
  /** the ROM measures the host's rate from the first bytes after reset ("Initialization") */
  private autobaud = false;
  private linkUp = true;
  private dataPackets = 0;
  private readonly corruptions: { op?: string; seq: number; left: number }[];
  private readonly enRiseMs: number;
  private enRising: NodeJS.Timeout | undefined;
  /**
   * The boot mode the strapping pins were latched at on the last chip reset
   * (power-on, EN, pty open). A software reset (RTC_SW_SYS_RST / SW_CPU_RESET)
   * does not sample IO0 again but boots the latched mode, which is why esptool's
   * `--after no_reset` can send the stub a "reboot" and find the ROM loader again.
   */
  private latchedBoot: 'download' | 'app' = 'app';

  constructor(options: EspRomSimulatorOptions) {
    super();
    const parsed = OptionsSchema.safeParse(options);
    if (!parsed.success) {
      throw new EspRomOptionsError(
        parsed.error.issues.map((i) => `${i.path.join('.') || 'options'}: ${i.message}`).join('; '),
        { cause: parsed.error },
      );
    }
    const { chip, flashSize, lineRate, faults, enRiseMs } = parsed.data;
    this.enRiseMs = enRiseMs;
    this.chip = chip;
    this.profile = CHIP_PROFILES[chip];
    this.mac = options.mac ? Uint8Array.from(options.mac) : defaultMac(chip);
    this.faults = faults;
    this.lineRate = lineRate;
    this.corruptions = (faults.corruptBlocks ?? []).map((c) => ({
      op: c.op,
      seq: c.seq,
      left: c.times ?? 1,
    }));
    this.memory = new FlashMemory({ size: flashSize, stuckCells: faults.stuckFlashCells });
    this.registers = new RegisterFile(this.profile, this.memory, this.mac);
    this.toDevice = new UartDirection(
      (bytes, senderBaud) => this.arriveAtDevice(bytes, senderBaud),
      () => this.lineRate,
    );
    this.toHost = new UartDirection(
      (bytes, senderBaud) => this.arriveAtHost(bytes, senderBaud),
      () => this.lineRate,
    );
    this.decoder = new SlipDecoder((event) => {
      if (event.kind === 'noise') {
        this.stats.noiseBytes += event.bytes;
        return;
      }
      this.autobaud = false;
      this.frames.push(event.packet);
      this.frameWaiter?.();
    });
    // Power on with both lines released: EN high, IO0 high → the app boots.
    this.boot('app', 'power-on');
  }

  /** The flash memory model: erased bytes are 0xFF. Tests read it directly. */
  get flash(): Uint8Array {
    return this.memory.bytes;
  }

  get state(): EspRomState {
    return this.currentState;
  }

  /** the chip's UART rate */
  get baudRate(): number {
    return this.deviceBaud;
  }

  get signals(): Readonly<SerialSignals> {
    return { ...this.lines };
  }

  get pins(): ChipPins {
    const pins = pinsFor(this.lines);
    return this.faults.bootPinStuckHigh ? { ...pins, io0: true } : pins;
  }

  get linkConnected(): boolean {
    return this.linkUp;
  }

  // ---------------------------------------------------------------------------
  // SerialDevice

  receive(bytes: Uint8Array): void {
    if (!this.linkUp || bytes.length === 0) return;
    this.toDevice.send(Uint8Array.from(bytes), this.hostFollows ? this.deviceBaud : this.hostBaud);
  }

  onTransmit(listener: (bytes: Uint8Array) => void): () => void {
    this.txListeners.add(listener);
    return () => {
      this.txListeners.delete(listener);
    };
  }

  setSignals(signals: { dtr?: boolean; rts?: boolean }): void {
    if (!this.linkUp) return;
    const before = pinsFor(this.lines);
    this.lines = { dtr: signals.dtr ?? this.lines.dtr, rts: signals.rts ?? this.lines.rts };
    const after = pinsFor(this.lines);
    if (before.en && !after.en) {
      clearTimeout(this.enRising);
      this.enRising = undefined;
      this.powerDown();
    } else if (!before.en && after.en) {
      // EN has an RC delay on dev boards: the chip leaves reset, and samples IO0,
      // only once EN has charged. That is what lets a host release RTS and assert
      // DTR one after the other ("download mode only when IO0 is low as EN rises").
      clearTimeout(this.enRising);
      this.enRising = setTimeout(() => {
        this.enRising = undefined;
        if (!this.pins.en) return;
        this.boot(this.pins.io0 ? 'app' : 'download', 'en-pin');
      }, this.enRiseMs);
    }
  }

  /**
   * For links that carry no baud rate (a pty): the host side always runs at the
   * chip's rate, so nothing is garbled and a CHANGE_BAUDRATE just takes effect.
   */
  setHostFollowsDeviceBaud(follow: boolean): void {
    this.hostFollows = follow;
  }

  setBaudRate(baud: number): void {
    if (!(Number.isFinite(baud) && baud > 0))
      throw new RangeError(`baud rate ${baud} is not a positive number`);
    this.hostBaud = baud;
  }

  // ---------------------------------------------------------------------------
  // what the pty front end and tests do

  /** A reset straight into the ROM loader at 115200 baud, flash kept: what opening the pty does. */
  resetIntoDownloadMode(): void {
    clearTimeout(this.enRising);
    this.enRising = undefined;
    this.linkUp = true;
    this.boot('download', 'pty-open');
  }

  /** Cuts the link as an unplugged USB adapter would; `resetIntoDownloadMode` restores it. */
  dropLink(): void {
    if (!this.linkUp) return;
    this.linkUp = false;
    this.toDevice.clear();
    this.toHost.clear();
    this.stopLoader();
    this.setState('off');
    this.emit('link-down');
  }

  // ---------------------------------------------------------------------------
  // the chip

  private setState(state: EspRomState): void {
    if (state === this.currentState) return;
    this.currentState = state;
    this.emit('state', state);
  }

  private setDeviceBaud(baud: number, reason: 'command' | 'autobaud' | 'reset'): void {
    if (baud === this.deviceBaud) return;
    this.deviceBaud = baud;
    this.registers.baud = baud;
    this.emit('baud-changed', { baud, reason });
  }

  private stopLoader(): void {
    this.epoch++;
    this.loader?.dispose();
    this.loader = undefined;
    this.frames = [];
    this.decoder.reset();
    this.frameWaiter?.();
  }

  private powerDown(): void {
    this.stopLoader();
    this.toDevice.clear();
    this.setState('off');
  }

  private boot(mode: 'download' | 'app', cause: ResetCause): void {
    if (cause !== 'software') this.latchedBoot = mode;
    this.stopLoader();
    this.toDevice.clear();
    this.setDeviceBaud(ROM_BAUD, 'reset');
    // out of reset: the ROM prints its banner whichever way it boots
    this.setState(mode);
    this.emit('reset', { mode, cause });
    this.transmit(this.romBanner(mode, cause));
    if (mode === 'download') {
      this.autobaud = true;
      this.loader = new Loader(this.loaderHost(this.epoch), 'rom');
      void this.serve(this.epoch, this.loader);
      return;
    }
    this.runApp();
  }

  private romBanner(mode: 'download' | 'app', cause: ResetCause): string {
    const classic = this.chip === 'esp32';
    const software = cause === 'software';
    const rst = classic
      ? software
        ? '0xc (SW_CPU_RESET)'
        : '0x1 (POWERON_RESET)'
      : software
        ? '0x3 (RTC_SW_SYS_RST)'
        : '0x1 (POWERON)';
    const { header, downloadBoot, flashBoot } = this.profile.romBanner;
    const boot = mode === 'download' ? downloadBoot : flashBoot;
    const tail = mode === 'download' ? 'waiting for download\r\n' : '';
    return `${header}rst:${rst},boot:${boot}\r\n${tail}`;
  }

  /** Leaves the loaders and runs what is in flash; without a valid image the ROM says so. */
  private runApp(): void {
    this.stopLoader();
    this.setState('app');
    const offset = this.profile.bootloaderOffset;
    const head = this.memory.read(offset, 8)!;
    if (head[0] !== 0xe9) {
      const word = new DataView(head.buffer).getUint32(0, true).toString(16).padStart(8, '0');
      this.transmit(
        this.chip === 'esp32'
          ? `flash read err, ${offset.toString(16)}\r\nets_main.c 371 \r\n`
          : `invalid header: 0x${word}\r\n`,
      );
      this.emit('app-booted', { image: 'invalid' });
      return;
    }
    const entry = new DataView(head.buffer).getUint32(4, true);
    this.transmit(
      `entry 0x${entry.toString(16).padStart(8, '0')}\r\nI (0) sim: ${this.profile.name} app running\r\n`,
    );
    this.emit('app-booted', { image: 'valid', entry });
  }

  private transmit(data: Uint8Array | string): void {
    if (!this.linkUp || this.currentState === 'off') return;
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    this.toHost.send(bytes, this.deviceBaud);
  }

  private arriveAtHost(bytes: Uint8Array, senderBaud: number): void {
    let data = bytes;
    if (!this.hostFollows && !baudsMatch(senderBaud, this.hostBaud)) {
      this.stats.garbledChunks++;
      data = garble(bytes, senderBaud, this.hostBaud);
    }
    for (const listener of [...this.txListeners]) listener(data);
  }

  private arriveAtDevice(bytes: Uint8Array, senderBaud: number): void {
    const state = this.currentState;
    if (state === 'off' || state === 'app') return;
    let data = bytes;
    if (!this.hostFollows && !baudsMatch(senderBaud, this.deviceBaud)) {
      if (state === 'download' && this.autobaud && senderBaud <= 2_000_000) {
        this.setDeviceBaud(senderBaud, 'autobaud');
      } else {
        this.stats.garbledChunks++;
        data = garble(bytes, senderBaud, this.deviceBaud);
      }
    }
    this.decoder.push(data);
  }

  private nextFrame(epoch: number): Promise<Uint8Array | undefined> {
    if (epoch !== this.epoch) return Promise.resolve(undefined);
    const frame = this.frames.shift();
    if (frame) return Promise.resolve(frame);
    return new Promise((resolve) => {
      this.frameWaiter = () => {
        this.frameWaiter = undefined;
        resolve(epoch === this.epoch ? this.frames.shift() : undefined);
      };
    });
  }

  private async serve(epoch: number, loader: Loader): Promise<void> {
    try {
      for (;;) {
        const frame = await this.nextFrame(epoch);
        if (frame === undefined || epoch !== this.epoch) return;
        const request = parseRequest(frame);
        if ('malformed' in request) {
          loader.malformed();
          continue;
        }
        if (request.op === Op.SYNC && this.faults.ignoreSync) continue;
        await loader.handle(request);
      }
    } catch (error) {
      this.emit('internal-error', error instanceof Error ? error : new Error(String(error)));
    }
  }

  private loaderHost(epoch: number): LoaderHost {
    const sim = this;
    return {
      profile: this.profile,
      flash: this.memory,
      registers: this.registers,
      get baud() {
        return sim.deviceBaud;
      },
      send: (packet) => {
        if (epoch === this.epoch) this.transmit(slipEncode(packet));
      },
      nextFrame: () => this.nextFrame(epoch),
      arrivingData: (op, seq, data) => this.arrivingData(op, seq, data),
      setBaud: (baud) => {
        if (epoch !== this.epoch || this.faults.ignoreBaudChange) return;
        this.setDeviceBaud(baud, 'command');
      },
      stubStarted: () => {
        if (epoch !== this.epoch) return;
        this.loader?.becomeStub();
        this.setState('stub');
        this.transmit(slipEncode(OHAI));
        this.emit('stub-running');
      },
      runUserCode: () => {
        if (epoch === this.epoch) this.runApp();
      },
      softwareReset: () => {
        if (epoch === this.epoch) this.boot(this.latchedBoot, 'software');
      },
      answered: (op, error) => {
        this.stats.commands++;
        if (error !== 0) this.stats.errors++;
        const loader = this.currentState === 'stub' ? 'stub' : 'rom';
        this.emit('command', { op, name: op < 0 ? 'malformed' : opName(op), loader, error });
      },
    };
  }

  private arrivingData(op: number, seq: number, data: Uint8Array): Uint8Array | 'drop-link' {
    if (op === Op.FLASH_DATA || op === Op.FLASH_DEFL_DATA) {
      this.dataPackets++;
      const limit = this.faults.dropLinkAfterDataPackets;
      if (limit !== undefined && this.dataPackets > limit) {
        this.dropLink();
        return 'drop-link';
      }
    }
    const name = opName(op);
    // without an op, a fault targets flash data blocks (not the stub upload)
    const matches = (c: { op?: string }) =>
      c.op ? c.op === name : name === 'FLASH_DATA' || name === 'FLASH_DEFL_DATA';
    const fault = this.corruptions.find((c) => c.seq === seq && c.left > 0 && matches(c));
    if (!fault || data.length === 0) return data;
    fault.left--;
    const corrupted = Uint8Array.from(data);
    corrupted[0] = corrupted[0]! ^ 0x01;
    return corrupted;
  }
}
