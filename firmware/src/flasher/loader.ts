// esptool-js's ESPLoader with the gaps of esptool-js 0.7 closed, each where the serial
// protocol (esptool docs, "Serial Protocol") says the ROM or the stub behaves otherwise:
//
//  1. SPI_FLASH_MD5 from the ROM is 32 ASCII hex digits, from the stub 16 raw bytes;
//     esptool-js hex-encodes both, so ROM-mode verification never matches.  → flashMd5sum
//  2. No SPI_ATTACH before flash commands; the ROM needs the flash attached (and takes an
//     8-byte argument, the stub a 4-byte one).                               → flashSpiAttach
//  3. FLASH_WRITE_SIZE stays at the stub's 0x4000 with the ROM, whose blocks are 0x400.
//                                                                  → flashBegin/flashDeflBegin
//  4. READ_FLASH's closing MD5 packet is left unread and never compared.   → readFlash
//  5. Its hard reset re-asserts a stale DTR (IO0 low) and never pulls EN low. → AppReset
//
// and two more that make failures nameable: a status error carries its code (checkCommand),
// and the connect attempt remembers the boot banner it saw (_connectAttempt).

import { ClassicReset, ESPError, ESPLoader, HardReset, type ResetStrategy, type Transport } from 'esptool-js';
import { md5, toHex } from '../hash.js';
import { FlasherError } from './errors.js';

const ESP_FLASH_DATA = 0x03;
const ESP_SPI_ATTACH = 0x0d;
const ESP_CHANGE_BAUDRATE = 0x0f;
const ESP_FLASH_DEFL_DATA = 0x11;
const ESP_SPI_FLASH_MD5 = 0x13;
const ESP_READ_FLASH = 0xd2;
const STUB_FLASH_WRITE_SIZE = 0x4000;
const ROM_FLASH_WRITE_SIZE = 0x400;
const READ_SECTOR = 0x1000;
const READ_IN_FLIGHT = 64;

/** Status codes from the ROM and the stub ("Serial Protocol", response status bytes). */
export const STATUS_ERRORS: Record<number, string> = {
  5: 'received message is invalid',
  6: 'failed to act on received message',
  7: 'invalid CRC in message',
  8: 'flash write error',
  9: 'flash read error',
  10: 'flash read length error',
  11: 'deflate error',
  192: 'bad data length',
  193: 'bad data checksum',
  194: 'bad block size',
  195: 'invalid command',
  196: 'SPI operation failed',
  197: 'SPI unlock failed',
  198: 'not in flash mode',
  199: 'inflate error',
  200: 'not enough data',
  201: 'too much data',
  255: 'command not implemented',
};
/** The two codes that mean "the bytes arrived damaged". */
export const CHECKSUM_STATUS = new Set([0x07, 0xc1]);

/** A command the chip answered with a failure status. */
export class CommandStatusError extends ESPError {
  override name = 'CommandStatusError';
  constructor(
    readonly operation: string,
    readonly op: number,
    readonly status: number,
  ) {
    super(
      `${operation}: the chip answered error 0x${status.toString(16).padStart(2, '0')} (${STATUS_ERRORS[status] ?? 'unknown error'})`,
    );
  }
}

