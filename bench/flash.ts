// `npm run bench -- flash`: our flasher (esptool-js + SentinelLoader) writing an image
// through the ESP ROM simulator with line-rate timing on (each byte takes 10 bit times
// at the current baud), with and without compression. The peer measured in the same
// run is the line itself: the time the raw image bytes need at that baud (8N1), the
// floor for an uncompressed transfer. A ratio under 1 means compression beat the line.

import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { CHIP_NAMES, FlasherSession, type FlashState, MemoryPort } from '@sentinel/firmware';
import { EspRomSimulator, firmwareLikeBytes } from '@sentinel/simulators';
import { z } from 'zod';
import { type OptionValues, opt, readBenchOptions } from './lib/options.js';
import { formatRatio, formatTable } from './lib/report.js';

const FLASH_OPTIONS = {
  size: {
    flag: 'size',
    arg: '<bytes>',
    env: 'BENCH_FLASH_SIZE',
    help: 'image size',
    schema: opt.int(4096, 4 * 1024 * 1024),
  },
  baud: {
    flag: 'baud',
    arg: '<n>',
    env: 'BENCH_FLASH_BAUD',
    help: 'transfer baud rate',
    schema: opt.int(115200, 921600),
  },
  chip: {
    flag: 'chip',
    arg: '<chip>',
    env: 'BENCH_FLASH_CHIP',
    help: 'simulated chip',
    schema: z.enum(CHIP_NAMES).default('esp32s3'),
  },
  out: {
    flag: 'out',
    arg: '<file>',
    env: 'BENCH_FLASH_OUT',
    help: 'JSON results',
    schema: opt.string('.artifacts/bench-flash.json'),
  },
} as const;
type FlashOptions = OptionValues<typeof FLASH_OPTIONS>;

const DESCRIPTION =
  'Flashes an image (about half compressible, like firmware) through the ESP ROM simulator with\n' +
  'line-rate timing, with the flasher stub, once compressed and once plain, and compares each\n' +
  'with the time the raw bytes need on the line at that baud.\n';

const OFFSET = 0x10000;

// The flasher tests' data with its own seed: 4 KiB of noise, then 4 KiB of structure (deflates to ~50 %).
const SEED = 0x2545f491;

interface RunResult {
  compressed: boolean;
  wallMs: number;
  /** first data block to MD5 verified */
  writeMs: number;
  wireBytes: number;
  verified: boolean;
}

async function runOnce(options: FlashOptions, data: Uint8Array, compress: boolean): Promise<RunResult> {
  const sim = new EspRomSimulator({ chip: options.chip, flashSize: 8 * 1024 * 1024, lineRate: true });
  let writeStarted = 0;
  let wireBytes = 0;
  let lastPercent = -1;
  const onState = (s: FlashState) => {
    if (s.state === 'writing') {
      writeStarted ||= Date.now();
      wireBytes = s.total;
      const pct = Math.floor((s.written / s.total) * 10) * 10;
      if (pct !== lastPercent) process.stderr.write(`  ${compress ? 'compressed' : 'plain'}: ${pct}%\n`);
      lastPercent = pct;
    }
  };
  const started = Date.now();
  const session = new FlasherSession(new MemoryPort(sim), { baud: options.baud, onState });
  await session.connect();
  await session.write([{ offset: OFFSET, data }], { compress });
  const writeMs = Date.now() - writeStarted;
  await session.close();
  const wallMs = Date.now() - started;
  const verified =
    Buffer.compare(Buffer.from(sim.flash.subarray(OFFSET, OFFSET + data.length)), Buffer.from(data)) === 0;
  return { compressed: compress, wallMs, writeMs, wireBytes, verified };
}

export async function runFlash(argv: string[]): Promise<number> {
  const options = readBenchOptions('flash', DESCRIPTION, FLASH_OPTIONS, argv);
  if (typeof options === 'number') return options;
  const data = firmwareLikeBytes(options.size, SEED);
  // 8N1: 10 bit times per byte
  const lineMs = (data.length * 10 * 1000) / options.baud;
  const results: RunResult[] = [];
  try {
    for (const compress of [true, false]) {
      process.stderr.write(
        `flashing ${data.length} bytes to a simulated ${options.chip} at ${options.baud} baud…\n`,
      );
      results.push(await runOnce(options, data, compress));
    }
  } catch (error) {
    process.stderr.write(`bench flash: failed: ${(error as Error).message}\n`);
    return 1;
  }
  const mb = data.length / (1024 * 1024);
  const rows = results.map((r) => [
    r.compressed ? 'sentinel flash, compressed' : 'sentinel flash, plain',
    r.wireBytes.toLocaleString('en-US'),
    (r.wallMs / 1000).toFixed(1),
    (r.writeMs / 1000).toFixed(1),
    Math.round(data.length / 1024 / (r.wallMs / 1000)).toLocaleString('en-US'),
    (lineMs / 1000).toFixed(1),
    formatRatio(r.wallMs / lineMs),
    r.verified ? 'yes' : 'NO',
  ]);
  process.stdout.write(
    `\nflash: ${mb} MB image, ${options.chip} simulator with line-rate timing, ${options.baud} baud, flasher stub\n\n`,
  );
  process.stdout.write(
    `${formatTable(
      [
        'run',
        'bytes on the wire',
        'wall s',
        'write+verify s',
        'effective KiB/s',
        'raw bytes at line rate s',
        'wall / line',
        'byte for byte',
      ],
      rows,
      [false, true, true, true, true, true, true, false],
    )}\n\n`,
  );
  process.stdout.write(
    'wall: connect (sync, stub upload and baud change at 115200), write, MD5 verify. The peer, "raw bytes at\n' +
      'line rate", is the image alone at 10 bits a byte: the floor an uncompressed transfer cannot beat.\n',
  );
  await mkdir(dirname(options.out), { recursive: true });
  await writeFile(
    options.out,
    `${JSON.stringify({ bench: 'flash', at: new Date().toISOString(), options, lineMs, results }, null, 2)}\n`,
  );
  return results.every((r) => r.verified) ? 0 : 1;
}
