// The command handlers of the ROM serial loader and of esptool's flasher stub,
// one handler per command, dispatched by one switch. Section names refer to
// esptool's "Serial Protocol" documentation (advanced-topics/serial-protocol);
// where the stub differs from the ROM, the behaviour follows the stub's source
// (flasher_stub/stub_flasher.c in esptool ≤ 4.x): it acknowledges a data block
// before writing it and reports a write's failure with the next block.
import { createHash, type Hash } from 'node:crypto';
import type { ChipProfile } from './chips.js';
import type { FlashMemory } from './flash.js';
import { StreamingInflater } from './inflater.js';
import {
  CHECKSUM_SEED,
  checksum,
  ESP_RAM_BLOCK,
  encodeResponse,
  FLASH_SECTOR_SIZE,
  Op,
  type Request,
  RomError,
  STUB_FLASH_WRITE_SIZE,
  STUB_MAX_READ_BLOCK,
  StubError,
  SYNC_PAYLOAD,
  u32le,
  words,
} from './protocol.js';
import type { RegisterFile } from './registers.js';

export type LoaderMode = 'rom' | 'stub';

/** The ROM's receive buffer: a packet with more data than a RAM block does not fit. */
const ROM_MAX_DATA = ESP_RAM_BLOCK + 16;
/** The stub's: one 16 KiB flash block plus the data header. */
const STUB_MAX_DATA = STUB_FLASH_WRITE_SIZE + 16;
/** READ_FLASH_SLOW's buffer: the most the ROM reads per command */
const READ_FLASH_SLOW_BLOCK = 64;
/** Value field of the ROM's SYNC replies (non-zero; the stub answers 0). */
const ROM_SYNC_VALUE = 0x20120707;
/** Errors the stub's erase-region handler returns raw (not 0xC* codes). */
const STUB_ERASE_UNALIGNED_ADDR = 0x32;
const STUB_ERASE_UNALIGNED_LEN = 0x33;
const STUB_ERASE_FAILED = 0x35;

/** What the loader needs from the chip around it. */
export interface LoaderHost {
  readonly profile: ChipProfile;
  readonly flash: FlashMemory;
  readonly registers: RegisterFile;
  /** current UART rate of the chip */
  readonly baud: number;
  /** SLIP-encodes and transmits one packet */
  send(packet: Uint8Array): void;
  /** the next SLIP frame from the host; undefined once this loader is gone (reset) */
  nextFrame(): Promise<Uint8Array | undefined>;
  /** the block with this sequence number of this data command arrived: maybe corrupt it (fault injection) */
  arrivingData(op: number, seq: number, data: Uint8Array): Uint8Array | 'drop-link';
  /** switches the UART after the reply has been sent */
  setBaud(baud: number): void;
  /** MEM_END jumped into uploaded code: the flasher stub now runs */
  stubStarted(): void;
  /** leave the loader and run the app in flash (FLASH_END "run user code", RUN_USER_CODE) */
  runUserCode(): void;
  /** software reset of the chip (FLASH_END "reboot") */
  softwareReset(): void;
  /** a command was answered (for events and counters) */
  answered(op: number, error: number): void;
}

interface MemSegment {
  start: number;
  size: number;
  received: number;
  blockSize: number;
  nextSeq: number;
}

/** A FLASH_BEGIN or FLASH_DEFL_BEGIN in progress. */
interface FlashSession {
  compressed: boolean;
  /** where the next decompressed/plain byte goes */
  nextWrite: number;
  /** ROM: the begin's block size and the sequence number expected next */
  blockSize: number;
  nextSeq: number;
  /** ROM: the end of the region the begin erased */
  eraseEnd: number;
  /** stub: bytes still to write, sectors erased so far */
  remaining: number;
  nextEraseSector: number;
  /** stub: an error to report with the next data block */
  lastError: number;
  inflater?: StreamingInflater;
}

