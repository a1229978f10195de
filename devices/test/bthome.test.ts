// BTHome v1/v2 against bytes written by hand from bthome.io/format and
// bthome.io/encryption; the encrypted packets are sealed here with Node's own
// AES-CCM and a nonce laid out as the spec says, independently of the decoder.
import { createCipheriv } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeAdvertisement } from '../src/index.js';
import { hex, serviceAdv } from './helpers.js';

const MAC = '54:48:E6:8F:80:A5';
const KEY = hex('231d39c1d7cc1ab1aee224cd096db932');

/** Spec: nonce = MAC (6) · UUID 0xFCD2 little-endian (2) · device info (1) · counter (4, LE); MIC 4 bytes. */
function sealV2(info: number, counter: number, plain: Uint8Array, key = KEY): string {
  const counterBytes = Buffer.alloc(4);
  counterBytes.writeUInt32LE(counter);
  const nonce = Buffer.concat([
    Buffer.from('5448e68f80a5', 'hex'),
    Buffer.from([0xd2, 0xfc, info]),
    counterBytes,
  ]);
  const cipher = createCipheriv('aes-128-ccm', key, nonce, { authTagLength: 4 });
  const ct = Buffer.concat([cipher.update(plain), cipher.final()]);
  return Buffer.concat([Buffer.from([info]), ct, counterBytes, cipher.getAuthTag()]).toString('hex');
}

