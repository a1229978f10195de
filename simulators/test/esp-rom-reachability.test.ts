// `sentinel simulate esp-rom` as users reach it: a pty made by socat (opened
// here with @serialport/bindings-cpp, as the Node flasher does), RFC 2217 driven
// by the real pyserial client from Debian's python3, the WebSocket bridge with
// the `ws` client, and --dump on SIGTERM.
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { autoDetect, type BindingPortInterface } from '@serialport/bindings-cpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { runCli, SENTINEL_BIN, track } from '../../test/support/cli.js';
import { espChecksum, EspOp as Op, SlipDecoder, slipEncode } from '../src/index.js';

const SYNC = Uint8Array.from([0x07, 0x07, 0x12, 0x20, ...new Array(32).fill(0x55)]);

function request(op: number, data: Uint8Array = new Uint8Array(0), checksum = 0): Uint8Array {
  const header = Buffer.alloc(8);
  header[1] = op;
  header.writeUInt16LE(data.length, 2);
  header.writeUInt32LE(checksum, 4);
  return slipEncode(new Uint8Array(Buffer.concat([header, data])));
}
const u32 = (...values: number[]) => {
  const out = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => {
    out.writeUInt32LE(v >>> 0, i * 4);
  });
  return new Uint8Array(out);
};

