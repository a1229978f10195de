// `sentinel flash` / `read-flash` as a user runs them: a real CLI process, the Node serial
// port (@serialport/bindings-cpp) on a pseudo-terminal served by `sentinel simulate
// esp-rom --pty`, a real gateway store for --provision, and a picket simulator started
// from the NVS data the flash ends up holding.

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { buildAppImage, encodePartitionTable, parsePartitionCsv, readProvisioning } from '@sentinel/firmware';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { provisionedPicketEntities } from '../../../firmware/test/provisioned-picket.js';
import { kvValue } from '../../../test/support/bus.js';
import { killStrays, runCli, SENTINEL_BIN, track } from '../../../test/support/cli.js';
import { startTestGateway, type TestGateway } from '../../../test/support/gateway.js';
import { startNats, type TestNats } from '../../../test/support/nats.js';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sentinel-flash-'));
});
afterAll(async () => {
  // simulators and socat a failed test left running
  killStrays();
  await rm(dir, { recursive: true, force: true });
});

interface EspRom {
  pty: string;
  /** SIGTERM, then the flash it dumped */
  stop(): Promise<Uint8Array>;
}

async function startEspRom(chip: string, name: string): Promise<EspRom> {
  const pty = join(dir, `${name}.tty`);
  const dump = join(dir, `${name}.dump`);
  const child: ChildProcess = track(
    spawn(
      process.execPath,
      [SENTINEL_BIN, 'simulate', 'esp-rom', '--chip', chip, '--pty', pty, '--dump', dump],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    ),
  );
  let stderr = '';
  child.stderr!.on('data', (d) => {
    stderr += d;
  });
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', () => resolve());
    child.once('exit', (code) => reject(new Error(`simulate esp-rom exited ${code}: ${stderr}`)));
  });
  return {
    pty,
    async stop() {
      child.kill('SIGTERM');
      await once(child, 'exit');
      return new Uint8Array(await readFile(dump));
    },
  };
}

function bytes(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed;
  for (let i = 0; i < size; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = (i >>> 11) % 2 ? x >>> 24 : i & 0x0f;
  }
  return out;
}

const TABLE = encodePartitionTable(
  parsePartitionCsv(
    'nvs, data, nvs, 0x9000, 0x6000\nphy_init, data, phy, 0xf000, 0x1000\nfactory, app, factory, 0x10000, 1M\n',
  ),
);

async function file(name: string, data: Uint8Array): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, data);
  return path;
}