/** The ROM answers [1, error]; the stub [error, 0] (stub_flasher's response status). */
function statusCode(body: Uint8Array, at: number): number {
  return body[at + 1] !== 0 ? body[at + 1]! : body[at]!;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Workaround 5: esptool.py's hard reset (EN low, then high with IO0 released). */
export class AppReset extends HardReset {
  override async reset(): Promise<void> {
    // DTR=0 first: esptool-js's stale DTR state would otherwise hold IO0 low on the
    // next EN rise (its setRTS re-sends the remembered DTR), booting into download mode
    await this.transport.setDTR(false);
    await this.transport.setRTS(true); // EN low
    await sleep(100);
    await this.transport.setRTS(false); // EN rises, IO0 high: the app boots
  }
}

/**
 * The classic DTR/RTS entry into download mode (esptool's ClassicReset), discarding what
 * arrived before EN went low: an app's last output is not this boot's banner.
 */
export class DownloadReset extends ClassicReset {
  override async reset(): Promise<void> {
    await this.transport.setSignals(false, true); // EN low, IO0 high
    await sleep(100);
    this.transport.flushInput();
    await this.transport.setSignals(true, false); // EN rises with IO0 low: download mode
    await sleep(this.resetDelay);
    await this.transport.setSignals(false, false);
  }
}

export interface BootLog {
  /** the "boot:0x.." value of the ROM banner */
  bootMode: string;
  /** the banner said "waiting for download" */
  download: boolean;
}

const BANNER = /boot:(0x[0-9a-fA-F]+)([\s\S]*?waiting for download)?/;
/** What the ROM prints when it boots from flash instead (ESP32: "flash read err", later chips: "invalid header", an app: "entry 0x…"). */
const FLASH_BOOT = /flash read err|invalid header|entry 0x[0-9a-f]{8}|ets_main\.c/;

export class SentinelLoader extends ESPLoader {
  /** The last ROM boot banner seen while connecting, if any. */
  bootLog: BootLog | undefined;

  constructor(transport: Transport, baudrate: number, log: (line: string) => void = () => {}) {
    super({
      transport,
      baudrate,
      terminal: { clean: () => {}, writeLine: log, write: log },
      resetConstructors: {
        classicReset: (t, delay) => new DownloadReset(t, delay),
        hardReset: (t, usbOtg) => new AppReset(t, usbOtg),
      },
    });
  }

  override async _connectAttempt(
    mode: string | undefined,
    resetStrategy: ResetStrategy | null,
  ): Promise<string> {
    const noteBanner = () => {
      const text = Array.from(this.transport.peek(), (b) => String.fromCharCode(b)).join('');
      const match = BANNER.exec(text);
      if (match) this.bootLog = { bootMode: match[1]!, download: match[2] !== undefined };
      else if (FLASH_BOOT.test(text)) this.bootLog = { bootMode: 'flash boot', download: false };
    };
    // without a reset strategy (a pty), the banner of the open is already buffered
    if (!resetStrategy) noteBanner();
    const strategy: ResetStrategy | null = resetStrategy && {
      transport: resetStrategy.transport,
      reset: async () => {
        await resetStrategy.reset();
        // give the ROM its banner time (esptool reads it the same way, after the reset)
        await sleep(20);
        noteBanner();
      },
    };
    return super._connectAttempt(mode, strategy);
  }

  /** Same checks as esptool-js, but a failure status becomes a typed CommandStatusError. */
  override async checkCommand(
    operation = '',
    op: number | null = null,
    data: Uint8Array = new Uint8Array(0),
    chk = 0,
    responseDataLength = 0,
    timeout = this.DEFAULT_TIMEOUT,
  ): Promise<number | Uint8Array> {
    const [value, body] = await this.command(op, data, chk, undefined, timeout);
    // a failure has no response data: its status bytes come first
    const at = body.length < responseDataLength + 2 ? 0 : responseDataLength;
    if (body.length >= at + 2 && body[at] !== 0)
      throw new CommandStatusError(operation, op ?? 0, statusCode(body, at));
    if (body.length < responseDataLength + 2)
      throw new ESPError(`${operation}: only ${body.length} bytes of response data`);
    return responseDataLength > 0 ? body.slice(0, responseDataLength) : value;
  }

  /** Workaround 2: SPI_ATTACH before flash commands (esptool.py does it in main). */
  override async flashSpiAttach(hspiArg: number): Promise<void> {
    const data = new Uint8Array(this.IS_STUB ? 4 : 8);
    new DataView(data.buffer).setUint32(0, hspiArg, true);
    await this.checkCommand('attach SPI flash', ESP_SPI_ATTACH, data);
  }

  /**
   * CHANGE_BAUDRATE, then the host side, then a register read at the new rate. Unlike
   * esptool-js's changeBaud, silence is an error (baud_unanswered), not a quiet reconnect
   * that would reset a board behind a pty.
   */
  async raiseBaud(baud: number, romBaud = 115200): Promise<void> {
    const data = new Uint8Array(8);
    const view = new DataView(data.buffer);
    view.setUint32(0, baud, true);
    // the stub wants the current rate as its second argument, the ROM zero
    view.setUint32(4, this.IS_STUB ? romBaud : 0, true);
    await this.checkCommand('change baud rate', ESP_CHANGE_BAUDRATE, data);
    await sleep(50);
    await this.transport.changeBaudrate(baud);
    await this.transport.drainInput(20, 100);
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await this.readReg(this.CHIP_DETECT_MAGIC_REG_ADDR, 1000);
        return;
      } catch (error) {
        if (attempt === 2)
          throw new FlasherError(
            'baud_unanswered',
            `the chip stopped answering after the change to ${baud} baud`,
            {
              cause: error,
            },
          );
        this.transport.flushInput();
      }
    }
  }

  /**
   * Data blocks are sent again only when that can help: after a checksum error (the block
   * was dropped) or no answer. esptool-js retries every failure, so a flash write error
   * came back as the "invalid message" of the repeated sequence number.
   */
  private async sendBlock(
    op: number,
    operation: string,
    data: Uint8Array,
    seq: number,
    timeout: number,
  ): Promise<void> {
    const packet = new Uint8Array(16 + data.length);
    const view = new DataView(packet.buffer);
    view.setUint32(0, data.length, true);
    view.setUint32(4, seq, true);
    packet.set(data, 16);
    const check = this.checksum(data);
    for (let attempt = 1; ; attempt++) {
      try {
        await this.checkCommand(`${operation} (block ${seq})`, op, packet, check, 0, timeout);
        return;
      } catch (error) {
        const retryable = !(error instanceof CommandStatusError) || CHECKSUM_STATUS.has(error.status);
        if (!retryable || attempt >= this.WRITE_BLOCK_ATTEMPTS) throw error;
        await sleep(this.WRITE_BLOCK_RETRY_DELAY_MS);
      }
    }
  }

  override async flashBlock(data: Uint8Array, seq: number, timeout: number): Promise<void> {
    await this.sendBlock(ESP_FLASH_DATA, 'write to flash', data, seq, timeout);
  }

  override async flashDeflBlock(data: Uint8Array, seq: number, timeout: number): Promise<void> {
    await this.sendBlock(ESP_FLASH_DEFL_DATA, 'write compressed data to flash', data, seq, timeout);
  }

  /** Workaround 3: the ROM's block size with the ROM, the stub's with the stub. */
  private useBlockSize(): void {
    this.FLASH_WRITE_SIZE = this.IS_STUB
      ? STUB_FLASH_WRITE_SIZE
      : (this.chip?.FLASH_WRITE_SIZE ?? ROM_FLASH_WRITE_SIZE);
  }

  override async flashBegin(size: number, offset: number): Promise<number> {
    this.useBlockSize();
    return super.flashBegin(size, offset);
  }

  override async flashDeflBegin(size: number, compsize: number, offset: number): Promise<number> {
    this.useBlockSize();
    return super.flashDeflBegin(size, compsize, offset);
  }

  /** Workaround 1: the ROM answers ASCII hex, the stub raw bytes. Returns lowercase hex. */
  override async flashMd5sum(addr: number, size: number): Promise<string> {
    const data = new Uint8Array(16);
    const view = new DataView(data.buffer);
    view.setUint32(0, addr, true);
    view.setUint32(4, size, true);
    const timeout = this.timeoutPerMb(this.MD5_TIMEOUT_PER_MB, size);
    const length = this.IS_STUB ? 16 : 32;
    const reply = (await this.checkCommand(
      'calculate MD5',
      ESP_SPI_FLASH_MD5,
      data,
      0,
      length,
      timeout,
    )) as Uint8Array;
    return this.IS_STUB ? toHex(reply) : String.fromCharCode(...reply).toLowerCase();
  }

  /**
   * Workaround 4: READ_FLASH (stub only) ends with a 16-byte MD5 packet of what was sent;
   * read it and compare, so a backup is known to be what the flash holds.
   */
  override async readFlash(
    addr: number,
    size: number,
    onPacketReceived: ((packet: Uint8Array, progress: number, totalSize: number) => void) | null = null,
  ): Promise<Uint8Array> {
    if (!this.IS_STUB)
      throw new FlasherError(
        'unsupported',
        'reading flash needs the flasher stub (the ROM has no READ_FLASH)',
      );
    const request = new Uint8Array(16);
    const view = new DataView(request.buffer);
    view.setUint32(0, addr, true);
    view.setUint32(4, size, true);
    view.setUint32(8, READ_SECTOR, true);
    view.setUint32(12, READ_IN_FLIGHT, true);
    await this.checkCommand('read flash', ESP_READ_FLASH, request);
    const out = new Uint8Array(size);
    let received = 0;
    while (received < size) {
      const packet = await this.transport.read(this.FLASH_READ_TIMEOUT);
      if (packet.length === 0) continue;
      if (received + packet.length > size)
        throw new ESPError(
          `read flash: the chip sent ${received + packet.length} bytes, ${size} were asked for`,
        );
      out.set(packet, received);
      received += packet.length;
      // acknowledge the total so far; the stub keeps READ_IN_FLIGHT packets unacknowledged
      await this.transport.write(this._intToByteArray(received));
      onPacketReceived?.(packet, received, size);
    }
    const digest = await this.transport.read(this.DEFAULT_TIMEOUT);
    if (digest.length !== 16)
      throw new ESPError(`read flash: expected a 16-byte MD5, got ${digest.length} bytes`);
    const expected = toHex(digest);
    const actual = toHex(md5(out));
    if (expected !== actual)
      throw new FlasherError(
        'md5_mismatch',
        `read flash: the data read (MD5 ${actual}) is not what the chip sent (MD5 ${expected})`,
      );
    return out;
  }
}