export class Loader {
  private attached = false;
  private flashSession: FlashSession | undefined;
  private memSegments: MemSegment[] = [];
  private memCurrent: MemSegment | undefined;

  constructor(
    private readonly host: LoaderHost,
    public mode: LoaderMode,
  ) {}

  /** The stub replaced the ROM: its own state starts fresh. */
  becomeStub(): void {
    this.mode = 'stub';
    this.closeFlashSession();
    this.memSegments = [];
    this.memCurrent = undefined;
  }

  dispose(): void {
    this.closeFlashSession();
  }

  // ---------------------------------------------------------------------------
  // responses ("Response Packet", "Status Bytes")

  private statusBytes(error: number): number[] {
    if (this.mode === 'stub') return [error, 0];
    const bytes = error === 0 ? [0, 0] : [1, error];
    return this.host.profile.romStatusLength === 4 ? [...bytes, 0, 0] : bytes;
  }

  private reply(op: number, error: number, options: { value?: number; data?: Uint8Array } = {}): void {
    const data = error === 0 ? (options.data ?? new Uint8Array(0)) : new Uint8Array(0);
    const body = new Uint8Array(data.length + this.statusBytes(error).length);
    body.set(data, 0);
    body.set(this.statusBytes(error), data.length);
    this.host.send(encodeResponse(op, error === 0 ? (options.value ?? 0) : 0, body));
    this.host.answered(op, error);
  }

  private ok(op: number, options?: { value?: number; data?: Uint8Array }): void {
    this.reply(op, 0, options);
  }

  private fail(op: number, romError: number, stubError: number): void {
    this.reply(op, this.mode === 'rom' ? romError : stubError);
  }

  /**
   * A command the loader does not know. The ROM answers "invalid message" (0x05)
   * in a reply that does not carry the request's opcode — the shape esptool and
   * esptool-js recognise as "unsupported command" (then drain and fall back,
   * e.g. to the magic register on ESP32); the stub answers with 0xFF
   * (ESP_CMD_NOT_IMPLEMENTED) under the request's opcode.
   *
   * Newer flashers drain "up to eight" such replies; one reply is what both
   * they and esptool 4.x (which flushes right after the first) handle.
   */
  private unsupported(op: number): void {
    if (this.mode === 'stub') {
      this.reply(op, StubError.CMD_NOT_IMPLEMENTED);
      return;
    }
    this.host.send(encodeResponse(0x00, 0, Uint8Array.from(this.statusBytes(RomError.INVALID_MESSAGE))));
    this.host.answered(op, RomError.INVALID_MESSAGE);
  }

  /** The host sent a frame that is not a valid request header. */
  malformed(): void {
    // Neither loader can tell which command this was; the ROM answers "invalid message".
    if (this.mode === 'rom') {
      this.host.send(encodeResponse(0x00, 0, Uint8Array.from(this.statusBytes(RomError.INVALID_MESSAGE))));
    }
    this.host.answered(-1, this.mode === 'rom' ? RomError.INVALID_MESSAGE : StubError.BAD_DATA_LEN);
  }

  // ---------------------------------------------------------------------------
  // dispatch ("Commands")