describe('sentinel flash over a pseudo-terminal', () => {
  it('flashes, verifies, reads back; the simulated flash holds the bytes', { timeout: 120_000 }, async () => {
    const rom = await startEspRom('esp32s3', 'plain');
    const app = bytes(300_000, 1);
    const appPath = await file('app.bin', app);
    const tablePath = await file('table.bin', TABLE);
    const flashed = await runCli(['flash', '--port', rom.pty, '0x8000', tablePath, '0x10000', appPath]);
    expect(flashed.stderr).toContain('cannot set DTR/RTS'); // a pty: tolerated, said once
    expect(flashed.code).toBe(0);
    const summary = JSON.parse(flashed.stdout);
    expect(summary).toMatchObject({
      chip: 'esp32s3',
      verified: true,
      parts: [
        { offset: '0x8000', file: 'table.bin', size: TABLE.length },
        { offset: '0x10000', file: 'app.bin', size: app.length },
      ],
    });
    // not a TTY: plain progress lines, each state once
    expect(flashed.stderr).toMatch(/^detected ESP32-S3 .*MAC [0-9a-f:]{17}/m);
    expect(flashed.stderr).toMatch(/^writing app\.bin at 0x10000 \(2\/2\): 100% \(compressed\)$/m);
    expect(flashed.stderr).toMatch(/^verifying app\.bin at 0x10000 by MD5$/m);
    expect(flashed.stderr).not.toContain('\r');

    const backup = join(dir, 'backup.bin');
    const read = await runCli([
      'read-flash',
      '--port',
      rom.pty,
      '--baud',
      '921600',
      '0x10000',
      String(app.length),
      backup,
    ]);
    expect(read.code).toBe(0);
    expect(JSON.parse(read.stdout)).toMatchObject({ chip: 'esp32s3', offset: '0x10000', size: app.length });
    expect(Buffer.compare(await readFile(backup), Buffer.from(app))).toBe(0);

    // the ROM loader alone, uncompressed, over the same pty
    const second = bytes(64 * 1024, 2);
    const rom2 = await runCli([
      'flash',
      '--port',
      rom.pty,
      '--no-stub',
      '--no-compress',
      '0x200000',
      await file('second.bin', second),
    ]);
    expect(rom2.code).toBe(0);

    const flash = await rom.stop();
    expect(
      Buffer.compare(Buffer.from(flash.subarray(0x8000, 0x8000 + TABLE.length)), Buffer.from(TABLE)),
    ).toBe(0);
    expect(Buffer.compare(Buffer.from(flash.subarray(0x10000, 0x10000 + app.length)), Buffer.from(app))).toBe(
      0,
    );
    expect(
      Buffer.compare(Buffer.from(flash.subarray(0x200000, 0x200000 + second.length)), Buffer.from(second)),
    ).toBe(0);
  });

  it('--manifest flashes the build for the chip that answers, from a file or a URL', {
    timeout: 120_000,
  }, async () => {
    const rom = await startEspRom('esp32', 'manifest');
    const boot = bytes(20_000, 7);
    const app = bytes(90_000, 8);
    const later = bytes(30_000, 9);
    const s3only = bytes(1000, 10);
    await mkdir(join(dir, 'site'));
    await writeFile(join(dir, 'site', 'boot32.bin'), boot);
    await writeFile(join(dir, 'site', 'app32.bin'), app);
    await writeFile(join(dir, 'site', 'later.bin'), later);
    await writeFile(join(dir, 'site', 's3.bin'), s3only);
    const manifest = (parts: { path: string; offset: number }[]) =>
      JSON.stringify({
        name: 'Picket',
        version: '1.0.0',
        builds: [
          { chipFamily: 'ESP32-S3', parts: [{ path: 's3.bin', offset: 0x10000 }] },
          { chipFamily: 'ESP32', parts },
        ],
      });
    await writeFile(
      join(dir, 'site', 'manifest.json'),
      manifest([
        { path: 'boot32.bin', offset: 0x1000 },
        { path: 'app32.bin', offset: 0x10000 },
      ]),
    );
    await writeFile(join(dir, 'site', 'later.json'), manifest([{ path: 'later.bin', offset: 0x40000 }]));
    await writeFile(
      join(dir, 'site', 's3-only.json'),
      JSON.stringify({
        name: 'S3',
        version: '1',
        builds: [{ chipFamily: 'ESP32-S3', parts: [{ path: 's3.bin', offset: 0 }] }],
      }),
    );
    const server = createServer((req, res) => {
      readFile(join(dir, 'site', (req.url ?? '/').slice(1))).then(
        (body) => res.end(body),
        () => {
          res.statusCode = 404;
          res.end();
        },
      );
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const fromFile = await runCli([
        'flash',
        '--port',
        rom.pty,
        '--manifest',
        join(dir, 'site', 'manifest.json'),
      ]);
      expect(fromFile.code).toBe(0);
      expect(JSON.parse(fromFile.stdout).parts).toEqual([
        { offset: '0x1000', file: 'boot32.bin', size: boot.length },
        { offset: '0x10000', file: 'app32.bin', size: app.length },
      ]);
      const fromUrl = await runCli(['flash', '--port', rom.pty, '--manifest', `${url}/later.json`]);
      expect(fromUrl.code).toBe(0);
      const noBuild = await runCli(['flash', '--port', rom.pty, '--manifest', `${url}/s3-only.json`]);
      expect(noBuild.code).toBe(1);
      expect(noBuild.stderr).toMatch(/^sentinel: manifest "S3" has no build for ESP32 \(it has ESP32-S3\)$/m);
      const missing = await runCli(['flash', '--port', rom.pty, '--manifest', `${url}/nope.json`]);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toMatch(/cannot fetch manifest .*nope\.json: HTTP 404/);
      const both = await runCli([
        'flash',
        '--port',
        rom.pty,
        '--manifest',
        `${url}/later.json`,
        '0x1000',
        join(dir, 'site', 'boot32.bin'),
      ]);
      expect(both.code).toBe(2);
    } finally {
      server.close();
    }
    const flash = await rom.stop();
    for (const [offset, data] of [
      [0x1000, boot],
      [0x10000, app],
      [0x40000, later],
    ] as const)
      expect(
        Buffer.compare(Buffer.from(flash.subarray(offset, offset + data.length)), Buffer.from(data)),
      ).toBe(0);
  });

  it('refuses an image built for another chip before writing anything, unless --force', {
    timeout: 120_000,
  }, async () => {
    const rom = await startEspRom('esp32s3', 'wrong-chip');
    const c3 = buildAppImage({ chip: 'esp32c3' });
    const c3Path = await file('picket-c3.bin', c3);
    const tablePath = await file('wrong-chip-table.bin', TABLE);
    const refused = await runCli(['flash', '--port', rom.pty, '0x8000', tablePath, '0x10000', c3Path]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /^sentinel: picket-c3\.bin \(at 0x10000\) is built for esp32c3, but the board is an esp32s3: flash the esp32s3 build, or pass --force to write it anyway$/m,
    );
    expect(refused.stdout).toBe('');
    expect(refused.stderr).not.toMatch(/^writing/m);
    // nothing was written, not even the partition table that came first
    const backup = join(dir, 'wrong-chip-backup.bin');
    const read = await runCli(['read-flash', '--port', rom.pty, '0x8000', '0x10000', backup]);
    expect(read.code, read.stderr).toBe(0);
    expect((await readFile(backup)).every((b) => b === 0xff)).toBe(true);

    // the image for this chip goes through; so does the other one with --force
    const s3Path = await file('picket-s3.bin', buildAppImage({ chip: 'esp32s3' }));
    expect((await runCli(['flash', '--port', rom.pty, '0x10000', s3Path])).code).toBe(0);
    const forced = await runCli(['flash', '--port', rom.pty, '--force', '0x10000', c3Path]);
    expect(forced.code, forced.stderr).toBe(0);
    expect(JSON.parse(forced.stdout)).toMatchObject({ chip: 'esp32s3', verified: true });
    const flash = await rom.stop();
    expect(Buffer.compare(Buffer.from(flash.subarray(0x10000, 0x10000 + c3.length)), Buffer.from(c3))).toBe(
      0,
    );
  });

  it('a second flasher on a port in use gets "port busy"', { timeout: 120_000 }, async () => {
    const rom = await startEspRom('esp32c3', 'busy');
    const big = await file('big.bin', bytes(1_500_000, 11));
    const first = track(
      spawn(
        process.execPath,
        [SENTINEL_BIN, 'flash', '--port', rom.pty, '--baud', '115200', '0x10000', big],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      ),
    );
    const exited = once(first, 'exit');
    // the first one holds the port once it writes
    await new Promise<void>((resolve) =>
      createInterface({ input: first.stderr! }).on('line', (line) => {
        if (line.startsWith('writing')) resolve();
      }),
    );
    const second = await runCli(['flash', '--port', rom.pty, '0x10000', big]);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(
      /^sentinel: cannot open .*busy\.tty: .* \(port_busy\): another program holds the serial port/m,
    );
    const [code] = await exited;
    expect(code).toBe(0);
    await rom.stop();
  });

  it('says so in one line when nothing answers on the port (socat pty)', { timeout: 60_000 }, async () => {
    const link = join(dir, 'silent.tty');
    const other = join(dir, 'silent-other.tty');
    const socat = track(
      spawn('socat', [`pty,link=${link},raw,echo=0`, `pty,link=${other},raw,echo=0`], { stdio: 'ignore' }),
    );
    try {
      // socat makes the links when it is ready (a pty must not be read here: that blocks)
      for (
        let i = 0;
        i < 200 &&
        !(await stat(link).then(
          () => true,
          () => false,
        ));
        i++
      )
        await new Promise((r) => setTimeout(r, 25));
      const result = await runCli([
        'flash',
        '--port',
        link,
        '--before',
        'no_reset',
        '0x10000',
        await file('x.bin', bytes(4096, 3)),
      ]);
      expect(result.code).toBe(1);
      const lines = result.stderr.trim().split('\n');
      expect(lines.at(-1)).toMatch(
        /^sentinel: no answer from the chip.s serial bootloader \(no_sync\): .*hold BOOT, tap EN/,
      );
      expect(result.stdout).toBe('');
    } finally {
      socat.kill('SIGTERM');
    }
  });
});

describe('sentinel flash: bad input', () => {
  const cases: [string, string[], number, RegExp][] = [
    ['an offset without a file', ['0x1000'], 2, /^sentinel: 0x1000 has no file after it/],
    [
      'a last offset without a file',
      ['0x1000', 'x.bin', '0x10000'],
      2,
      /^sentinel: 0x10000 has no file after it/,
    ],
    [
      'an offset followed by another offset',
      ['0x1000', '0x8000', 'x.bin'],
      2,
      /^sentinel: 0x1000 has no file after it/,
    ],
    ['a file without an offset', ['picket.bin'], 2, /^sentinel: \S*picket\.bin is not an offset/],
    [
      'a second file without an offset',
      ['0x1000', 'x.bin', 'picket.bin'],
      2,
      /^sentinel: \S*picket\.bin is not an offset/,
    ],
    ['a bad offset', ['0xZZ', 'x.bin'], 2, /invalid offset "0xZZ"/],
    ['an unaligned offset', ['0x1001', 'x.bin'], 2, /not a multiple of 4/],
    ['a missing file', ['0x1000', 'no-such.bin'], 1, /cannot read .*no-such\.bin: ENOENT/],
    [
      '--erase with --no-stub',
      ['--erase', '--no-stub', '0x1000', 'x.bin'],
      2,
      /--erase needs the flasher stub/,
    ],
    ['a bad device id', ['--provision', 'Bad Id', '0x1000', 'x.bin'], 2, /invalid device id "Bad Id"/],
    [
      'a bad gateway URL',
      ['--provision', 'hall', '--gateway-url', 'http://x', '0x1000', 'x.bin'],
      2,
      /--gateway-url: must be an mqtt/,
    ],
    [
      'a short Wi-Fi password',
      ['--provision', 'hall', '--wifi-ssid', 'home', '--wifi-password', 'short', '0x1000', 'x.bin'],
      2,
      /--wifi-password: must be empty/,
    ],
    ['--wifi-ssid alone', ['--wifi-ssid', 'home', '0x1000', 'x.bin'], 2, /--wifi-ssid goes with --provision/],
    ['a port that does not exist', ['0x1000', 'x.bin'], 1, /no serial port at .*nowhere \(no_port\)/],
  ];
  beforeAll(async () => {
    await file('x.bin', bytes(4096, 4));
  });
  for (const [what, args, code, message] of cases)
    it(`${what} → exit ${code}`, async () => {
      const withFiles = args.map((a) => (a.endsWith('.bin') ? join(dir, a) : a));
      const result = await runCli(['flash', '--port', join(dir, 'nowhere'), ...withFiles]);
      expect(result.code).toBe(code);
      // one line for the failure, no stack trace
      const errors = result.stderr
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('sentinel:'));
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatch(message);
      expect(result.stderr).not.toMatch(/^\s+at /m);
      expect(result.stdout).toBe('');
    });

  it('read-flash refuses a zero size and --no-stub', async () => {
    const zero = await runCli(['read-flash', '--port', join(dir, 'nowhere'), '0', '0', join(dir, 'o.bin')]);
    expect(zero.code).toBe(2);
    expect(zero.stderr).toMatch(/size must be more than 0/);
    const rom = await runCli([
      'read-flash',
      '--port',
      join(dir, 'nowhere'),
      '--no-stub',
      '0',
      '16',
      join(dir, 'o.bin'),
    ]);
    expect(rom.code).toBe(2);
    expect(rom.stderr).toMatch(/read-flash needs the flasher stub/);
  });
});

