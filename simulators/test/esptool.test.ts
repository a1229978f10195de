// Espressif's own esptool (the Python one, both the 4.x and the 5.x line) against
// `sentinel simulate esp-rom`, on every simulated chip: the contract's "real
// flashers must flash, verify and read back through it" (CONTRACT §5). Each run
// is a real `python3 -m esptool` process talking to the real simulator process
// through its pty (`--before no_reset`, as the contract says) and, where DTR/RTS
// and the baud rate have to travel, through RFC 2217.
//
// esptool is GPL and not packaged by Debian, so nothing of it lives here:
// SENTINEL_ESPTOOL names one or more esptool checkouts (colon-separated); without
// it these tests skip, saying so. How to prepare them: simulators/README.md.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { buildAppImage, CHIPS } from '@sentinel/firmware';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SENTINEL_BIN, track } from '../../test/support/cli.js';
import { defaultMac } from '../src/esp-rom/chips.js';
import { CHIP_PROFILES, type EspChip, firmwareLikeBytes } from '../src/index.js';

/** Debian's interpreter with Debian's python3-serial (not whatever python3 comes first on PATH). */
const PYTHON = '/usr/bin/python3';
const ENV_NAME = 'SENTINEL_ESPTOOL';

interface Esptool {
  dir: string;
  version: string;
  major: number;
}

/** Finds the esptool checkouts named by SENTINEL_ESPTOOL and the reason when there are none. */
function discover(): { tools: Esptool[]; skipReason?: string } {
  const named = (process.env[ENV_NAME] ?? '').split(':').filter((d) => d.length > 0);
  if (named.length === 0) {
    return { tools: [], skipReason: `${ENV_NAME} is not set (colon-separated esptool checkouts)` };
  }
  const serial = spawnSync(PYTHON, ['-c', 'import serial'], { encoding: 'utf8' });
  if (serial.error || serial.status !== 0) {
    return { tools: [], skipReason: `${PYTHON} with pyserial is missing (apt-get install python3-serial)` };
  }
  const tools: Esptool[] = [];
  const problems: string[] = [];
  for (const dir of named) {
    const run = spawnSync(PYTHON, ['-m', 'esptool', 'version'], {
      cwd: dir,
      env: { ...process.env, PYTHONPATH: dir },
      encoding: 'utf8',
    });
    const match = /esptool(?:\.py)? v(\d+)\.(\d+)(\S*)/.exec(run.stdout ?? '');
    if (run.status !== 0 || !match) {
      problems.push(`${dir}: ${(run.stderr || run.stdout || String(run.error)).trim().split('\n').pop()}`);
      continue;
    }
    tools.push({ dir, version: `${match[1]}.${match[2]}${match[3]}`, major: Number(match[1]) });
  }
  if (problems.length > 0) console.warn(`esptool checkouts that do not run: ${problems.join('; ')}`);
  if (tools.length === 0) return { tools, skipReason: `no runnable esptool in ${ENV_NAME}` };
  return { tools };
}

const { tools, skipReason } = discover();
if (skipReason) console.log(`esptool tests skipped: ${skipReason} — see simulators/README.md`);
else console.log(`esptool tests run with: ${tools.map((t) => `esptool ${t.version} (${t.dir})`).join(', ')}`);

/** Flash sizes differ per chip so flash_id's JEDEC capacity is checked against `--flash-size`. */
const FLASH_MB: Record<EspChip, number> = { esp32: 4, esp32s3: 8, esp32c3: 2, esp32p4: 16 };
const SIM_CHIPS: EspChip[] = ['esp32', 'esp32s3', 'esp32c3', 'esp32p4'];

interface Ready {
  pty: string;
  rfc2217: number;
  flash_size: number;
}

interface Run {
  code: number | null;
  out: string;
  ms: number;
}

/** One simulator process per chip and esptool line: its pty, its RFC 2217 port, its stderr log. */
class Board {
  log = '';
  private constructor(
    readonly child: ChildProcess,
    readonly ready: Ready,
    readonly dump: string,
  ) {}