describe('BTHome v2', () => {
  it('decodes temperature and humidity (spec example: 02 C409, 03 BF13)', () => {
    // 0x40 = version 2, unencrypted; 0x09C4 = 2500 × 0.01 °C; 0x13BF = 5055 × 0.01 %
    const r = decodeAdvertisement(serviceAdv(MAC, 'fcd2', '40 02C409 03BF13'));
    expect(r).toEqual({
      ok: true,
      format: 'bthome-v2',
      measurements: { temperature: 25, humidity: 50.55 },
      encrypted: false,
    });
  });

  it('numbers a second object of the same kind _2 (multi-instance)', () => {
    // 0x09CA = 2506 → 25.06, then 0x09C4 → 25.00
    const r = decodeAdvertisement(serviceAdv(MAC, 'fcd2', '40 02CA09 02C409'));
    expect(r.ok && r.measurements).toEqual({ temperature: 25.06, temperature_2: 25 });
  });

  it('reads packet id, battery, binary sensors, events, negatives, 24-bit and text objects', () => {
    // 00 2A packet 42 · 01 5D battery 93 · 21 01 motion · 3A 02 double press ·
    // 02 0CFC = -1012 → -10.12 °C · 04 138A01 = 100883 → 1008.83 hPa · 53 03 "abc"
    const r = decodeAdvertisement(
      serviceAdv(MAC, 'fcd2', '40 002A 015D 2101 3A02 020CFC 04138A01 5303616263'),
    );
    expect(r).toMatchObject({
      ok: true,
      packetId: 42,
      measurements: {
        packet_id: 42,
        battery: 93,
        motion: true,
        button: 'double_press',
        temperature: -10.12,
        pressure: 1008.83,
        text: 'abc',
      },
    });
  });

  it('reports distance in m as mm and mass in lb as kg (CONTRACT §5 units)', () => {
    // 41 0C00 = 12 × 0.1 m = 1200 mm; 07 F401 = 500 × 0.01 lb = 5 lb = 2.27 kg
    const r = decodeAdvertisement(serviceAdv(MAC, 'fcd2', '40 07F401 410C00'));
    expect(r.ok && r.measurements.distance).toBe(1200);
    expect(r.ok && (r.measurements.mass as number)).toBeCloseTo(2.268, 3);
  });

  it('decrypts AES-CCM packets with the bindkey and reports the counter', () => {
    const data = sealV2(0x41, 0x00112233, hex('02CA09 03BF13'));
    const r = decodeAdvertisement(serviceAdv(MAC, 'fcd2', data), { bindkey: KEY });
    expect(r).toEqual({
      ok: true,
      format: 'bthome-v2',
      measurements: { temperature: 25.06, humidity: 50.55 },
      encrypted: true,
      counter: 0x00112233,
    });
  });

  it('says "decrypt failed", never garbage, for a wrong key, no key, a short key or a corrupted MIC', () => {
    const data = sealV2(0x41, 7, hex('02CA09'));
    const adv = serviceAdv(MAC, 'fcd2', data);
    const wrong = hex('00112233445566778899aabbccddeeff');
    expect(decodeAdvertisement(adv, { bindkey: wrong })).toMatchObject({
      ok: false,
      error: 'decrypt failed',
    });
    expect(decodeAdvertisement(adv)).toMatchObject({
      ok: false,
      error: 'decrypt failed',
      detail: expect.stringMatching(/no bindkey/),
    });
    expect(decodeAdvertisement(adv, { bindkey: KEY.subarray(0, 15) })).toMatchObject({
      ok: false,
      error: 'decrypt failed',
      detail: expect.stringMatching(/16 bytes/),
    });
    const flipped = `${data.slice(0, -2)}${((Number.parseInt(data.slice(-2), 16) ^ 1) & 0xff).toString(16).padStart(2, '0')}`;
    expect(decodeAdvertisement(serviceAdv(MAC, 'fcd2', flipped), { bindkey: KEY })).toMatchObject({
      error: 'decrypt failed',
    });
    // the MAC is part of the nonce: another sender's packet does not decrypt
    expect(
      decodeAdvertisement(serviceAdv('54:48:E6:8F:80:A6', 'fcd2', data), { bindkey: KEY }),
    ).toMatchObject({ error: 'decrypt failed' });
  });

  it('flags a plain packet from a device that has a key as a downgrade', () => {
    const r = decodeAdvertisement(serviceAdv(MAC, 'fcd2', '40 02C409'), { bindkey: KEY });
    expect(r).toMatchObject({ ok: false, error: 'downgrade' });
  });

  it('rejects truncated objects, unknown object ids and other versions with a specific detail', () => {
    expect(decodeAdvertisement(serviceAdv(MAC, 'fcd2', '40 02C4'))).toEqual({
      ok: false,
      error: 'malformed',
      detail: 'BTHome v2: object 0x02 (temperature) truncated: needs 2 bytes, has 1',
    });
    // an unknown id first: nothing to keep
    expect(decodeAdvertisement(serviceAdv(MAC, 'fcd2', '40 FE01 02C409'))).toEqual({
      ok: false,
      error: 'malformed',
      detail: 'BTHome v2: unknown BTHome object id 0xfe at byte 1',
    });
    expect(decodeAdvertisement(serviceAdv(MAC, 'fcd2', '40 5305616263'))).toMatchObject({
      error: 'malformed',
      detail: expect.stringMatching(/truncated/),
    });
    // 0x60 = version 3
    expect(decodeAdvertisement(serviceAdv(MAC, 'fcd2', '60 02C409'))).toMatchObject({
      ok: false,
      error: 'unsupported',
    });
    expect(decodeAdvertisement(serviceAdv(MAC, 'fcd2', ''))).toMatchObject({ ok: false, error: 'malformed' });
    // encrypted flag but too short to hold counter and MIC
    expect(decodeAdvertisement(serviceAdv(MAC, 'fcd2', '41 0102'), { bindkey: KEY })).toMatchObject({
      error: 'malformed',
    });
  });

  it('stops at an unknown object id after known ones, keeping them with a warning (as bthome-ble does)', () => {
    expect(decodeAdvertisement(serviceAdv(MAC, 'fcd2', '40 02C409 FE01 03BF13'))).toEqual({
      ok: true,
      format: 'bthome-v2',
      measurements: { temperature: 25 },
      encrypted: false,
      warning: 'BTHome v2: unknown BTHome object id 0xfe at byte 4; the objects after it were skipped',
    });
  });

  it('reads the MAC from the payload when device info bit 1 says so, and uses it in the nonce', () => {
    // 0x42: v2, MAC included · A5808FE64854 = 54:48:E6:8F:80:A5 reversed
    const r = decodeAdvertisement(serviceAdv('00:00:00:00:00:01', 'fcd2', '42 a5808fe64854 02C409'));
    expect(r.ok && r.measurements).toEqual({ temperature: 25 });
    const sealed = sealV2(0x43, 5, hex('02CA09'));
    // sealed = info · ciphertext · counter · MIC; put the MAC after the info byte
    const withMac = `43a5808fe64854${sealed.slice(2)}`;
    expect(
      decodeAdvertisement(serviceAdv('00:00:00:00:00:01', 'fcd2', withMac), { bindkey: KEY }),
    ).toMatchObject({
      ok: true,
      measurements: { temperature: 25.06 },
    });
    expect(decodeAdvertisement(serviceAdv(MAC, 'fcd2', '42 a580'))).toMatchObject({ error: 'malformed' });
  });

  it('accepts the 128-bit form of the service UUID', () => {
    const r = decodeAdvertisement(serviceAdv(MAC, '0000fcd2-0000-1000-8000-00805f9b34fb', '40 02C409'));
    expect(r.ok && r.measurements).toEqual({ temperature: 25 });
  });
});