describe('sentinel flash --provision', () => {
  let nats: TestNats;
  let gateway: TestGateway;
  beforeAll(async () => {
    nats = await startNats();
    gateway = await startTestGateway(nats);
  }, 60_000);
  afterAll(async () => {
    await gateway?.stop();
    await nats?.stop();
  });

  it('registers the device, writes its NVS, and a picket device started from it shows up', {
    timeout: 120_000,
  }, async () => {
    const rom = await startEspRom('esp32c3', 'provision');
    const gatewayUrl = `mqtt://127.0.0.1:${gateway.mqttPort}`;
    const args = [
      'flash',
      '--port',
      rom.pty,
      '--nats',
      nats.url,
      '--provision',
      'porch',
      '--gateway-url',
      gatewayUrl,
    ];
    const table = await file('ptable.bin', TABLE);
    const app = await file('papp.bin', bytes(100_000, 5));
    const result = await runCli([
      ...args,
      '--wifi-ssid',
      'home',
      '--wifi-password',
      'correct horse',
      '0x8000',
      table,
      '0x10000',
      app,
    ]);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).provisioned).toEqual({
      device_id: 'picket-porch',
      nvs_offset: '0x9000',
      gateway_urls: [gatewayUrl],
    });
    expect(result.stderr).not.toContain('correct horse');

    // the same id again: refused before the board is touched
    const again = await runCli([...args, '0x10000', app]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/device "porch" is already registered/);

    const flash = await rom.stop();
    const provisioning = readProvisioning(flash.subarray(0x9000, 0x9000 + 0x6000));
    expect(provisioning).toMatchObject({
      deviceId: 'porch',
      gatewayUrls: [gatewayUrl],
      wifi: { ssid: 'home', password: 'correct horse' },
    });
    expect(provisioning.token).toMatch(/^\S{20,}$/);

    const entities = await provisionedPicketEntities(nats.url, provisioning, (bus) =>
      kvValue<{ online: boolean }>(bus, 'sentinel_devices', 'picket-porch', (d) => d.online),
    );
    expect(entities).toEqual(['humidity', 'relay', 'temperature']);
  });

  it('reads the partition table from the board when none is flashed', { timeout: 120_000 }, async () => {
    const rom = await startEspRom('esp32', 'provision-read');
    const table = await file('rtable.bin', TABLE);
    expect((await runCli(['flash', '--port', rom.pty, '0x8000', table])).code).toBe(0);
    const app = await file('rapp.bin', bytes(50_000, 6));
    const result = await runCli([
      'flash',
      '--port',
      rom.pty,
      '--nats',
      nats.url,
      '--provision',
      'shed',
      '--gateway-url',
      'ws://gw.local:8080/picket',
      '0x10000',
      app,
    ]);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/^reading 0x8000: 100%$/m);
    const flash = await rom.stop();
    expect(readProvisioning(flash.subarray(0x9000, 0x9000 + 0x6000))).toMatchObject({
      deviceId: 'shed',
      gatewayUrls: ['ws://gw.local:8080/picket'],
    });
  });
});
