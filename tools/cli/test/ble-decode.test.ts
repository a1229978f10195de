// `sentinel ble decode` through the real CLI process (CONTRACT §5): JSON on
// stdout, exit 1 with the reason for undecodable input, exit 2 for bad flags.
import { encodeBthome, encodeMibeacon } from '@sentinel/simulators';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../../test/support/cli.js';

const MAC = 'A4:C1:38:5A:6B:7C';
const KEY = '231d39c1d7cc1ab1aee224cd096db932';
const hexOf = (b: Uint8Array) => Buffer.from(b).toString('hex');
const decode = (...args: string[]) => runCli(['ble', 'decode', '--mac', MAC, ...args]);

describe('sentinel ble decode', () => {
  it('prints {"format","measurements"} for BTHome service data', async () => {
    // 40 = BTHome v2 plain · 02 CA09 = 25.06 °C · 03 BF13 = 50.55 % · 01 64 = battery 100
    const { code, stdout, stderr } = await decode('--service-data', 'fcd2=4002ca0903bf130164');
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual({
      format: 'bthome-v2',
      measurements: { temperature: 25.06, humidity: 50.55, battery: 100 },
    });
  });

  it('takes the company id in hex, as the SIG assigns it, with or without 0x, and the local name', async () => {
    // Govee H5075, company 0xEC88: 034DB2 → 21.6 °C / 49.8 %, battery 100
    const bare = await decode('--manufacturer-data', 'ec88=00034db26400', '--name', 'GVH5075_1234');
    expect(bare.stderr).toBe('');
    expect(bare.code).toBe(0);
    expect(JSON.parse(bare.stdout)).toEqual({
      format: 'govee',
      measurements: { temperature: 21.6, humidity: 49.8, battery: 100 },
    });
    const prefixed = await decode('--manufacturer-data', '0xEC88=00034db26400', '--name', 'GVH5075_1234');
    expect(prefixed.stdout).toBe(bare.stdout);
    // Ruuvi is 0x0499 (1177 in decimal): RAWv2 from Ruuvi's format 5 spec example, 24.3 °C
    const ruuvi = '0512fc5394c37c0004fffc040cac364200cdcbb8334c884f';
    for (const id of ['0499', '0x0499']) {
      const r = await decode('--manufacturer-data', `${id}=${ruuvi}`);
      expect(r.code, id).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ format: 'ruuvi', measurements: { temperature: 24.3 } });
    }
  });

  it('passes listed service UUIDs (--service-uuid) to the decoders that need them', async () => {
    // Govee H5181 (lists 8151): probe 1 0x0898 = 22 °C, alarm 0x1D10 = 74.4 °C
    const { code, stdout } = await decode(
      '--manufacturer-data',
      '0x1234=d801000101e4018608981d100000',
      '--service-uuid',
      '8151',
    );
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual({
      format: 'govee',
      measurements: { temperature_probe_1: 22, temperature_alarm_probe_1: 74.4 },
    });
  });

  it('decrypts with --bindkey, and exits 1 "decrypt failed" without it or with a wrong one', async () => {
    const adv = encodeMibeacon({
      mac: MAC,
      productId: 0x055b,
      frameCounter: 3,
      bindkey: Buffer.from(KEY, 'hex'),
      measurements: { humidity: 46.7 },
    });
    const sd = `fe95=${hexOf(adv.serviceData[0]!.data)}`;
    const good = await decode('--service-data', sd, '--bindkey', KEY);
    expect(good.code).toBe(0);
    expect(JSON.parse(good.stdout)).toEqual({
      format: 'xiaomi-mibeacon-encrypted',
      measurements: { humidity: 46.7 },
    });
    const none = await decode('--service-data', sd);
    expect(none.code).toBe(1);
    expect(none.stdout).toBe('');
    expect(none.stderr).toMatch(/^sentinel: decrypt failed: /);
    expect(none.stderr.trim().split('\n')).toHaveLength(1);
    const wrong = await decode('--service-data', sd, '--bindkey', '00'.repeat(16));
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^sentinel: decrypt failed: .*MIC/);
  });

  it('exits 1 "malformed" and "unsupported" with what was wrong, and "downgrade" for a plain packet from a keyed device', async () => {
    const truncated = await decode('--service-data', 'fcd2=4002c4');
    expect(truncated.code).toBe(1);
    expect(truncated.stderr).toMatch(
      /^sentinel: malformed: BTHome v2: object 0x02 \(temperature\) truncated/,
    );
    const unknown = await decode('--manufacturer-data', '0x1234=0102');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^sentinel: unsupported: no decoder for manufacturer data 0x1234/);
    const plain = hexOf(encodeBthome({ mac: MAC, measurements: { temperature: 20 } }).serviceData[0]!.data);
    const downgrade = await decode('--service-data', `fcd2=${plain}`, '--bindkey', KEY);
    expect(downgrade.code).toBe(1);
    expect(downgrade.stderr).toMatch(/^sentinel: downgrade: /);
  });

  it('exits 2 on bad flags, naming the flag', async () => {
    const badHex = await decode('--service-data', 'fcd2=4x');
    expect(badHex.code).toBe(2);
    expect(badHex.stderr).toMatch(/--service-data "fcd2=4x": the data must be hex/);
    for (const bad of ['zz12', '0x12345', '12345', '']) {
      const r = await decode('--manufacturer-data', `${bad}=00`);
      expect(r.code, bad).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(
        new RegExp(`--manufacturer-data "${bad}=00": the key must be a 16-bit company id in hex`),
      );
    }
    // a decimal id from older habits: refused, with its hex spelling (60552 = 0xec88)
    const decimal = await decode('--manufacturer-data', '60552=00034db26400');
    expect(decimal.code).toBe(2);
    expect(decimal.stderr).toMatch(/did you mean ec88\?/);
    const badMac = await runCli(['ble', 'decode', '--mac', 'nope', '--service-data', 'fcd2=40']);
    expect(badMac.code).toBe(2);
    expect(badMac.stderr).toMatch(/--mac "nope"/);
    const noData = await decode();
    expect(noData.code).toBe(2);
    const noMac = await runCli(['ble', 'decode', '--service-data', 'fcd2=40']);
    expect(noMac.code).toBe(2);
    const badKey = await decode('--service-data', 'fcd2=40', '--bindkey', 'abcd');
    expect(badKey.code).toBe(2);
    expect(badKey.stderr).toMatch(/--bindkey/);
  });

  it('documents every option in --help', async () => {
    const { code, stdout } = await runCli(['ble', 'decode', '--help']);
    expect(code).toBe(0);
    for (const flag of [
      '--mac',
      '--service-data',
      '--manufacturer-data',
      '--name',
      '--service-uuid',
      '--bindkey',
    ])
      expect(stdout).toContain(flag);
  });
});