  async handle(request: Request): Promise<void> {
    const { op, data } = request;
    if (this.mode === 'stub' && data.length > STUB_MAX_DATA) {
      // stub_flasher.c: the header goes out, then ESP_BAD_DATA_LEN and 0xEE
      const body = Uint8Array.from([StubError.BAD_DATA_LEN, 0xee]);
      this.host.send(encodeResponse(op, 0, body));
      this.host.answered(op, StubError.BAD_DATA_LEN);
      return;
    }
    if (this.mode === 'rom' && data.length > ROM_MAX_DATA) {
      // More than the ROM's buffer holds: the frame is cut short and fails its checks.
      this.reply(op, RomError.INVALID_MESSAGE);
      return;
    }
    switch (op) {
      case Op.SYNC:
        this.sync(request);
        return;
      case Op.READ_REG:
        this.readReg(request);
        return;
      case Op.WRITE_REG:
        this.writeReg(request);
        return;
      case Op.SPI_SET_PARAMS:
        this.spiSetParams(request);
        return;
      case Op.SPI_ATTACH:
        this.spiAttach(request);
        return;
      case Op.CHANGE_BAUDRATE:
        this.changeBaudrate(request);
        return;
      case Op.GET_SECURITY_INFO:
        this.getSecurityInfo(request);
        return;
      case Op.MEM_BEGIN:
        this.memBegin(request);
        return;
      case Op.MEM_DATA:
        this.memData(request);
        return;
      case Op.MEM_END:
        this.memEnd(request);
        return;
      case Op.FLASH_BEGIN:
        this.flashBegin(request, false);
        return;
      case Op.FLASH_DEFL_BEGIN:
        this.flashBegin(request, true);
        return;
      case Op.FLASH_DATA:
        await this.flashData(request, false);
        return;
      case Op.FLASH_DEFL_DATA:
        await this.flashData(request, true);
        return;
      case Op.FLASH_END:
      case Op.FLASH_DEFL_END:
        this.flashEnd(request);
        return;
      case Op.SPI_FLASH_MD5:
        this.flashMd5(request);
        return;
      case Op.READ_FLASH_SLOW:
        if (this.mode === 'rom') this.readFlashSlow(request);
        else this.unsupported(op);
        return;
      case Op.READ_FLASH:
        if (this.mode === 'stub') await this.readFlash(request);
        else this.unsupported(op);
        return;
      case Op.ERASE_FLASH:
        if (this.mode === 'stub') this.eraseFlash(request);
        else this.unsupported(op);
        return;
      case Op.ERASE_REGION:
        if (this.mode === 'stub') this.eraseRegion(request);
        else this.unsupported(op);
        return;
      case Op.RUN_USER_CODE:
        if (this.mode === 'rom') {
          this.unsupported(op);
          return;
        }
        // "Exits loader and runs user code": no response.
        this.host.answered(op, 0);
        this.host.runUserCode();
        return;
      default:
        this.unsupported(op);
        return;
    }
  }

  /** Length check: the stub wants exact lengths (ESP_BAD_DATA_LEN); the ROM at least the words it reads. */
  private lengthOk(op: number, data: Uint8Array, exact: number, romMinimum = exact): boolean {
    const ok = this.mode === 'stub' ? data.length === exact : data.length >= romMinimum;
    if (!ok) this.fail(op, RomError.INVALID_MESSAGE, StubError.BAD_DATA_LEN);
    return ok;
  }

  // ---------------------------------------------------------------------------
  // "Initial Synchronisation"

  private sync({ op, data }: Request): void {
    const valid = data.length === SYNC_PAYLOAD.length && data.every((byte, i) => byte === SYNC_PAYLOAD[i]);
    if (!valid) {
      this.fail(op, RomError.INVALID_MESSAGE, StubError.BAD_DATA_LEN);
      return;
    }
    // The ROM answers a SYNC eight times; the stub does the same, with value 0 so
    // flashers can tell they are talking to a stub that is still running.
    const value = this.mode === 'rom' ? ROM_SYNC_VALUE : 0;
    for (let i = 0; i < 8; i++) this.ok(op, { value });
  }

  // "32-Bit Read/Write"

  private readReg({ op, data }: Request): void {
    if (!this.lengthOk(op, data, 4)) return;
    this.ok(op, { value: this.host.registers.read(words(data)[0]!) });
  }

  private writeReg({ op, data }: Request): void {
    if (data.length === 0 || data.length % 16 !== 0) {
      this.fail(op, RomError.INVALID_MESSAGE, StubError.BAD_DATA_LEN);
      return;
    }
    const w = words(data);
    for (let i = 0; i < w.length; i += 4) this.host.registers.write(w[i]!, w[i + 1]!, w[i + 2]!);
    this.ok(op);
  }

  // "SPI Configuration Commands"

