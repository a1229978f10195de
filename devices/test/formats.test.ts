// Fixed-layout formats against bytes written by hand from each format's
// documentation (values worked out in the comments).
import { describe, expect, it } from 'vitest';
import { decodeAdvertisement } from '../src/index.js';
import { manufacturerAdv, serviceAdv } from './helpers.js';

const MAC = 'A4:C1:38:12:34:56';

describe('ATC1441 and pvvx custom firmware (0x181A, by length)', () => {
  it('ATC1441: big-endian, 0.1 °C', () => {
    // MAC · 00E6 = 230 → 23.0 °C · 2D = 45 % · 55 = 85 % · 0B9A = 2970 mV · counter 07
    const r = decodeAdvertisement(serviceAdv(MAC, '181a', 'a4c138123456 00e6 2d 55 0b9a 07'));
    expect(r).toMatchObject({
      ok: true,
      format: 'atc1441',
      packetId: 7,
      measurements: { temperature: 23, humidity: 45, battery: 85, voltage: 2.97 },
    });
  });

  it('pvvx: little-endian, 0.01 °C / 0.01 %', () => {
    // MAC reversed · 1709 = 2327 → 23.27 · 8813 = 5000 → 50.00 · B80B = 3000 mV · 5A = 90 % · counter 11 · flags 04
    const r = decodeAdvertisement(serviceAdv(MAC, '181a', '563412 38c1a4 1709 8813 b80b 5a 11 04'));
    expect(r).toMatchObject({
      ok: true,
      format: 'pvvx-custom',
      packetId: 0x11,
      measurements: { temperature: 23.27, humidity: 50, voltage: 3, battery: 90 },
    });
  });

  it('other lengths are malformed, naming the lengths it knows', () => {
    expect(decodeAdvertisement(serviceAdv(MAC, '181a', '00'.repeat(14)))).toMatchObject({
      ok: false,
      error: 'malformed',
      detail: expect.stringMatching(/14 bytes, expected 13 or 15/),
    });
  });
});

describe('Govee (manufacturer data)', () => {
  it('H5075: packed temperature/humidity, 0xEC88', () => {
    // 034DB2 = 216498 → 21.6 °C (216498 / 1000 / 10), 49.8 % (498 / 10); battery 0x64
    expect(decodeAdvertisement(manufacturerAdv(MAC, 0xec88, '00 034db2 64 00'))).toMatchObject({
      ok: true,
      format: 'govee',
      measurements: { temperature: 21.6, humidity: 49.8, battery: 100 },
      device: { manufacturer: 'Govee' },
    });
    // sign bit: 811F09 → -(0x011F09 = 73481 → 7.3 °C), 48.1 %
    expect(decodeAdvertisement(manufacturerAdv(MAC, 0xec88, '00 811f09 64 00'))).toMatchObject({
      measurements: { temperature: -7.3, humidity: 48.1 },
    });
  });

  it('H5101 family (company 0x0001): bit 7 of the battery byte marks a sensor error', () => {
    expect(decodeAdvertisement(manufacturerAdv(MAC, 0x0001, '0101 034db2 64'))).toMatchObject({
      measurements: { temperature: 21.6, humidity: 49.8, battery: 100 },
    });
    expect(decodeAdvertisement(manufacturerAdv(MAC, 0x0001, '0101 034db2 e4'))).toMatchObject({
      measurements: { temperature: 'error', humidity: 'error', battery: 100 },
    });
  });

  it('H5074: little-endian 0.01 units', () => {
    // E609 = 2534 → 25.34 °C · BC12 = 4796 → 47.96 % · 64
    expect(decodeAdvertisement(manufacturerAdv(MAC, 0xec88, '00 e609 bc12 64 02'))).toMatchObject({
      measurements: { temperature: 25.34, humidity: 47.96, battery: 100 },
    });
  });

  it('meat thermometers: the model from the listed UUID, the probe pair from byte 6', () => {
    // H5184 lists 8451; the company id is just the first payload bytes. Byte 6 = 02: probes 3 and 4.
    // 0D48 = 3400 → 34 °C, alarm 1964 = 6500 → 65 °C; 0A8C → 27 °C, alarm FFFF (unset) → 0
    const adv = {
      ...manufacturerAdv(MAC, 0x1234, '2001000101e4 02 86 0d48 1964 86 0a8c ffff'),
      serviceUuids: ['8451'],
    };
    const r = decodeAdvertisement(adv);
    expect(r).toMatchObject({ ok: true, format: 'govee', device: { model: 'H5184' } });
    expect(r.ok && r.measurements).toEqual({
      temperature_probe_3: 34,
      temperature_alarm_probe_3: 65,
      temperature_probe_4: 27,
      temperature_alarm_probe_4: 0,
    });
    // without the listed UUID nobody claims it
    expect(
      decodeAdvertisement(manufacturerAdv(MAC, 0x1234, '2001000101e4 02 86 0d48 1964 86 0a8c ffff')),
    ).toMatchObject({ error: 'unsupported' });
  });

  it('an unknown Govee length is an unsupported model, not a broken packet', () => {
    expect(decodeAdvertisement(manufacturerAdv(MAC, 0xec88, '00'.repeat(12)))).toMatchObject({
      ok: false,
      error: 'unsupported',
    });
  });

  it('ignores an iBeacon record appended to the Govee data', () => {
    const r = decodeAdvertisement(manufacturerAdv(MAC, 0xec88, `00 034db2 64 00 4c000215${'00'.repeat(21)}`));
    expect(r).toMatchObject({ ok: true, format: 'govee', measurements: { temperature: 21.6 } });
  });
});