/** Reads SLIP frames and raw text from some byte source. */
class Replies {
  readonly frames: Uint8Array[] = [];
  text = '';
  private readonly decoder = new SlipDecoder((e) => {
    if (e.kind === 'packet') this.frames.push(e.packet);
  });
  push(chunk: Uint8Array): void {
    this.text += Buffer.from(chunk).toString('latin1');
    this.decoder.push(chunk);
  }
  async next(timeoutMs = 10_000): Promise<Uint8Array> {
    const deadline = Date.now() + timeoutMs;
    while (this.frames.length === 0) {
      if (Date.now() > deadline) throw new Error(`no reply; got ${JSON.stringify(this.text)}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return this.frames.shift()!;
  }
  async waitForText(pattern: RegExp, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(this.text)) {
      if (Date.now() > deadline) throw new Error(`no ${pattern} in ${JSON.stringify(this.text)}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}

/** A pty client through @serialport/bindings-cpp. */
async function openPty(path: string) {
  const port = await autoDetect().open({ path, baudRate: 115200, hupcl: false });
  const replies = new Replies();
  let open = true;
  const pump = (async () => {
    const buffer = Buffer.alloc(65536);
    while (open) {
      try {
        const { bytesRead } = await port.read(buffer, 0, buffer.length);
        if (bytesRead > 0) replies.push(new Uint8Array(buffer.subarray(0, bytesRead)));
      } catch {
        return;
      }
    }
  })();
  return {
    port: port as BindingPortInterface,
    replies,
    write: (bytes: Uint8Array) => port.write(Buffer.from(bytes)),
    async close() {
      open = false;
      await port.close();
      await pump;
    },
  };
}

interface Ready {
  event: 'ready';
  chip: string;
  pty: string;
  device: string;
  flash_size: number;
  rfc2217: number;
  ws: string;
}

describe('sentinel simulate esp-rom', () => {
  let dir: string;
  let child: ChildProcess;
  let ready: Ready;
  let stderr = '';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'esp-rom-'));
    child = track(
      spawn(
        process.execPath,
        [
          SENTINEL_BIN,
          'simulate',
          'esp-rom',
          '--chip',
          'esp32s3',
          '--pty',
          join(dir, 'tty'),
          '--rfc2217',
          '0',
          '--ws',
          '0',
          '--flash-size',
          '2MB',
          '--dump',
          join(dir, 'flash.bin'),
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      ),
    );
    child.stderr!.on('data', (d) => {
      stderr += d;
    });
    ready = await new Promise<Ready>((resolve, reject) => {
      createInterface({ input: child.stdout! }).once('line', (line) => resolve(JSON.parse(line) as Ready));
      child.once('exit', (code) => reject(new Error(`exited ${code} before ready: ${stderr}`)));
    });
  }, 30_000);

  afterAll(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  it('prints a ready line with the pty, the RFC 2217 port and the WebSocket URL', () => {
    expect(ready).toMatchObject({
      event: 'ready',
      chip: 'esp32s3',
      pty: join(dir, 'tty'),
      flash_size: 2 * 1024 * 1024,
    });
    expect(ready.device).toMatch(/^\/dev\/pts\/\d+$/);
    expect(ready.rfc2217).toBeGreaterThan(0);
    expect(ready.ws).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/$/);
  });

  it('resets into download mode on each opening of the pty, keeping the flash; the pty refuses DTR/RTS', async () => {
    const first = await openPty(ready.pty);
    await first.replies.waitForText(/waiting for download/);
    await expect(first.port.set({ dtr: true, rts: false })).rejects.toThrow();
    await first.write(request(Op.SYNC, SYNC));
    for (let i = 0; i < 8; i++) expect((await first.replies.next())[1]).toBe(Op.SYNC);
    // write one block through the ROM loader
    const block = new Uint8Array(0x400).map((_, i) => i & 0xff);
    await first.write(request(Op.SPI_ATTACH, u32(0, 0)));
    await first.replies.next();
    await first.write(request(Op.FLASH_BEGIN, u32(0x400, 1, 0x400, 0x3000, 0)));
    expect([...(await first.replies.next()).subarray(8, 10)]).toEqual([0, 0]);
    await first.write(
      request(Op.FLASH_DATA, new Uint8Array(Buffer.concat([u32(0x400, 0, 0, 0), block])), espChecksum(block)),
    );
    expect([...(await first.replies.next()).subarray(8, 10)]).toEqual([0, 0]);
    // CHANGE_BAUDRATE over a pty: the rate is invisible, the chip just goes on
    await first.write(request(Op.CHANGE_BAUDRATE, u32(921600, 0)));
    await first.replies.next();
    await first.write(request(Op.READ_REG, u32(0x40001000)));
    expect(Buffer.from(await first.replies.next()).readUInt32LE(4)).toBe(0x09);
    await first.close();

    // the next client gets a fresh reset (banner again), the flash kept
    const deadline = Date.now() + 10_000;
    let second: Awaited<ReturnType<typeof openPty>> | undefined;
    while (!second) {
      try {
        second = await openPty(ready.pty);
        await second.replies.waitForText(/waiting for download/, 2000);
      } catch (error) {
        await second?.close();
        second = undefined;
        if (Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    await second.write(request(Op.SPI_ATTACH, u32(0, 0)));
    await second.replies.next();
    await second.write(request(Op.SPI_FLASH_MD5, u32(0x3000, 0x400, 0, 0)));
    const md5 = await second.replies.next();
    expect(Buffer.from(md5.subarray(8, 40)).toString('latin1')).toBe(
      createHash('md5').update(block).digest('hex'),
    );
    await second.close();
  }, 60_000);

  it('carries DTR/RTS over RFC 2217 from pyserial: the classic reset reaches the ROM, a hard reset the app', async () => {
    const script = `
import serial, struct, sys, time
p = serial.serial_for_url('rfc2217://127.0.0.1:${ready.rfc2217}', baudrate=115200, timeout=2)
def rts(state):
    p.setRTS(state); p.setDTR(p.dtr)  # as esptool does
def slip(pkt):
    return b'\\xc0' + pkt.replace(b'\\xdb', b'\\xdb\\xdd').replace(b'\\xc0', b'\\xdb\\xdc') + b'\\xc0'
def frame():
    buf = b''
    while True:
        c = p.read(1)
        if not c: raise SystemExit('timeout waiting for a frame')
        if c == b'\\xc0':
            if buf: return buf.replace(b'\\xdb\\xdc', b'\\xc0').replace(b'\\xdb\\xdd', b'\\xdb')
        else: buf += c
# esptool's ClassicReset
p.setDTR(False); rts(True); time.sleep(0.1); p.setDTR(True); rts(False); time.sleep(0.05); p.setDTR(False)
time.sleep(0.3)
banner = p.read(p.in_waiting)
print('BANNER', repr(banner))
p.write(slip(struct.pack('<BBHI', 0, 8, 36, 0) + b'\\x07\\x07\\x12\\x20' + b'\\x55' * 32))
for _ in range(8): frame()
p.write(slip(struct.pack('<BBHII', 0, 0x0a, 4, 0, 0x40001000)))
r = frame()
print('MAGIC', hex(struct.unpack('<I', r[4:8])[0]))
# esptool's hard reset: RTS pulse with DTR released
rts(True); time.sleep(0.1); rts(False); time.sleep(0.4)
print('APP', repr(p.read(p.in_waiting)))
p.close()
`;
    const py = spawn('/usr/bin/python3', ['-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    py.stdout.on('data', (d) => {
      out += d;
    });
    py.stderr.on('data', (d) => {
      err += d;
    });
    const code = await new Promise<number | null>((resolve) => py.once('exit', resolve));
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(out).toMatch(/BANNER .*boot:0x0 \(DOWNLOAD\(USB\/UART0\)\)\\r\\nwaiting for download/);
    expect(out).toContain('MAGIC 0x9');
    expect(out).toMatch(/APP .*boot:0x8 \(SPI_FAST_FLASH_BOOT\)/);
  }, 60_000);

  it('bridges WebSocket binary frames and JSON control messages; bad control messages get an error', async () => {
    const socket = new WebSocket(ready.ws);
    const replies = new Replies();
    const errors: string[] = [];
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) replies.push(new Uint8Array(data));
      else errors.push(data.toString());
    });
    await new Promise((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('error', reject);
    });
    // a second host is turned away while this one is connected
    const second = new WebSocket(ready.ws);
    const [closeCode] = await new Promise<[number]>((resolve) => second.once('close', (c) => resolve([c])));
    expect(closeCode).toBe(1013);

    socket.send(JSON.stringify({ type: 'baud', baud: 115200 }));
    socket.send(JSON.stringify({ type: 'signals', dtr: false, rts: true }));
    await new Promise((resolve) => setTimeout(resolve, 50));
    socket.send(JSON.stringify({ type: 'signals', dtr: true, rts: false }));
    await replies.waitForText(/waiting for download/);
    socket.send(JSON.stringify({ type: 'signals', dtr: false, rts: false }));
    socket.send(request(Op.SYNC, SYNC));
    for (let i = 0; i < 8; i++) expect((await replies.next())[1]).toBe(Op.SYNC);

    socket.send('not json');
    socket.send(JSON.stringify({ type: 'baud', baud: -5 }));
    socket.send(JSON.stringify({ type: 'reset' }));
    const deadline = Date.now() + 5000;
    while (errors.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(errors.map((e) => JSON.parse(e).type)).toEqual(['error', 'error', 'error']);
    expect(JSON.parse(errors[0]!).error).toBe('control message is not JSON');
    expect(JSON.parse(errors[1]!).error).toMatch(/^baud:/);
    // still serving after bad input
    socket.send(request(Op.READ_REG, u32(0x40001000)));
    expect(Buffer.from(await replies.next()).readUInt32LE(4)).toBe(0x09);
    socket.close();
  }, 30_000);

  it('writes the whole flash to --dump on SIGTERM and exits 0', async () => {
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const dump = await readFile(join(dir, 'flash.bin'));
    expect(dump.length).toBe(2 * 1024 * 1024);
    expect([...dump.subarray(0x3000, 0x3004)]).toEqual([0, 1, 2, 3]);
    expect(dump[0x2fff]).toBe(0xff);
    expect(stderr).toContain('pty opened (client 1)');
  }, 30_000);
});

describe('sentinel simulate esp-rom, bad arguments', () => {
  it('exits 2 with one line for an unknown chip, a bad flash size or a bad port', async () => {
    const chip = await runCli(['simulate', 'esp-rom', '--chip', 'esp8266', '--pty', '/nonexistent/x']);
    expect(chip.code).toBe(2);
    expect(chip.stderr.trim()).toMatch(/--chip must be one of esp32, esp32s3, esp32c3, esp32p4$/);
    const size = await runCli([
      'simulate',
      'esp-rom',
      '--chip',
      'esp32',
      '--pty',
      '/x',
      '--flash-size',
      '3MB',
    ]);
    expect(size.code).toBe(2);
    expect(size.stderr).toMatch(/--flash-size must be a power of two/);
    const port = await runCli([
      'simulate',
      'esp-rom',
      '--chip',
      'esp32',
      '--pty',
      '/x',
      '--rfc2217',
      '70000',
    ]);
    expect(port.code).toBe(2);
    expect(port.stderr).toMatch(/--rfc2217 must be 0…65535/);
  }, 60_000);

  it('exits 1 naming the problem when the pty link cannot be created', async () => {
    const result = await runCli(['simulate', 'esp-rom', '--chip', 'esp32', '--pty', '/nonexistent-dir/tty']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/socat exited/);
  }, 30_000);

  it('exits 1 with the reason when the --rfc2217 port is taken', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const dir = await mkdtemp(join(tmpdir(), 'esp-rom-taken-'));
    try {
      const { port } = taken.address() as AddressInfo;
      const result = await runCli([
        'simulate',
        'esp-rom',
        '--chip',
        'esp32',
        '--pty',
        join(dir, 'tty'),
        '--rfc2217',
        String(port),
      ]);
      expect(result.code).toBe(1);
      expect(result.stderr.trim()).toMatch(
        new RegExp(`--rfc2217: cannot listen on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`),
      );
    } finally {
      taken.close();
      await rm(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