  private spiSetParams({ op, data }: Request): void {
    if (!this.lengthOk(op, data, 24)) return;
    this.ok(op);
  }

  private spiAttach({ op, data }: Request): void {
    // The ROM takes a second, zero word; tolerated when missing, as the ROM reads past it.
    if (!this.lengthOk(op, data, 4)) return;
    this.attached = true;
    this.ok(op);
  }

  /** "On the ROM loader, it is required to send [SPI_ATTACH] before interacting with SPI flash." */
  private flashReady(op: number): boolean {
    if (this.mode === 'stub' || this.attached) return true;
    this.reply(op, RomError.FAILED_TO_ACT);
    return false;
  }

  // CHANGE_BAUDRATE: new rate, then 0 (ROM) or the current rate (stub)

  private changeBaudrate({ op, data }: Request): void {
    if (!this.lengthOk(op, data, 8)) return;
    const [requested, old] = words(data) as [number, number];
    if (requested === 0) {
      this.fail(op, RomError.INVALID_MESSAGE, StubError.BAD_DATA_LEN);
      return;
    }
    this.ok(op);
    if (this.mode === 'rom') {
      this.host.setBaud(requested);
      return;
    }
    // The stub derives the new divider from the old rate the host says it used:
    // new divider = divider × old / new. A wrong "old" gives a wrong rate; 0 stops the UART.
    this.host.setBaud(old === 0 ? 0 : Math.round((this.host.baud * requested) / old));
  }

  // GET_SECURITY_INFO: flags, flash_crypt_cnt, 7 key purposes, chip id, eco version

  private getSecurityInfo({ op, data }: Request): void {
    const chipId = this.host.profile.securityChipId;
    if (chipId === undefined) {
      this.unsupported(op);
      return;
    }
    if (!this.lengthOk(op, data, 0)) return;
    const info = new Uint8Array(20);
    info.set(u32le(chipId, 0), 12);
    this.ok(op, { data: info });
  }

  // ---------------------------------------------------------------------------
  // "Writing Data": RAM download

  private memBegin({ op, data }: Request): void {
    if (!this.lengthOk(op, data, 16)) return;
    const [size, blocks, blockSize, offset] = words(data) as [number, number, number, number];
    const inRam = this.host.profile.ram.some(([start, end]) => offset >= start && offset + size <= end);
    if (blocks * blockSize < size || blockSize > ESP_RAM_BLOCK) {
      this.fail(op, RomError.INVALID_MESSAGE, StubError.BAD_BLOCKSIZE);
      return;
    }
    if (!inRam) {
      this.fail(op, RomError.FAILED_TO_ACT, StubError.INVALID_COMMAND);
      return;
    }
    this.memCurrent = { start: offset, size, received: 0, blockSize, nextSeq: 0 };
    this.memSegments.push(this.memCurrent);
    this.ok(op);
  }

  private memData(request: Request): void {
    const { op } = request;
    const block = this.dataBlock(request);
    if (!block) return;
    const segment = this.memCurrent;
    if (!segment) {
      this.fail(op, RomError.FAILED_TO_ACT, StubError.NOT_IN_FLASH_MODE);
      return;
    }
    if (block.seq !== segment.nextSeq && this.mode === 'rom') {
      this.reply(op, RomError.INVALID_MESSAGE);
      return;
    }
    if (segment.received + block.payload.length > segment.size) {
      this.fail(op, RomError.INVALID_MESSAGE, StubError.TOO_MUCH_DATA);
      return;
    }
    segment.received += block.payload.length;
    segment.nextSeq++;
    this.ok(op);
  }

  private memEnd({ op, data }: Request): void {
    if (!this.lengthOk(op, data, 8)) return;
    const [noEntry, entry] = words(data) as [number, number];
    this.ok(op);
    this.memCurrent = undefined;
    if (noEntry !== 0 || entry === 0 || this.mode === 'stub') return;
    const loaded = this.memSegments.find(
      (s) => entry >= s.start && entry < s.start + s.size && s.received === s.size,
    );
    if (loaded) this.host.stubStarted();
    // A jump into RAM that was never loaded crashes the chip, which then resets.
    else this.host.softwareReset();
  }