describe('Inkbird IBS-TH (temperature in the company-id bytes)', () => {
  it('decodes sps frames by name', () => {
    // company id 0x0A66 = 2662 → 26.62 °C · 0315 = 5379 → 53.79 % · probe 00 · crc 1080 · battery 0x59 = 89
    expect(decodeAdvertisement(manufacturerAdv(MAC, 0x0a66, '0315 00 1080 59 08', 'sps'))).toMatchObject({
      ok: true,
      format: 'inkbird',
      measurements: { temperature: 26.62, humidity: 53.79, battery: 89 },
      device: { model: 'IBS-TH' },
    });
  });

  it('rejects frames the sensor marks invalid (humidity 0xFFFF, battery over 100 %), leaves out unplugged iBBQ probes', () => {
    expect(decodeAdvertisement(manufacturerAdv(MAC, 0x0a66, 'ffff 00 1080 59 08', 'sps'))).toMatchObject({
      ok: false,
      error: 'malformed',
      detail: expect.stringMatching(/marks humidity invalid/),
    });
    expect(decodeAdvertisement(manufacturerAdv(MAC, 0x0a66, '0315 00 1080 ff 08', 'sps'))).toMatchObject({
      error: 'malformed',
      detail: expect.stringMatching(/marks battery invalid/),
    });
    // probes 0x0111 = 27.3 °C and 0xFFFF (unplugged)
    const r = decodeAdvertisement(manufacturerAdv(MAC, 0x0000, '0000 aabbccddeeff 1101 ffff', 'iBBQ'));
    expect(r.ok && r.measurements).toEqual({ temperature_probe_1: 27.3 });
  });
});

describe('Inkbird 16-byte frames (company 0x2449)', () => {
  it('reads temperature, humidity and battery; 0xFFFF humidity makes the frame invalid', () => {
    // 0812005E · D800 = 216 → 21.6 °C · 1302 = 531 → 53.1 % · battery 0x64
    const adv = manufacturerAdv(MAC, 0x2449, '0812005e d800 1302 64 00 64 08 00000000', 'ITH-21-B');
    expect(decodeAdvertisement(adv)).toMatchObject({
      ok: true,
      format: 'inkbird',
      measurements: { temperature: 21.6, humidity: 53.1, battery: 100 },
    });
    expect(
      decodeAdvertisement(manufacturerAdv(MAC, 0x2449, '0812005e d800 ffff 64 00 64 08 00000000')),
    ).toEqual({
      ok: false,
      error: 'malformed',
      detail: 'INKBIRD IBS-P02B/ITH-11-B/ITH-13-B/ITH-21-B: the device marks humidity invalid',
    });
  });
});

