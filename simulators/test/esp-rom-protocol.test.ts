// The ESP ROM simulator at the byte level: hand-written SLIP packets in, exact
// replies out, following esptool's "Serial Protocol" documentation — and every
// error code a flasher can meet, each for one specific bad input.
import { createHash } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { FlashMemory } from '../src/esp-rom/flash.js';
import {
  CHIP_DETECT_MAGIC_REG_ADDR,
  EspRomOptionsError,
  EspRomSimulator,
  type EspRomSimulatorOptions,
  espChecksum,
  EspOp as Op,
  pinsFor,
  SlipDecoder,
  slipEncode,
  waitForEvent,
} from '../src/index.js';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
const bytes = (text: string) => Uint8Array.from(Buffer.from(text.replace(/\s+/g, ''), 'hex'));
const u32 = (...values: number[]) => {
  const out = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => {
    out.writeUInt32LE(v >>> 0, i * 4);
  });
  return new Uint8Array(out);
};

/** A host on the other end of the UART: sends requests, collects SLIP frames and raw text. */
class Host {
  readonly frames: Uint8Array[] = [];
  text = '';
  private waiters: (() => void)[] = [];
  private readonly decoder = new SlipDecoder((event) => {
    if (event.kind === 'packet') this.frames.push(event.packet);
  });