  // ---------------------------------------------------------------------------
  // "Writing Data": flash download, plain and compressed

  private flashBegin({ op, data }: Request, compressed: boolean): void {
    // The stub takes 16 bytes or 20 with a fifth "encrypt" word, which esptool ≥ 4
    // always sends it (stub_flasher.c: data_len 16 or 20, else ESP_BAD_DATA_LEN).
    if (this.mode === 'stub' && data.length !== 16 && data.length !== 20) {
      this.reply(op, StubError.BAD_DATA_LEN);
      return;
    }
    if (!this.lengthOk(op, data, data.length === 20 ? 20 : 16, 16)) return;
    if (!this.flashReady(op)) return;
    const [size, , blockSize, offset, encryptWord = 0] = words(data) as [
      number,
      number,
      number,
      number,
      number?,
    ];
    const encrypted = (this.mode === 'stub' || this.host.profile.romBeginHasEncryptWord) && encryptWord !== 0;
    this.closeFlashSession();
    if (this.mode === 'stub') {
      if (blockSize > STUB_FLASH_WRITE_SIZE) {
        this.reply(op, StubError.BAD_BLOCKSIZE);
        return;
      }
      // The simulated chip has no flash-encryption key: an encrypted write is
      // refused rather than silently written in plain.
      if (encrypted) {
        this.reply(op, StubError.FAILED_SPI_OP);
        return;
      }
      // The stub erases just in time, sector by sector, as data arrives.
      this.flashSession = {
        compressed,
        nextWrite: offset,
        blockSize,
        nextSeq: 0,
        eraseEnd: offset + size,
        remaining: size,
        nextEraseSector: Math.floor(offset / FLASH_SECTOR_SIZE),
        lastError: 0,
        inflater: compressed ? new StreamingInflater() : undefined,
      };
      this.ok(op);
      return;
    }
    // The ROM erases the whole region up front ("The ROM loaders erase the
    // to-be-written region in response to the FLASH_BEGIN command").
    if (encrypted || !this.host.flash.eraseRange(offset, size)) {
      this.reply(op, RomError.FAILED_TO_ACT);
      return;
    }
    this.flashSession = {
      compressed,
      nextWrite: offset,
      blockSize,
      nextSeq: 0,
      eraseEnd: offset + size,
      remaining: size,
      nextEraseSector: 0,
      lastError: 0,
      inflater: compressed ? new StreamingInflater() : undefined,
    };
    this.ok(op);
  }

  /** Parses the "data payload" of a _DATA command and checks its length field and checksum. */
  private dataBlock({ op, data, checksum: sent }: Request): { seq: number; payload: Uint8Array } | undefined {
    if (data.length < 16) {
      this.fail(op, RomError.INVALID_MESSAGE, StubError.BAD_DATA_LEN);
      return undefined;
    }
    const [length, seq] = words(data.subarray(0, 8)) as [number, number];
    const arrived = this.host.arrivingData(op, seq, data.subarray(16));
    if (arrived === 'drop-link') return undefined;
    if (length !== arrived.length) {
      this.fail(op, RomError.INVALID_MESSAGE, StubError.BAD_DATA_LEN);
      return undefined;
    }
    if ((sent & 0xff) !== checksum(arrived, CHECKSUM_SEED) || sent >>> 8 !== 0) {
      this.fail(op, RomError.INVALID_CRC, StubError.BAD_DATA_CHECKSUM);
      return undefined;
    }
    return { seq, payload: arrived };
  }