describe('Inkbird IAM-T2 (company 0x3254)', () => {
  it('reads °C, or °F converted to °C when byte 7 says so', () => {
    // byte 7 D4 (bit 1 clear): 0117 = 279 → 27.9 °C · 01EE = 494 → 49.4 % · 0253 = 595 ppm
    expect(
      decodeAdvertisement(manufacturerAdv(MAC, 0x3254, '006200a13e29bed4 0117 01ee 0253 91')),
    ).toMatchObject({
      measurements: { temperature: 27.9, humidity: 49.4, carbon_dioxide: 595 },
    });
    // byte 7 D6 (bit 1 set): 0334 = 820 → 82.0 °F = 27.78 °C
    const f = decodeAdvertisement(manufacturerAdv(MAC, 0x3254, '006200a13e29bed6 0334 020b 029b 91'));
    expect(f.ok && (f.measurements.temperature as number)).toBeCloseTo(27.78, 2);
  });
});

describe('SwitchBot', () => {
  it('Meter service data: tenths nibble, degrees with a sign bit', () => {
    // 'T' · 00 · battery 0x64 · 05: .5 · 96: bit 7 = positive, 0x16 = 22 → 22.5 °C · 32 = 50 %
    expect(decodeAdvertisement(serviceAdv(MAC, 'fd3d', '54 00 64 05 96 32'))).toMatchObject({
      measurements: { battery: 100, temperature: 22.5, humidity: 50 },
    });
    expect(decodeAdvertisement(serviceAdv(MAC, 'fd3d', '54 00 64 05 16 32'))).toMatchObject({
      measurements: { temperature: -22.5 },
    });
  });

  it('an unknown SwitchBot model byte is unsupported', () => {
    expect(decodeAdvertisement(serviceAdv(MAC, 'fd3d', '7a 00 64'))).toMatchObject({
      ok: false,
      error: 'unsupported',
    });
  });
});

describe('Ruuvi', () => {
  it('RAWv2 (format 5), the example from the Ruuvi docs', () => {
    // 12FC = 4860 × 0.005 = 24.3 °C · 5394 = 21396 × 0.0025 = 53.49 % · C37C = 50044 + 50000 Pa = 1000.44 hPa
    // acceleration 4, -4, 1036 mG × 0.00980665 m/s² · AC36 >> 5 = 1377 + 1600 = 2977 mV, & 0x1F = 22 → 4 dBm
    const r = decodeAdvertisement(
      manufacturerAdv(MAC, 0x0499, '05 12fc 5394 c37c 0004 fffc 040c ac36 42 00cd cbb8334c884f'),
    );
    expect(r).toMatchObject({ ok: true, format: 'ruuvi', packetId: 205 });
    if (!r.ok) return;
    expect(r.measurements).toMatchObject({
      temperature: 24.3,
      humidity: 53.49,
      pressure: 1000.44,
      voltage: 2.977,
      tx_power: 4,
      movement_counter: 66,
    });
    expect(r.measurements.acceleration_x).toBeCloseTo(0.0392, 4);
    expect(r.measurements.acceleration_y).toBeCloseTo(-0.0392, 4);
    expect(r.measurements.acceleration_z).toBeCloseTo(10.1597, 4);
  });

  it('RAWv2 leaves out values the tag marks invalid', () => {
    const r = decodeAdvertisement(
      manufacturerAdv(MAC, 0x0499, `05 8000 ffff ffff 8000 8000 8000 ffff ff ffff ${'ff'.repeat(6)}`),
    );
    expect(r.ok && r.measurements).toEqual({});
  });
});