  constructor(readonly sim: EspRomSimulator) {
    sim.onTransmit((chunk) => {
      this.text += Buffer.from(chunk).toString('latin1');
      this.decoder.push(chunk);
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  raw(data: Uint8Array): void {
    this.sim.receive(data);
  }

  send(op: number, data: Uint8Array = new Uint8Array(0), checksum = 0): void {
    const header = Buffer.alloc(8);
    header[1] = op;
    header.writeUInt16LE(data.length, 2);
    header.writeUInt32LE(checksum >>> 0, 4);
    this.raw(slipEncode(new Uint8Array(Buffer.concat([header, data]))));
  }

  /** A _DATA command with its 16-byte data header and a correct checksum (unless given). */
  sendData(op: number, seq: number, payload: Uint8Array, checksum = espChecksum(payload)): void {
    this.send(op, new Uint8Array(Buffer.concat([u32(payload.length, seq, 0, 0), payload])), checksum);
  }

  async frame(timeoutMs = 5000): Promise<Uint8Array> {
    const deadline = Date.now() + timeoutMs;
    while (this.frames.length === 0) {
      if (Date.now() > deadline) throw new Error('no reply from the simulator');
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
    return this.frames.shift()!;
  }

  /** The next reply: value and the status bytes after `dataLength` bytes of data. */
  async reply(dataLength = 0) {
    const frame = await this.frame();
    const view = Buffer.from(frame);
    return {
      frame,
      op: frame[1]!,
      value: view.readUInt32LE(4),
      data: frame.subarray(8, 8 + dataLength),
      status: [...frame.subarray(8 + dataLength)],
    };
  }

  async waitForText(pattern: RegExp, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(this.text)) {
      if (Date.now() > deadline) throw new Error(`no ${pattern} in ${JSON.stringify(this.text)}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** Nothing arrives for a while (silence is the expected answer). */
  async silence(ms = 150): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, ms));
    expect(this.frames).toEqual([]);
  }

  async sync(): Promise<void> {
    this.send(Op.SYNC, SYNC);
    for (let i = 0; i < 8; i++) await this.reply();
  }
}

const SYNC = bytes(`07071220 ${'55'.repeat(32)}`);
const OK4 = [0, 0, 0, 0];

function downloadMode(options: Partial<EspRomSimulatorOptions> = {}) {
  const sim = new EspRomSimulator({ chip: 'esp32', ...options });
  const host = new Host(sim);
  sim.resetIntoDownloadMode();
  return { sim, host };
}

/** Uploads a pretend stub (any code that the entry point falls into) and waits for OHAI. */
async function startStub(host: Host, entry = 0x400a8000): Promise<void> {
  const code = new Uint8Array(64).fill(0x42);
  host.send(Op.MEM_BEGIN, u32(code.length, 1, 0x1800, entry));
  expect((await host.reply()).status.slice(0, 2)).toEqual([0, 0]);
  host.sendData(Op.MEM_DATA, 0, code);
  expect((await host.reply()).status.slice(0, 2)).toEqual([0, 0]);
  host.send(Op.MEM_END, u32(0, entry));
  expect((await host.reply()).status.slice(0, 2)).toEqual([0, 0]);
  expect(hex(await host.frame())).toBe(hex(new TextEncoder().encode('OHAI')));
}

describe('SLIP framing', () => {
  it('escapes 0xC0 and 0xDB inside a packet and decodes them back', () => {
    expect(hex(slipEncode(bytes('01 c0 02 db 03')))).toBe('c001dbdc02dbdd03c0');
    const packets: string[] = [];
    const decoder = new SlipDecoder((e) => {
      if (e.kind === 'packet') packets.push(hex(e.packet));
    });
    decoder.push(bytes('ffff c001dbdc02dbdd03c0 c0c0 c0aa'));
    decoder.push(bytes('bbc0'));
    expect(packets).toEqual(['01c002db03', 'aabb']);
  });
});

describe('ROM loader, byte for byte', () => {
  it('prints the ROM banner and answers SYNC eight times with the ROM value and 4 status bytes', async () => {
    const { host } = downloadMode();
    await host.waitForText(/waiting for download/);
    expect(host.text).toContain(
      'rst:0x1 (POWERON_RESET),boot:0x3 (DOWNLOAD_BOOT(UART0/UART1/SDIO_REI_REO_V2))',
    );
    host.raw(bytes(`c0 0008 2400 00000000 07071220 ${'55'.repeat(32)} c0`));
    for (let i = 0; i < 8; i++) expect(hex(await host.frame())).toBe('010804000707122000000000');
  });

  it('reads the chip-detect magic register (READ_REG 0x40001000)', async () => {
    const { host } = downloadMode();
    host.raw(bytes('c0 000a 0400 00000000 00100040 c0'));
    expect(hex(await host.frame())).toBe('010a0400831df00000000000');
  });

  it('reports each chip by magic value and, where the ROM has it, by GET_SECURITY_INFO chip id', async () => {
    const expected = { esp32s3: [0x09, 9], esp32c3: [0x1b31506f, 5], esp32p4: [0x0addbad0, 18] } as const;
    for (const [chip, [magic, chipId]] of Object.entries(expected)) {
      const { host } = downloadMode({ chip: chip as keyof typeof expected });
      host.send(Op.READ_REG, u32(CHIP_DETECT_MAGIC_REG_ADDR));
      expect((await host.reply()).value).toBe(magic);
      host.send(Op.GET_SECURITY_INFO);
      const info = await host.reply(20);
      expect(Buffer.from(info.data).readUInt32LE(12)).toBe(chipId);
      expect(info.status).toEqual(OK4);
    }
  });

  it('refuses GET_SECURITY_INFO on the ESP32 ROM as an unsupported command: 0x05 in a reply without its opcode', async () => {
    const { host, sim } = downloadMode();
    host.send(Op.GET_SECURITY_INFO);
    expect(hex(await host.frame())).toBe('010004000000000001050000');
    await host.silence();
    expect(sim.stats.errors).toBe(1);
  });

  it('answers an unknown opcode and stub-only commands the same way, and keeps serving', async () => {
    const { host } = downloadMode();
    for (const op of [0x77, Op.READ_FLASH, Op.ERASE_FLASH]) {
      host.send(op, u32(0, 0, 0, 0));
      expect((await host.reply()).status).toEqual([1, 5, 0, 0]);
    }
    await host.sync();
  });

  it('reads the MAC and the UART clock divider (40 MHz crystal at 115200 baud) from registers', async () => {
    const { host, sim } = downloadMode({ mac: bytes('aabbccddeeff') });
    host.send(Op.READ_REG, u32(0x3ff5a004));
    expect((await host.reply()).value).toBe(0xccddeeff);
    host.send(Op.READ_REG, u32(0x3ff5a008));
    expect((await host.reply()).value & 0xffff).toBe(0xaabb);
    host.send(Op.READ_REG, u32(0x3ff40014));
    expect((await host.reply()).value).toBe(Math.round(40e6 / 115200));
    expect([...sim.mac]).toEqual([0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff]);
  });

  it('runs RDID through the SPI peripheral registers: W0 holds the JEDEC id, SPI_CMD_USR clears', async () => {
    const { host } = downloadMode({ flashSize: 8 * 1024 * 1024 });
    const base = 0x3ff42000;
    host.send(Op.WRITE_REG, u32(base + 0x1c, 1 << 28, 0xffffffff, 0)); // SPI_USR: MISO phase
    await host.reply();
    host.send(Op.WRITE_REG, u32(base + 0x24, (7 << 28) | 0x9f, 0xffffffff, 0)); // SPI_USR2: command 0x9F
    await host.reply();
    host.send(Op.WRITE_REG, u32(base, 1 << 18, 0xffffffff, 0)); // SPI_CMD: USR
    await host.reply();
    host.send(Op.READ_REG, u32(base));
    expect((await host.reply()).value & (1 << 18)).toBe(0);
    host.send(Op.READ_REG, u32(base + 0x80));
    expect((await host.reply()).value).toBe(0x1740ef); // 0x17: 8 MB
  });

  it('writes flash after SPI_ATTACH, verifies by MD5 as 32 ASCII hex characters, and runs the app', async () => {
    const { host, sim } = downloadMode();
    const image = new Uint8Array(0x400).fill(0x11);
    image[0] = 0xe9;
    new DataView(image.buffer).setUint32(4, 0x40080400, true);
    host.send(Op.SPI_ATTACH, u32(0, 0));
    expect((await host.reply()).status).toEqual(OK4);
    host.send(Op.FLASH_BEGIN, u32(0x400, 1, 0x400, 0x1000));
    expect((await host.reply()).status).toEqual(OK4);
    host.sendData(Op.FLASH_DATA, 0, image);
    expect((await host.reply()).status).toEqual(OK4);
    expect(hex(sim.flash.subarray(0x1000, 0x1400))).toBe(hex(image));
    host.send(Op.SPI_FLASH_MD5, u32(0x1000, 0x400, 0, 0));
    const md5 = await host.reply(32);
    expect(new TextDecoder().decode(md5.data)).toBe(createHash('md5').update(image).digest('hex'));
    expect(md5.status).toEqual(OK4);
    const booted = waitForEvent(sim, 'app-booted');
    host.send(Op.FLASH_END, u32(1));
    expect((await host.reply()).status).toEqual(OK4);
    expect((await booted)[0]).toEqual({ image: 'valid', entry: 0x40080400 });
    expect(sim.state).toBe('app');
    await host.waitForText(/entry 0x40080400/);
    host.send(Op.SYNC, SYNC);
    await host.silence();
  });

  it('inflates FLASH_DEFL_DATA block by block, writing before each answer', async () => {
    const { host, sim } = downloadMode({ chip: 'esp32c3' });
    const image = new Uint8Array(10_000).map((_, i) => (i * 31) % 256);
    const packed = deflateSync(image);
    host.send(Op.SPI_ATTACH, u32(0, 0));
    await host.reply();
    const blocks = Math.ceil(packed.length / 0x400);
    // the ROM's size is rounded up to whole blocks; C3's ROM takes a fifth word (not encrypted)
    host.send(Op.FLASH_DEFL_BEGIN, u32(Math.ceil(image.length / 0x400) * 0x400, blocks, 0x400, 0x8000, 0));
    expect((await host.reply()).status).toEqual(OK4);
    for (let seq = 0; seq < blocks; seq++) {
      host.sendData(Op.FLASH_DEFL_DATA, seq, packed.subarray(seq * 0x400, (seq + 1) * 0x400));
      expect((await host.reply()).status).toEqual(OK4);
    }
    expect(hex(sim.flash.subarray(0x8000, 0x8000 + image.length))).toBe(hex(image));
  });

  it('keeps NOR semantics: programming only clears bits until a sector is erased', () => {
    const flash = new FlashMemory({ size: 0x40000 });
    expect(flash.program(0x10, bytes('f0'))).toBe(true);
    expect(flash.program(0x10, bytes('3c'))).toBe(true);
    expect(flash.bytes[0x10]).toBe(0x30);
    expect(flash.eraseRange(0x10, 1)).toBe(true);
    expect(flash.bytes[0x10]).toBe(0xff);
    expect(flash.bytes[0xfff]).toBe(0xff);
    expect(flash.program(0x3ffff, bytes('0000'))).toBe(false);
  });
});

describe('ROM READ_FLASH_SLOW', () => {
  it('reads up to 64 bytes per command into a 64-byte buffer; more is a read length error, past the end a read error', async () => {
    const { host, sim } = downloadMode({ flashSize: 0x40000 });
    sim.flash.set(bytes('0102030405'), 0x100);
    host.send(Op.SPI_ATTACH, u32(0, 0));
    await host.reply();
    host.send(Op.READ_FLASH_SLOW, u32(0x100, 4));
    const reply = await host.reply(64);
    expect(hex(reply.data)).toBe(`01020304${'00'.repeat(60)}`);
    expect(reply.status).toEqual(OK4);
    host.send(Op.READ_FLASH_SLOW, u32(0x100, 65));
    expect((await host.reply()).status).toEqual([1, 0x0a, 0, 0]);
    host.send(Op.READ_FLASH_SLOW, u32(0x3fff0, 64));
    expect((await host.reply()).status).toEqual([1, 0x09, 0, 0]);
  });
});

describe('ROM loader errors', () => {
  it('0x06 for flash commands before SPI_ATTACH (FLASH_BEGIN, SPI_FLASH_MD5)', async () => {
    const { host } = downloadMode();
    host.send(Op.FLASH_BEGIN, u32(0x1000, 4, 0x400, 0));
    expect((await host.reply()).status).toEqual([1, 6, 0, 0]);
    host.send(Op.SPI_FLASH_MD5, u32(0, 0x1000, 0, 0));
    expect((await host.reply()).status).toEqual([1, 6, 0, 0]);
  });

  it('0x07 for a data block whose checksum does not match, and the block is not written', async () => {
    const { host, sim } = downloadMode();
    host.send(Op.SPI_ATTACH, u32(0, 0));
    await host.reply();
    host.send(Op.FLASH_BEGIN, u32(0x400, 1, 0x400, 0));
    await host.reply();
    const block = new Uint8Array(0x400).fill(0x5a);
    host.sendData(Op.FLASH_DATA, 0, block, espChecksum(block) ^ 0x01);
    expect((await host.reply()).status).toEqual([1, 7, 0, 0]);
    expect(sim.flash[0]).toBe(0xff);
    host.sendData(Op.FLASH_DATA, 0, block);
    expect((await host.reply()).status).toEqual(OK4);
  });

  it('0x05 for an out-of-sequence block, a wrong length field, a malformed frame and a stub-sized block', async () => {
    const { host } = downloadMode();
    host.send(Op.SPI_ATTACH, u32(0, 0));
    await host.reply();
    host.send(Op.FLASH_BEGIN, u32(0x800, 2, 0x400, 0));
    await host.reply();
    const block = new Uint8Array(0x400).fill(1);
    host.sendData(Op.FLASH_DATA, 1, block);
    expect((await host.reply()).status).toEqual([1, 5, 0, 0]);
    host.send(Op.FLASH_DATA, new Uint8Array(Buffer.concat([u32(0x3ff, 0, 0, 0), block])), espChecksum(block));
    expect((await host.reply()).status).toEqual([1, 5, 0, 0]);
    host.raw(bytes('c0 0102 c0'));
    expect(hex(await host.frame())).toBe('010004000000000001050000');
    // esptool-js uses the stub's 16 KiB blocks with the ROM: more than its buffer holds
    const big = new Uint8Array(0x4000).fill(2);
    host.sendData(Op.FLASH_DATA, 0, big);
    expect((await host.reply()).status).toEqual([1, 5, 0, 0]);
  });

  it('0x06 when FLASH_BEGIN reaches past the end of flash, 0x0A when SPI_FLASH_MD5 does', async () => {
    const { host } = downloadMode({ flashSize: 0x40000 });
    host.send(Op.SPI_ATTACH, u32(0, 0));
    await host.reply();
    host.send(Op.FLASH_BEGIN, u32(0x2000, 8, 0x400, 0x3f000));
    expect((await host.reply()).status).toEqual([1, 6, 0, 0]);
    host.send(Op.SPI_FLASH_MD5, u32(0x3f000, 0x2000, 0, 0));
    expect((await host.reply()).status).toEqual([1, 0x0a, 0, 0]);
  });

  it('0x0B when compressed data is not a zlib stream', async () => {
    const { host } = downloadMode();
    host.send(Op.SPI_ATTACH, u32(0, 0));
    await host.reply();
    host.send(Op.FLASH_DEFL_BEGIN, u32(0x1000, 1, 0x400, 0));
    await host.reply();
    host.sendData(Op.FLASH_DEFL_DATA, 0, bytes('00112233445566778899'));
    expect((await host.reply()).status).toEqual([1, 0x0b, 0, 0]);
  });

  it('0x08 when a block does not read back as written (a stuck flash cell)', async () => {
    const { host } = downloadMode({ faults: { stuckFlashCells: [0x2010] } });
    host.send(Op.SPI_ATTACH, u32(0, 0));
    await host.reply();
    host.send(Op.FLASH_BEGIN, u32(0x400, 1, 0x400, 0x2000));
    await host.reply();
    host.sendData(Op.FLASH_DATA, 0, new Uint8Array(0x400));
    expect((await host.reply()).status).toEqual([1, 8, 0, 0]);
  });

  it('ignores garbage before SYNC (counted as noise) and still syncs', async () => {
    const { host, sim } = downloadMode();
    host.raw(bytes('00ff12345678aa55'));
    await host.sync();
    expect(sim.stats.noiseBytes).toBeGreaterThanOrEqual(8);
  });

  it('0x05 for a SYNC with the wrong payload', async () => {
    const { host } = downloadMode();
    host.send(Op.SYNC, SYNC.subarray(0, 20));
    expect((await host.reply()).status).toEqual([1, 5, 0, 0]);
  });
});

describe('flasher stub', () => {
  it('greets with OHAI, answers SYNC with value 0 and MD5 as 16 raw bytes with 2 status bytes', async () => {
    const { host, sim } = downloadMode();
    await host.sync();
    await startStub(host);
    expect(sim.state).toBe('stub');
    host.send(Op.SYNC, SYNC);
    for (let i = 0; i < 8; i++) expect(hex(await host.frame())).toBe('0108020000000000' + '0000');
    sim.flash.fill(0x33, 0, 0x100);
    host.send(Op.SPI_FLASH_MD5, u32(0, 0x100, 0, 0));
    const md5 = await host.reply(16);
    expect(hex(md5.data)).toBe(createHash('md5').update(sim.flash.subarray(0, 0x100)).digest('hex'));
    expect(md5.status).toEqual([0, 0]);
  });

  it('streams READ_FLASH one acknowledged packet at a time and ends with the MD5', async () => {
    const { host, sim } = downloadMode();
    await startStub(host);
    sim.flash.set(
      new Uint8Array(0x2800).map((_, i) => i % 253),
      0x10000,
    );
    host.send(Op.READ_FLASH, u32(0x10000, 0x2800, 0x1000, 64));
    expect((await host.reply()).status).toEqual([0, 0]);
    const received: Uint8Array[] = [];
    let total = 0;
    while (total < 0x2800) {
      const packet = await host.frame();
      received.push(packet);
      total += packet.length;
      await host.silence(30); // nothing more until acknowledged
      host.raw(slipEncode(u32(total)));
    }
    expect(received.map((p) => p.length)).toEqual([0x1000, 0x1000, 0x800]);
    const data = Buffer.concat(received);
    expect(data.equals(Buffer.from(sim.flash.subarray(0x10000, 0x12800)))).toBe(true);
    expect(hex(await host.frame())).toBe(createHash('md5').update(data).digest('hex'));
  });

  it('erases a region on sector boundaries only (0x32 / 0x33 otherwise) and the whole chip', async () => {
    const { host, sim } = downloadMode();
    await startStub(host);
    sim.flash.fill(0, 0, 0x3000);
    host.send(Op.ERASE_REGION, u32(0x1000, 0x1000));
    expect((await host.reply()).status).toEqual([0, 0]);
    expect([sim.flash[0xfff], sim.flash[0x1000], sim.flash[0x1fff], sim.flash[0x2000]]).toEqual([
      0, 0xff, 0xff, 0,
    ]);
    host.send(Op.ERASE_REGION, u32(0x1001, 0x1000));
    expect((await host.reply()).status).toEqual([0x32, 0]);
    host.send(Op.ERASE_REGION, u32(0x1000, 0x800));
    expect((await host.reply()).status).toEqual([0x33, 0]);
    host.send(Op.ERASE_FLASH);
    expect((await host.reply()).status).toEqual([0, 0]);
    expect(sim.flash.every((b) => b === 0xff)).toBe(true);
  });

  it('acknowledges a block first and reports its write failure with the next command (0xC4 past the end)', async () => {
    const { host } = downloadMode({ flashSize: 0x40000 });
    await startStub(host);
    host.send(Op.FLASH_BEGIN, u32(0x8000, 2, 0x4000, 0x3c000));
    expect((await host.reply()).status).toEqual([0, 0]);
    const block = new Uint8Array(0x4000);
    host.sendData(Op.FLASH_DATA, 0, block);
    expect((await host.reply()).status).toEqual([0, 0]);
    host.sendData(Op.FLASH_DATA, 1, block);
    expect((await host.reply()).status).toEqual([0, 0]);
    host.send(Op.FLASH_END, u32(1));
    expect((await host.reply()).status).toEqual([0xc4, 0]);
  });

  it('uses stub error codes: 0xC0 length, 0xC1 checksum, 0xC2 block size, 0xC6 not in flash mode, 0xC8 short, 0xFF unknown', async () => {
    const { host } = downloadMode({ chip: 'esp32s3' });
    await startStub(host, 0x40378000);
    host.send(Op.SPI_ATTACH, u32(0, 0)); // the stub wants exactly one word
    expect((await host.reply()).status).toEqual([0xc0, 0]);
    host.sendData(Op.FLASH_DATA, 0, new Uint8Array(16));
    expect((await host.reply()).status).toEqual([0xc6, 0]);
    host.send(Op.FLASH_BEGIN, u32(0x8000, 1, 0x8000, 0));
    expect((await host.reply()).status).toEqual([0xc2, 0]);
    host.send(Op.FLASH_BEGIN, u32(0x8000, 2, 0x4000, 0));
    expect((await host.reply()).status).toEqual([0, 0]);
    const block = new Uint8Array(0x4000).fill(7);
    host.sendData(Op.FLASH_DATA, 0, block, espChecksum(block) ^ 0xff);
    expect((await host.reply()).status).toEqual([0xc1, 0]);
    host.sendData(Op.FLASH_DATA, 0, block);
    expect((await host.reply()).status).toEqual([0, 0]);
    host.send(Op.FLASH_END, u32(1));
    expect((await host.reply()).status).toEqual([0xc8, 0]);
    host.send(0x77);
    expect((await host.reply()).status).toEqual([0xff, 0]);
  });

  it('reports a bad zlib stream with the block after it (0xC7)', async () => {
    const { host } = downloadMode({ chip: 'esp32c3' });
    await startStub(host, 0x40380000);
    host.send(Op.FLASH_DEFL_BEGIN, u32(0x1000, 2, 0x4000, 0));
    expect((await host.reply()).status).toEqual([0, 0]);
    host.sendData(Op.FLASH_DEFL_DATA, 0, bytes('00112233445566778899'));
    expect((await host.reply()).status).toEqual([0, 0]);
    host.sendData(Op.FLASH_DEFL_DATA, 1, bytes('00'));
    expect((await host.reply()).status).toEqual([0xc7, 0]);
  });

  it('MEM_END into RAM that was never loaded crashes the chip into a reset instead of a stub', async () => {
    const { host, sim } = downloadMode();
    const reset = waitForEvent(sim, 'reset');
    host.send(Op.MEM_END, u32(0, 0x400a8000));
    expect((await host.reply()).status).toEqual(OK4);
    expect((await reset)[0].cause).toBe('software');
    // a CPU reset does not sample the strapping pins again: back in the loader they chose
    expect(sim.state).toBe('download');
  });

  it('a software reset boots the mode latched at the last chip reset, not what IO0 says now', async () => {
    // esptool `--after no_reset` from the stub: FLASH_BEGIN(0, 0), FLASH_END(reboot)
    // "will re-load the ROM bootloader" (strapping pins are latched only on chip resets)
    const { host, sim } = downloadMode({ chip: 'esp32c3' });
    await startStub(host, 0x40380000);
    host.send(Op.FLASH_BEGIN, u32(0, 0, 0x4000, 0, 0));
    expect((await host.reply()).status).toEqual([0, 0]);
    const reset = waitForEvent(sim, 'reset');
    host.send(Op.FLASH_END, u32(0));
    expect((await host.reply()).status).toEqual([0, 0]);
    expect((await reset)[0]).toEqual({ mode: 'download', cause: 'software' });
    expect(sim.state).toBe('download');
    // an EN reset with IO0 released samples the pins again: the app
    const app = waitForEvent(sim, 'app-booted');
    sim.setSignals({ dtr: false, rts: true });
    sim.setSignals({ rts: false });
    expect((await app)[0].image).toBe('invalid');
    expect(sim.state).toBe('app');
  });

  it('the stub takes FLASH_BEGIN / FLASH_DEFL_BEGIN with or without the encrypt word esptool ≥ 4 sends', async () => {
    const { host, sim } = downloadMode({ chip: 'esp32s3' });
    await startStub(host, 0x40380000);
    const data = bytes('0011223344556677');
    for (const begin of [u32(8, 1, 0x4000, 0x10000), u32(8, 1, 0x4000, 0x10000, 0)]) {
      host.send(Op.FLASH_BEGIN, begin);
      expect((await host.reply()).status).toEqual([0, 0]);
      host.sendData(Op.FLASH_DATA, 0, data);
      expect((await host.reply()).status).toEqual([0, 0]);
      host.send(Op.FLASH_END, u32(1));
      expect((await host.reply()).status).toEqual([0, 0]);
      expect(Array.from(sim.flash.subarray(0x10000, 0x10008))).toEqual(Array.from(data));
    }
    // 12 or 24 bytes: ESP_BAD_DATA_LEN; an encrypted write: refused (no key in this chip)
    host.send(Op.FLASH_DEFL_BEGIN, u32(8, 1, 0x4000));
    expect((await host.reply()).status).toEqual([0xc0, 0]);
    host.send(Op.FLASH_DEFL_BEGIN, u32(8, 1, 0x4000, 0x10000, 0, 0));
    expect((await host.reply()).status).toEqual([0xc0, 0]);
    host.send(Op.FLASH_DEFL_BEGIN, u32(8, 1, 0x4000, 0x10000, 1));
    expect((await host.reply()).status).toEqual([0xc4, 0]);
  });
});

describe('baud rates', () => {
  it('ROM CHANGE_BAUDRATE answers at the old rate, then only a host at the new rate understands it', async () => {
    const { host, sim } = downloadMode();
    await host.sync();
    host.send(Op.CHANGE_BAUDRATE, u32(921600, 0));
    expect((await host.reply()).status).toEqual(OK4);
    expect(sim.baudRate).toBe(921600);
    host.send(Op.READ_REG, u32(CHIP_DETECT_MAGIC_REG_ADDR)); // still at 115200: garbage to the chip
    await host.silence();
    expect(sim.stats.garbledChunks).toBeGreaterThan(0);
    sim.setBaudRate(921600);
    host.send(Op.READ_REG, u32(CHIP_DETECT_MAGIC_REG_ADDR));
    expect((await host.reply()).value).toBe(0x00f01d83);
  });

  it('the stub computes the new rate from the old one the host states; a wrong one gives a wrong rate', async () => {
    const { host, sim } = downloadMode();
    await startStub(host);
    host.send(Op.CHANGE_BAUDRATE, u32(460800, 230400)); // the chip actually runs at 115200
    expect((await host.reply()).status).toEqual([0, 0]);
    expect(sim.baudRate).toBe(230400);
  });

  it('the ROM autobauds on the first bytes after reset; the app does not', async () => {
    const { host, sim } = downloadMode();
    sim.setBaudRate(230400);
    await host.sync();
    expect(sim.baudRate).toBe(230400);
    sim.setSignals({ rts: true });
    sim.setSignals({ rts: false }); // EN rises with IO0 high: the app boots, at 115200
    await waitForEvent(sim, 'app-booted');
    expect(sim.baudRate).toBe(115200);
    expect(host.text).not.toMatch(/boot:0x13/); // printed at 115200, read at 230400: garbage
  });

  it('a chip that ignores the baud change leaves the host talking to garbage', async () => {
    const { host, sim } = downloadMode({ faults: { ignoreBaudChange: true } });
    await host.sync();
    host.send(Op.CHANGE_BAUDRATE, u32(921600, 0));
    await host.reply();
    sim.setBaudRate(921600);
    host.send(Op.SYNC, SYNC);
    await host.silence();
  });
});

describe('reset circuit', () => {
  it('has the two-transistor truth table', () => {
    expect(pinsFor({ dtr: false, rts: false })).toEqual({ en: true, io0: true });
    expect(pinsFor({ dtr: false, rts: true })).toEqual({ en: false, io0: true });
    expect(pinsFor({ dtr: true, rts: false })).toEqual({ en: true, io0: false });
    expect(pinsFor({ dtr: true, rts: true })).toEqual({ en: true, io0: true });
  });

  it("esptool's classic reset (RTS, then DTR with RTS released) enters download mode", async () => {
    const sim = new EspRomSimulator({ chip: 'esp32s3' });
    const host = new Host(sim);
    sim.setSignals({ dtr: false, rts: true });
    expect(sim.state).toBe('off');
    const reset = waitForEvent(sim, 'reset');
    sim.setSignals({ dtr: true, rts: false });
    expect((await reset)[0]).toEqual({ mode: 'download', cause: 'en-pin' });
    sim.setSignals({ dtr: false, rts: false });
    await host.waitForText(/boot:0x0 \(DOWNLOAD\(USB\/UART0\)\)\r\nwaiting for download/);
    await host.sync();
  });

  it('a hard reset (RTS pulse with DTR released) boots the app, which ignores the protocol', async () => {
    const sim = new EspRomSimulator({ chip: 'esp32c3' });
    const host = new Host(sim);
    sim.setSignals({ rts: true });
    const reset = waitForEvent(sim, 'reset');
    sim.setSignals({ rts: false });
    expect((await reset)[0]).toEqual({ mode: 'app', cause: 'en-pin' });
    await host.waitForText(/boot:0xc \(SPI_FAST_FLASH_BOOT\)\r\ninvalid header: 0xffffffff/);
    host.send(Op.SYNC, SYNC);
    await host.silence();
  });

  it('asserting DTR only after EN has risen is too late: the app boots', async () => {
    const sim = new EspRomSimulator({ chip: 'esp32' });
    sim.setSignals({ dtr: false, rts: true });
    const reset = waitForEvent(sim, 'reset');
    sim.setSignals({ dtr: false, rts: false });
    expect((await reset)[0].mode).toBe('app');
    sim.setSignals({ dtr: true });
    expect(sim.state).toBe('app');
  });

  it('holding both lines asserted changes nothing; a chip held in reset says nothing', async () => {
    const sim = new EspRomSimulator({ chip: 'esp32' });
    const host = new Host(sim);
    sim.setSignals({ dtr: true, rts: true });
    expect(sim.state).toBe('app');
    sim.setSignals({ dtr: false });
    expect(sim.state).toBe('off');
    host.send(Op.SYNC, SYNC);
    await host.silence();
  });
});

describe('fault injection', () => {
  it('corruptBlocks: the loader reports a checksum error for that block, once by default', async () => {
    const { host } = downloadMode({ faults: { corruptBlocks: [{ seq: 1 }] } });
    host.send(Op.SPI_ATTACH, u32(0, 0));
    await host.reply();
    host.send(Op.FLASH_BEGIN, u32(0x800, 2, 0x400, 0));
    await host.reply();
    const block = new Uint8Array(0x400).fill(9);
    host.sendData(Op.FLASH_DATA, 0, block);
    expect((await host.reply()).status).toEqual(OK4);
    host.sendData(Op.FLASH_DATA, 1, block);
    expect((await host.reply()).status).toEqual([1, 7, 0, 0]);
    host.sendData(Op.FLASH_DATA, 1, block);
    expect((await host.reply()).status).toEqual(OK4);
  });

  it('ignoreSync: a chip that never answers SYNC', async () => {
    const { host } = downloadMode({ faults: { ignoreSync: true } });
    host.send(Op.SYNC, SYNC);
    await host.silence();
  });

  it('dropLinkAfterDataPackets: the link goes down mid-write and stays silent', async () => {
    const { host, sim } = downloadMode({ faults: { dropLinkAfterDataPackets: 1 } });
    host.send(Op.SPI_ATTACH, u32(0, 0));
    await host.reply();
    host.send(Op.FLASH_BEGIN, u32(0x800, 2, 0x400, 0));
    await host.reply();
    host.sendData(Op.FLASH_DATA, 0, new Uint8Array(0x400));
    await host.reply();
    const down = waitForEvent(sim, 'link-down');
    host.sendData(Op.FLASH_DATA, 1, new Uint8Array(0x400));
    await down;
    expect(sim.linkConnected).toBe(false);
    host.send(Op.SYNC, SYNC);
    await host.silence();
    sim.resetIntoDownloadMode();
    await host.sync();
  });

  it('rejects impossible options with a specific error', () => {
    expect(() => new EspRomSimulator({ chip: 'esp8266' as 'esp32' })).toThrow(EspRomOptionsError);
    expect(() => new EspRomSimulator({ chip: 'esp32', flashSize: 3 * 1024 * 1024 })).toThrow(/power of two/);
    expect(() => new EspRomSimulator({ chip: 'esp32', mac: new Uint8Array(5) })).toThrow(/6 bytes/);
  });
});