  static async start(chip: EspChip, dir: string): Promise<Board> {
    const dump = join(dir, `${chip}.flash`);
    const child = track(
      spawn(
        process.execPath,
        [
          SENTINEL_BIN,
          'simulate',
          'esp-rom',
          '--chip',
          chip,
          '--pty',
          join(dir, `${chip}.tty`),
          '--rfc2217',
          '0',
          '--flash-size',
          `${FLASH_MB[chip]}MB`,
          '--dump',
          dump,
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      ),
    );
    let early = '';
    child.stderr?.on('data', (d: Buffer) => {
      early += d.toString();
    });
    const ready = await new Promise<Ready>((resolve, reject) => {
      if (!child.stdout) throw new Error('no stdout');
      createInterface({ input: child.stdout }).once('line', (line) => resolve(JSON.parse(line) as Ready));
      child.once('exit', (code) => reject(new Error(`simulator exited ${code} before ready: ${early}`)));
    });
    const board = new Board(child, ready, dump);
    board.log = early;
    child.stderr?.on('data', (d: Buffer) => {
      board.log += d.toString();
    });
    return board;
  }

  /** Waits (event-driven, on the simulator's own stderr) for a log line. */
  async waitForLog(pattern: RegExp, timeoutMs = 10_000): Promise<void> {
    if (pattern.test(this.log)) return;
    const stderr = this.child.stderr;
    if (!stderr) throw new Error('no stderr');
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        stderr.off('data', check);
        reject(new Error(`no ${pattern} in the simulator's log:\n${this.log}`));
      }, timeoutMs);
      const check = () => {
        if (!pattern.test(this.log)) return;
        clearTimeout(timer);
        stderr.off('data', check);
        resolve();
      };
      stderr.on('data', check);
    });
  }

  /** SIGTERM: the simulator writes its whole flash to --dump, then exits. */
  async stop(): Promise<Uint8Array> {
    const exited = new Promise<number | null>((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGTERM');
    expect(await exited).toBe(0);
    return new Uint8Array(await readFile(this.dump));
  }
}

/** Runs `python3 -m esptool …` from a checkout, spelling commands and modes as that line does. */
function esptoolRunner(tool: Esptool) {
  // 5.x renamed commands and choices to kebab-case (write-flash, no-reset); 4.x uses snake_case
  const spell = (word: string) => (tool.major >= 5 ? word.replace(/_/g, '-') : word);
  return async (args: string[]): Promise<Run> => {
    const started = performance.now();
    const child = spawn(PYTHON, ['-m', 'esptool', ...args.map((a) => (a.startsWith('/') ? a : spell(a)))], {
      cwd: tool.dir,
      env: { ...process.env, PYTHONPATH: tool.dir, NO_COLOR: '1', TERM: 'dumb' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    return { code, out, ms: performance.now() - started };
  };
}

const hex = (n: number) => `0x${n.toString(16)}`;

const suiteName = skipReason
  ? `real esptool against the ESP ROM simulator — skipped: ${skipReason}`
  : `real esptool against the ESP ROM simulator (${ENV_NAME})`;

describe.skipIf(tools.length === 0)(suiteName, () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'esptool-'));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  // named here so a skipped run still lists what it would have checked
  it.skipIf(tools.length > 0)('esptool 4.x and 5.x on esp32, esp32s3, esp32c3 and esp32p4', () => {});

  for (const tool of tools) {
    describe(`esptool ${tool.version}`, () => {
      for (const chip of SIM_CHIPS) {
        it(`${chip}: ids, plain and compressed writes at 115200 and 921600, verify, read back (stub and ROM), erase, image_info/merge_bin booted, --after modes`, async () => {
          const esptool = esptoolRunner(tool);
          const profile = CHIP_PROFILES[chip];
          const board = await Board.start(chip, dir);
          const size = FLASH_MB[chip] << 20;
          // what the flash must hold at the end, byte for byte (the --dump is compared with it)
          const expected = new Uint8Array(size).fill(0xff);
          const files = join(dir, `${tool.major}-${chip}`);
          const put = async (name: string, bytes: Uint8Array) => {
            const path = `${files}-${name}`;
            await writeFile(path, bytes);
            return path;
          };
          const pty = board.ready.pty;
          const rfc2217 = `rfc2217://127.0.0.1:${board.ready.rfc2217}`;
          const timings: string[] = [];
          const ok = async (what: string, args: string[]) => {
            const run = await esptool(args);
            timings.push(`${what} ${Math.round(run.ms)} ms`);
            expect(run.code, `${what}: esptool ${args.join(' ')}\n${run.out}`).toBe(0);
            return run.out;
          };
          const onPty = ['--port', pty, '--before', 'no_reset'];
          try {
            // identity: chip, MAC, and a JEDEC id whose capacity byte matches --flash-size
            expect(await ok('chip_id', [...onPty, '--after', 'no_reset', 'chip_id'])).toContain(profile.name);
            const flashId = await ok('flash_id', [...onPty, '--after', 'hard_reset', 'flash_id']);
            expect(flashId).toMatch(new RegExp(`Device: 40${Math.log2(size).toString(16)}`, 'i'));
            expect(flashId).toContain(`Detected flash size: ${FLASH_MB[chip]}MB`);
            const mac = Array.from(defaultMac(chip), (byte) => byte.toString(16).padStart(2, '0')).join(':');
            expect(await ok('read_mac', [...onPty, '--after', 'no_reset_stub', 'read_mac'])).toContain(mac);

            await ok('erase_flash', [...onPty, 'erase_flash']);

            // plain (uncompressed) through the stub at 115200; --after no_reset: the stub is told
            // to reboot, and a software reset comes back to the ROM loader (latched strapping)
            const a = firmwareLikeBytes(48 * 1024, 11);
            const plain = await ok('write_flash -u 115200', [
              ...onPty,
              '-b',
              '115200',
              '--after',
              'no_reset',
              'write_flash',
              '-u',
              '0x10000',
              await put('a.bin', a),
            ]);
            expect(plain).toMatch(/Hash of data verified/);
            expected.set(a, 0x10000);
            await board.waitForLog(/reset \(software\) into download mode/);

            // compressed at 921600, an odd length, leaving the stub running
            const b = firmwareLikeBytes(20 * 1024 + 100, 12);
            const compressed = await ok('write_flash -z 921600', [
              ...onPty,
              '-b',
              '921600',
              '--after',
              'no_reset_stub',
              'write_flash',
              '-z',
              '0x20000',
              await put('b.bin', b),
            ]);
            expect(compressed).toMatch(/compressed/);
            expect(compressed).toMatch(/Hash of data verified/);
            expected.set(b, 0x20000);

            await ok('verify_flash 921600', [
              ...onPty,
              '-b',
              '921600',
              'verify_flash',
              '0x10000',
              `${files}-a.bin`,
              '0x20000',
              `${files}-b.bin`,
            ]);
            // READ_FLASH through the stub after a baud change; esptool checks the trailing MD5
            const readBack = `${files}-read.bin`;
            await ok('read_flash 921600', [
              ...onPty,
              '-b',
              '921600',
              'read_flash',
              '0x10000',
              '0x15000',
              readBack,
            ]);
            expect(Buffer.compare(await readFile(readBack), expected.subarray(0x10000, 0x25000))).toBe(0);

            // the ROM loader alone: SPI_ATTACH, FLASH_BEGIN/DATA/END, MD5 as hex, READ_FLASH_SLOW
            const c = firmwareLikeBytes(4096 + 52, 13);
            await ok('write_flash --no-stub', [
              ...onPty,
              '--no-stub',
              'write_flash',
              '0x30000',
              await put('c.bin', c),
            ]);
            expected.set(c, 0x30000);
            await ok('verify_flash --no-stub', [
              ...onPty,
              '--no-stub',
              'verify_flash',
              '0x30000',
              `${files}-c.bin`,
            ]);
            const romRead = `${files}-rom-read.bin`;
            await ok('read_flash --no-stub', [
              ...onPty,
              '--no-stub',
              'read_flash',
              '0x30000',
              hex(c.length),
              romRead,
            ]);
            expect(Buffer.compare(await readFile(romRead), c)).toBe(0);

            await ok('erase_region', [...onPty, 'erase_region', '0x20000', '0x10000']);
            expected.fill(0xff, 0x20000, 0x30000);

            // image_info reads our app image; merge_bin's output is flashed and the ROM boots it
            const app = buildAppImage({
              chip,
              size: 24 * 1024,
              fill: 'pattern',
              appDesc: { projectName: 'picket', version: '1.4.0' },
            });
            const appPath = await put('app.bin', app);
            const info = await ok('image_info', [
              '--chip',
              chip,
              'image_info',
              ...(tool.major < 5 ? ['--version', '2'] : []),
              appPath,
            ]);
            expect(info).toMatch(/Checksum: 0x?[0-9a-f]{2} \(valid\)/);
            expect(info).toMatch(/Validation hash: [0-9a-f]{64} \(valid\)/);
            expect(info).toContain('Project name: picket');
            const merged = `${files}-merged.bin`;
            const mergeOut = await ok('merge_bin', [
              '--chip',
              chip,
              'merge_bin',
              '-o',
              merged,
              hex(CHIPS[chip].bootloaderOffset),
              appPath,
              '0x40000',
              appPath,
            ]);
            const mergedAt = Number(
              /ready to flash to offset (0x[0-9a-f]+)/i.exec(mergeOut)?.[1] ?? Number.NaN,
            );
            const mergedBytes = new Uint8Array(await readFile(merged));
            expect(mergedBytes[CHIPS[chip].bootloaderOffset - mergedAt]).toBe(0xe9);
            // over RFC 2217 DTR/RTS travel: esptool's own reset into download mode, and its hard reset boots
            const booted = board.waitForLog(/booted the app in flash \(valid image\)/, 20_000);
            await ok('write_flash merged, hard_reset (RFC 2217)', [
              '--port',
              rfc2217,
              '-b',
              '921600',
              '--after',
              'hard_reset',
              'write_flash',
              hex(mergedAt),
              merged,
            ]);
            expected.set(mergedBytes, mergedAt);
            await booted;

            // --after no_reset_stub on a board that keeps running (RFC 2217 carries the rate):
            // left at 115200, the next run finds the stub; left at 921600, a host at 115200 does not
            const keep = ['--port', rfc2217, '--after', 'no_reset_stub'];
            await ok('flash_id, stub left at 115200', [...keep, '-b', '115200', 'flash_id']);
            expect(
              await ok('flash_id --before no_reset', [...keep, '--before', 'no_reset', 'flash_id']),
            ).toMatch(/already running\. No upload is necessary/);
            // a reset (EN via RTS) brings the ROM back at 115200; read back at 921600 at the real rate
            const rfcRead = `${files}-rfc-read.bin`;
            await ok('read_flash 921600, stub left there (RFC 2217)', [
              ...keep,
              '-b',
              '921600',
              'read_flash',
              hex(mergedAt),
              hex(mergedBytes.length),
              rfcRead,
            ]);
            expect(Buffer.compare(await readFile(rfcRead), mergedBytes)).toBe(0);
            const stale = await esptool([
              ...keep,
              '--before',
              'no_reset',
              '--connect-attempts',
              '1',
              'flash_id',
            ]);
            expect(stale.code, stale.out).not.toBe(0);
            expect(stale.out).toMatch(/Failed to connect/);

            const dump = await board.stop();
            expect(dump.length).toBe(size);
            expect(Buffer.compare(dump, expected)).toBe(0);
            console.log(`esptool ${tool.version} ${chip}: ${timings.join(', ')}`);
          } finally {
            if (board.child.exitCode === null) board.child.kill('SIGKILL');
          }
        }, 120_000);
      }
    });
  }
});