  private async flashData(request: Request, compressed: boolean): Promise<void> {
    const { op } = request;
    const session = this.flashSession;
    if (this.mode === 'stub' && !session) {
      this.reply(op, StubError.NOT_IN_FLASH_MODE);
      return;
    }
    const block = this.dataBlock(request);
    if (!block) return;
    if (!session) {
      this.reply(op, RomError.FAILED_TO_ACT);
      return;
    }
    if (this.mode === 'stub') {
      // Acknowledged at once with the previous block's outcome, then written.
      this.reply(op, session.lastError);
      if (session.lastError === 0) await this.stubWrite(session, block.payload, compressed);
      return;
    }
    if (block.seq !== session.nextSeq || block.payload.length > session.blockSize) {
      this.reply(op, RomError.INVALID_MESSAGE);
      return;
    }
    if (compressed !== session.compressed) {
      this.reply(op, RomError.FAILED_TO_ACT);
      return;
    }
    session.nextSeq++;
    // The ROM writes before it answers, and reads back what it wrote.
    let output = block.payload;
    if (compressed) {
      const step = await session.inflater!.push(block.payload);
      if (!step.ok) {
        this.reply(op, RomError.DEFLATE_ERROR);
        return;
      }
      output = step.output;
    }
    if (session.nextWrite + output.length > session.eraseEnd && compressed) {
      this.reply(op, RomError.DEFLATE_ERROR);
      return;
    }
    const ok = this.programAndVerify(session.nextWrite, output);
    session.nextWrite += output.length;
    this.reply(op, ok ? 0 : RomError.FLASH_WRITE_ERROR);
  }

  private programAndVerify(offset: number, data: Uint8Array): boolean {
    if (!this.host.flash.program(offset, data)) return false;
    const back = this.host.flash.read(offset, data.length)!;
    return back.every((byte, i) => byte === data[i]);
  }

  /** stub_write_flash.c: trims padding past the announced size, erases ahead, programs. */
  private async stubWrite(session: FlashSession, payload: Uint8Array, compressed: boolean): Promise<void> {
    let data = payload;
    if (compressed) {
      if (session.remaining === 0 && payload.length > 4) {
        session.lastError = StubError.TOO_MUCH_DATA;
        return;
      }
      if (!session.inflater) {
        session.lastError = StubError.INFLATE_ERROR;
        return;
      }
      const step = await session.inflater.push(payload);
      if (!step.ok) {
        session.lastError = StubError.INFLATE_ERROR;
        return;
      }
      data = step.output;
    }
    if (data.length > session.remaining) data = data.subarray(0, session.remaining);
    if (data.length === 0) return;
    const lastSector = Math.floor((session.nextWrite + data.length - 1) / FLASH_SECTOR_SIZE);
    // A failed erase or write is remembered, but the data counts as consumed (as in the stub).
    let ok = true;
    while (ok && session.nextEraseSector <= lastSector) {
      ok = this.host.flash.eraseSector(session.nextEraseSector);
      session.nextEraseSector++;
    }
    if (!ok || !this.host.flash.program(session.nextWrite, data)) session.lastError = StubError.FAILED_SPI_OP;
    session.nextWrite += data.length;
    session.remaining -= data.length;
  }

  private flashEnd({ op, data }: Request): void {
    const session = this.flashSession;
    const runUserCode = (words(data)[0] ?? 0) !== 0;
    if (this.mode === 'stub') {
      if (!session) {
        this.reply(op, StubError.NOT_IN_FLASH_MODE);
        return;
      }
      if (session.remaining > 0) {
        this.reply(op, StubError.NOT_ENOUGH_DATA);
        return;
      }
      this.closeFlashSession();
      this.reply(op, session.lastError);
      // 0 = reboot now; 1 leaves the stub running
      if (session.lastError === 0 && !runUserCode) this.host.softwareReset();
      return;
    }
    if (!this.lengthOk(op, data, 4)) return;
    this.closeFlashSession();
    this.ok(op);
    if (runUserCode) this.host.runUserCode();
    else this.host.softwareReset();
  }

  private closeFlashSession(): void {
    this.flashSession?.inflater?.close();
    this.flashSession = undefined;
  }