describe('Xiaomi scales', () => {
  it('Mi Smart Scale (0x181D): mass only when stabilized and still loaded', () => {
    // control 0x22 (stabilized, kg) · B036 = 14000 / 200 = 70 kg · date
    expect(decodeAdvertisement(serviceAdv(MAC, '181d', '22 b036 e807 01 02 03 04 05'))).toMatchObject({
      measurements: { mass: 70, mass_non_stabilized: 70, stabilized: true },
    });
    // 0xA2: load removed → not stabilized
    const removed = decodeAdvertisement(serviceAdv(MAC, '181d', 'a2 b036 e807 01 02 03 04 05'));
    expect(removed.ok && removed.measurements).toEqual({ mass_non_stabilized: 70, stabilized: false });
  });

  it('reports pounds and jin in kg', () => {
    // 0x23: stabilized, pounds · 0x3A98 = 15000 → 150.00 lb = 68.04 kg
    expect(decodeAdvertisement(serviceAdv(MAC, '181d', '23 983a e807 01 02 03 04 05'))).toMatchObject({
      measurements: { mass: 68.04 },
    });
    // 0x32: stabilized, jin · 15000 → 150 jin = 75 kg
    expect(decodeAdvertisement(serviceAdv(MAC, '181d', '32 983a e807 01 02 03 04 05'))).toMatchObject({
      measurements: { mass: 75 },
    });
  });

  it('Body Composition Scale (0x181B): impedance when stabilized', () => {
    // 02 · control 26 (stabilized + impedance) · date · F401 = 500 Ω · B036 = 70 kg
    expect(decodeAdvertisement(serviceAdv(MAC, '181b', '02 26 e807 01 02 03 04 05 f401 b036'))).toMatchObject(
      {
        measurements: { mass: 70, impedance: 500, stabilized: true },
      },
    );
    expect(decodeAdvertisement(serviceAdv(MAC, '181b', '02 26 e807'))).toMatchObject({
      error: 'malformed',
      detail: expect.stringMatching(/expected 13/),
    });
  });
});

describe('iBeacon and Eddystone', () => {
  it('iBeacon: proximity UUID, major, minor, measured power', () => {
    const r = decodeAdvertisement(
      manufacturerAdv(MAC, 0x004c, '0215 e2c56db5dffb48d2b060d0f5a71096e0 0001 0002 c5'),
    );
    expect(r).toMatchObject({
      ok: true,
      format: 'ibeacon',
      measurements: { uuid: 'e2c56db5-dffb-48d2-b060-d0f5a71096e0', major: 1, minor: 2, tx_power: -59 },
    });
  });

  it('Eddystone TLM and URL', () => {
    // 0BB8 = 3000 mV · 1780 = 23.5 °C (8.8 fixed point) · 10 frames · 0x12C = 300 × 0.1 s
    expect(decodeAdvertisement(serviceAdv(MAC, 'feaa', '20 00 0bb8 1780 0000000a 0000012c'))).toMatchObject({
      format: 'eddystone-tlm',
      measurements: { voltage: 3, temperature: 23.5, count: 10, uptime: 30 },
    });
    // scheme 03 = https:// · "example" · 07 = .com
    expect(decodeAdvertisement(serviceAdv(MAC, 'feaa', '10 eb 03 6578616d706c65 07'))).toMatchObject({
      format: 'eddystone-url',
      measurements: { tx_power: -21, url: 'https://example.com' },
    });
    expect(decodeAdvertisement(serviceAdv(MAC, 'feaa', '20 00 0bb8'))).toMatchObject({ error: 'malformed' });
    expect(decodeAdvertisement(serviceAdv(MAC, 'feaa', '50 00'))).toMatchObject({ error: 'unsupported' });
  });
});

describe('unknown advertisements', () => {
  it('says what it saw', () => {
    expect(decodeAdvertisement(manufacturerAdv(MAC, 0x1234, '0102'))).toEqual({
      ok: false,
      error: 'unsupported',
      detail: 'no decoder for manufacturer data 0x1234',
    });
    expect(decodeAdvertisement({ mac: MAC, serviceData: [], manufacturerData: [] })).toMatchObject({
      error: 'unsupported',
    });
  });
});