describe('BTHome v1', () => {
  it('reads objects with their format byte (0x181C)', () => {
    // 23 = signed, length 3 (id + 2 bytes) · 02 C409 → 25.00 °C; 03 = unsigned, length 3 · 03 BF13 → 50.55 %
    const r = decodeAdvertisement(serviceAdv(MAC, '181c', '2302C409 0303BF13'));
    expect(r).toEqual({
      ok: true,
      format: 'bthome-v1',
      measurements: { temperature: 25, humidity: 50.55 },
      encrypted: false,
    });
  });

  it('decrypts 0x181E packets (nonce MAC · 0x181E · counter, AAD 0x11)', () => {
    const plain = hex('2302CA09');
    const counter = Buffer.from([1, 0, 0, 0]);
    const nonce = Buffer.concat([hex('5448e68f80a5'), Buffer.from([0x1e, 0x18]), counter]);
    const cipher = createCipheriv('aes-128-ccm', KEY, nonce, { authTagLength: 4 });
    // v1 authenticates one byte of associated data, 0x11
    cipher.setAAD(Buffer.from([0x11]), { plaintextLength: plain.length });
    const ct = Buffer.concat([cipher.update(plain), cipher.final()]);
    const data = Buffer.concat([ct, counter, cipher.getAuthTag()]).toString('hex');
    expect(decodeAdvertisement(serviceAdv(MAC, '181e', data), { bindkey: KEY })).toMatchObject({
      ok: true,
      format: 'bthome-v1',
      encrypted: true,
      measurements: { temperature: 25.06 },
    });
    expect(decodeAdvertisement(serviceAdv(MAC, '181e', data))).toMatchObject({ error: 'decrypt failed' });
  });

  it('names the v1 problem for a short encrypted packet, a short key and a plain packet from a keyed device', () => {
    expect(decodeAdvertisement(serviceAdv(MAC, '181e', '0102030405060708'), { bindkey: KEY })).toEqual({
      ok: false,
      error: 'malformed',
      detail: 'BTHome v1 encrypted: 8 bytes is too short',
    });
    expect(
      decodeAdvertisement(serviceAdv(MAC, '181e', '2302CA09 01000000 00000000'), {
        bindkey: KEY.subarray(0, 12),
      }),
    ).toEqual({ ok: false, error: 'decrypt failed', detail: 'BTHome v1: bindkey must be 16 bytes, got 12' });
    expect(decodeAdvertisement(serviceAdv(MAC, '181c', '2302C409'), { bindkey: KEY })).toMatchObject({
      ok: false,
      error: 'downgrade',
    });
  });

  it('rejects an object longer than the packet and a bad data format', () => {
    expect(decodeAdvertisement(serviceAdv(MAC, '181c', '2502C409'))).toMatchObject({
      error: 'malformed',
      detail: expect.stringMatching(/truncated/),
    });
    // float (format 2) with 3 data bytes: IEEE 754 has 2-, 4- and 8-byte floats only
    expect(decodeAdvertisement(serviceAdv(MAC, '181c', '4402C40900'))).toMatchObject({
      error: 'malformed',
      detail: expect.stringMatching(/data format 2/),
    });
  });
});