  // ---------------------------------------------------------------------------
  // "Verifying Uploaded Data": ROM → 32 ASCII hex characters, stub → 16 raw bytes

  private flashMd5({ op, data }: Request): void {
    if (!this.lengthOk(op, data, 16)) return;
    if (!this.flashReady(op)) return;
    const [address, size] = words(data) as [number, number];
    const digest = this.host.flash.md5(address, size);
    if (!digest) {
      this.fail(op, RomError.FLASH_READ_LENGTH_ERROR, StubError.FAILED_SPI_OP);
      return;
    }
    if (this.mode === 'stub') {
      this.ok(op, { data: digest });
      return;
    }
    const hex = Buffer.from(digest).toString('hex');
    this.ok(op, { data: new TextEncoder().encode(hex) });
  }

  /** "The ROM loader read flash command is more normal but also much slower": 64 bytes at most. */
  private readFlashSlow({ op, data }: Request): void {
    if (!this.lengthOk(op, data, 8)) return;
    if (!this.flashReady(op)) return;
    const [address, length] = words(data) as [number, number];
    if (length > READ_FLASH_SLOW_BLOCK) {
      this.reply(op, RomError.FLASH_READ_LENGTH_ERROR);
      return;
    }
    const chunk = this.host.flash.read(address, length);
    if (!chunk) {
      this.reply(op, RomError.FLASH_READ_ERROR);
      return;
    }
    // always a full 64-byte buffer, whatever was asked for
    const buffer = new Uint8Array(READ_FLASH_SLOW_BLOCK);
    buffer.set(chunk);
    this.ok(op, { data: buffer });
  }

  // ---------------------------------------------------------------------------
  // stub only: "Reading Flash", ERASE_FLASH, ERASE_REGION

  private async readFlash({ op, data }: Request): Promise<void> {
    if (!this.lengthOk(op, data, 16)) return;
    const [address, length, blockSize, maxInFlight] = words(data) as [number, number, number, number];
    this.ok(op);
    if (blockSize > STUB_MAX_READ_BLOCK || blockSize === 0) return;
    const digest = new Md5Stream();
    let sent = 0;
    let acked = 0;
    // stub_commands.c counts "in flight" in bytes: with the usual arguments that is one packet
    while (acked < length && acked <= sent) {
      let failed = false;
      while (sent < length && sent - acked < maxInFlight) {
        const n = Math.min(blockSize, length - sent);
        const chunk = this.host.flash.read(address + sent, n);
        if (!chunk) {
          failed = true;
          break;
        }
        this.host.send(chunk);
        digest.update(chunk);
        sent += n;
      }
      if (failed && sent === acked) break;
      const ack = await this.host.nextFrame();
      if (!ack) return;
      if (ack.length !== 4) break;
      acked = new DataView(ack.buffer, ack.byteOffset, 4).getUint32(0, true);
      if (failed) break;
    }
    this.host.send(digest.digest());
  }

  private eraseFlash({ op, data }: Request): void {
    if (!this.lengthOk(op, data, 0)) return;
    this.host.flash.eraseAll();
    this.ok(op);
  }

  private eraseRegion({ op, data }: Request): void {
    if (!this.lengthOk(op, data, 8)) return;
    const [address, length] = words(data) as [number, number];
    if (address % FLASH_SECTOR_SIZE !== 0) {
      this.reply(op, STUB_ERASE_UNALIGNED_ADDR);
      return;
    }
    if (length % FLASH_SECTOR_SIZE !== 0) {
      this.reply(op, STUB_ERASE_UNALIGNED_LEN);
      return;
    }
    if (!this.host.flash.eraseRange(address, length)) {
      this.reply(op, STUB_ERASE_FAILED);
      return;
    }
    this.ok(op);
  }
}

class Md5Stream {
  private readonly hash: Hash = createHash('md5');
  update(data: Uint8Array): void {
    this.hash.update(data);
  }
  digest(): Uint8Array {
    return new Uint8Array(this.hash.digest());
  }
}
