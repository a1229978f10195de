// Provisioning data in NVS: what `sentinel flash --provision` writes and a picket device
// (or the picket simulator) reads back at boot.
import { describe, expect, it } from 'vitest';
import {
  buildNvsPartition,
  buildProvisioningNvs,
  DEFAULT_NVS_SIZE,
  encodePartitionTable,
  type Provisioning,
  ProvisioningError,
  parseNvsCsv,
  parsePartitionCsv,
  readNvsPartition,
  readProvisioning,
  readProvisioningFromFlash,
} from '../src/index.js';
import { formatErrorExpecter } from './format-errors.js';
import { PROVISIONING_CSV, PROVISIONING_DATA } from './provisioning-fixture.js';

const DATA = PROVISIONING_DATA;

const expectProvisioningError = formatErrorExpecter(ProvisioningError);

describe('provisioning NVS', () => {
  it('writes namespace "picket" with the documented keys, the same bytes ESP-IDF’s generator makes', () => {
    const nvs = buildProvisioningNvs(DATA, 0x3000);
    // the same keys as an nvs_partition_gen CSV (firmware/README.md documents them)
    expect(
      Buffer.from(nvs).equals(Buffer.from(buildNvsPartition(parseNvsCsv(PROVISIONING_CSV), 0x3000))),
    ).toBe(true);
    expect(readNvsPartition(nvs).items.every((i) => i.namespace === 'picket' && i.key.length <= 15)).toBe(
      true,
    );
  });

  it('round-trips gateway URLs in order, the device id, the token and Wi-Fi credentials', () => {
    const withWifi: Provisioning = {
      ...DATA,
      gatewayUrls: ['mqtts://gw-a.local:8883', 'wss://gw-b.local/picket', 'mqtt://[fd00::2]:1883'],
      wifi: { ssid: 'Home Wi-Fi ✓', password: 'correct horse' },
    };
    const nvs = buildProvisioningNvs(withWifi);
    expect(nvs.length).toBe(DEFAULT_NVS_SIZE);
    expect(readProvisioning(nvs)).toEqual(withWifi);
    expect(
      readProvisioning(buildProvisioningNvs({ ...DATA, wifi: { ssid: 'cafe', password: '' } }, 0x3000)).wifi,
    ).toEqual({
      ssid: 'cafe',
      password: '',
    });
  });

  it('ignores other namespaces in the same partition', () => {
    const csv = `key,type,encoding,value
wifi_cfg,namespace,,
x,data,u8,1
picket,namespace,,
prov_ver,data,u8,1
device_id,data,string,porch
token,data,string,t
gw_count,data,u8,1
gw_url0,data,string,ws://gw:8080/picket
`;
    expect(readProvisioning(buildNvsPartition(parseNvsCsv(csv), 0x3000))).toEqual({
      gatewayUrls: ['ws://gw:8080/picket'],
      deviceId: 'porch',
      token: 't',
    });
  });

  it('refuses data a device could not use, naming the field', () => {
    expectProvisioningError(
      () => buildProvisioningNvs({ ...DATA, gatewayUrls: [] }),
      'invalid',
      /gatewayUrls: .*1/,
    );
    expectProvisioningError(
      () => buildProvisioningNvs({ ...DATA, gatewayUrls: ['http://gw:8080'] }),
      'invalid',
      /gatewayUrls\.0: must be an mqtt:\/\/, mqtts:\/\/, ws:\/\/ or wss:\/\/ URL/,
    );
    expectProvisioningError(
      () => buildProvisioningNvs({ ...DATA, gatewayUrls: Array(9).fill('mqtt://gw') }),
      'invalid',
      /gatewayUrls/,
    );
    expectProvisioningError(
      () => buildProvisioningNvs({ ...DATA, deviceId: 'Kitchen!' }),
      'invalid',
      /deviceId/,
    );
    expectProvisioningError(() => buildProvisioningNvs({ ...DATA, token: '' }), 'invalid', /token/);
    expectProvisioningError(
      () => buildProvisioningNvs({ ...DATA, wifi: { ssid: '', password: '' } }),
      'invalid',
      /wifi\.ssid/,
    );
    expectProvisioningError(
      () => buildProvisioningNvs({ ...DATA, wifi: { ssid: 'x', password: 'short' } }),
      'invalid',
      /wifi\.password: must be empty \(open network\) or 8 to 63/,
    );
  });

  it('finds the nvs partition of a whole flash image through its partition table', () => {
    const flash = new Uint8Array(4 << 20).fill(0xff);
    const table = parsePartitionCsv(
      'phy_init, data, phy, , 4K\nnvs, data, nvs, , 0x6000\nfactory, app, factory, , 1M\n',
    );
    flash.set(encodePartitionTable(table), 0x8000);
    flash.set(buildProvisioningNvs(DATA, 0x6000), 0xa000);
    expect(readProvisioningFromFlash(flash)).toEqual({ partition: table[1], provisioning: DATA });

    expectProvisioningError(
      () => readProvisioningFromFlash(new Uint8Array(0x10000)),
      'no-nvs-partition',
      /no partition table at 0x8000/,
    );
    const noNvs = new Uint8Array(0x10000).fill(0xff);
    noNvs.set(encodePartitionTable(parsePartitionCsv('factory, app, factory, 0x10000, 1M\n')), 0x8000);
    expectProvisioningError(
      () => readProvisioningFromFlash(noNvs),
      'no-nvs-partition',
      /no data\/nvs partition/,
    );
    expectProvisioningError(
      () => readProvisioningFromFlash(flash.subarray(0, 0xb000)),
      'no-nvs-partition',
      /past the end/,
    );
  });

  it('says what is wrong with a partition that holds no usable provisioning', () => {
    const other = buildNvsPartition(
      parseNvsCsv('key,type,encoding,value\napp,namespace,,\nx,data,u8,1\n'),
      0x3000,
    );
    expectProvisioningError(() => readProvisioning(other), 'missing', /no "picket" namespace/);
    const partial = buildNvsPartition(
      parseNvsCsv('key,type,encoding,value\npicket,namespace,,\nprov_ver,data,u8,1\ngw_count,data,u8,1\n'),
      0x3000,
    );
    expectProvisioningError(() => readProvisioning(partial), 'missing', /"gw_url0" is missing/);
    const future = buildNvsPartition(
      parseNvsCsv('key,type,encoding,value\npicket,namespace,,\nprov_ver,data,u8,2\n'),
      0x3000,
    );
    expectProvisioningError(() => readProvisioning(future), 'unsupported-version', /version 2/);
    const wrongType = buildNvsPartition(
      parseNvsCsv(
        'key,type,encoding,value\npicket,namespace,,\nprov_ver,data,u8,1\ngw_count,data,string,2\n',
      ),
      0x3000,
    );
    expectProvisioningError(
      () => readProvisioning(wrongType),
      'invalid',
      /"gw_count" is string, expected u8/,
    );
    const damaged = buildProvisioningNvs(DATA, 0x3000);
    damaged[64 + 3 * 32] ^= 0xff; // the device id's data
    try {
      readProvisioning(damaged);
      throw new Error('expected a failure');
    } catch (error) {
      expect((error as ProvisioningError).reason).toBe('unreadable');
      expect((error as Error).message).toMatch(/damaged: .*data CRC/);
      expect((error as Error & { cause: { reason: string } }).cause.reason).toBe('bad-data-crc');
    }
    expectProvisioningError(
      () => readProvisioning(new Uint8Array(0x3000).fill(0xff)),
      'missing',
      /no "picket" namespace/,
    );
  });
});
