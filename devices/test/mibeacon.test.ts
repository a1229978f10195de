// Xiaomi MiBeacon (0xFE95) and Qingping (0xFDCD) against hand-built frames.
// Encrypted v4/v5 frames are sealed here with Node's AES-CCM and the nonce laid
// out as the MiBeacon docs give it: reversed MAC · product id · frame counter ·
// extended counter, AAD 0x11, 4-byte MIC.
import { createCipheriv } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeAdvertisement } from '../src/index.js';
import { hex, serviceAdv } from './helpers.js';

const MAC = '58:2D:34:33:AA:DF';
const MAC_REVERSED = 'DFAA33342D58';
const KEY = hex('e9ea895fac7cca6d30532432a516f3a8');

function sealV5(productId: number, counter: number, plain: string): string {
  // frame control 0x5858: version 5 · object (0x40) · MAC (0x10) · encrypted (0x08) · registered (0x800)
  const header = Buffer.concat([
    hex('5858'),
    Buffer.from([productId & 0xff, productId >> 8, counter]),
    hex(MAC_REVERSED),
  ]);
  const ext = hex('010000');
  const nonce = Buffer.concat([hex(MAC_REVERSED), header.subarray(2, 5), ext]);
  const cipher = createCipheriv('aes-128-ccm', KEY, nonce, { authTagLength: 4 });
  cipher.setAAD(Buffer.from([0x11]), { plaintextLength: hex(plain).length });
  const ct = Buffer.concat([cipher.update(hex(plain)), cipher.final()]);
  return Buffer.concat([header, ct, ext, cipher.getAuthTag()]).toString('hex');
}

describe('Xiaomi MiBeacon', () => {
  it('decodes a plain frame: 0x100D temperature + humidity, model from the product id', () => {
    // 5020: v2, MAC + objects · product 0x01AA (LYWSDCGQ) · counter 0x37 · MAC · 0D10 04 0401 6602
    // 0x0104 = 260 → 26.0 °C, 0x0266 = 614 → 61.4 %
    const r = decodeAdvertisement(serviceAdv(MAC, 'fe95', `5020 aa01 37 ${MAC_REVERSED} 0d10 04 0401 6602`));
    expect(r).toEqual({
      ok: true,
      format: 'xiaomi-mibeacon',
      measurements: { temperature: 26, humidity: 61.4 },
      encrypted: false,
      packetId: 0x37,
      device: { manufacturer: 'Xiaomi', model: 'LYWSDCGQ' },
    });
  });

  it('skips the capability byte and, when its bit 5 is set, the IO capability byte', () => {
    // frame control 0x5070: v5, objects + capability + MAC · capability 0x28 (bit 5 set) · IO capability 00
    const r = decodeAdvertisement(
      serviceAdv(MAC, 'fe95', `7050 aa01 37 ${MAC_REVERSED} 28 00 0d10 04 0401 6602`),
    );
    expect(r.ok && r.measurements).toEqual({ temperature: 26, humidity: 61.4 });
    // capability 0x08 (bit 5 clear): no IO byte
    const s = decodeAdvertisement(
      serviceAdv(MAC, 'fe95', `7050 aa01 37 ${MAC_REVERSED} 08 0d10 04 0401 6602`),
    );
    expect(s.ok && s.measurements).toEqual({ temperature: 26, humidity: 61.4 });
  });

  it('reads battery, illuminance, moisture, conductivity and the door object', () => {
    // 0A10 01 5D battery 93 · 0710 03 102700 = 10000 lx · 0810 01 0E moisture 14 · 0910 02 5B00 = 91 µS/cm · 1910 01 00 door open
    const r = decodeAdvertisement(
      serviceAdv(
        MAC,
        'fe95',
        `5020 9800 01 ${MAC_REVERSED} 0a10015d 071003102700 0810010e 0910025b00 19100100`,
      ),
    );
    expect(r.ok && r.measurements).toEqual({
      battery: 93,
      illuminance: 10000,
      moisture: 14,
      conductivity: 91,
      opening: true,
      door_left_open: false,
    });
  });

  it('decrypts v5 frames with the 16-byte bindkey', () => {
    // 0610 02 D301: humidity 0x01D3 = 467 → 46.7 %
    const r = decodeAdvertisement(serviceAdv(MAC, 'fe95', sealV5(0x055b, 0x50, '0610 02 d301')), {
      bindkey: KEY,
    });
    expect(r).toMatchObject({
      ok: true,
      format: 'xiaomi-mibeacon-encrypted',
      encrypted: true,
      packetId: 0x50,
      counter: (1 << 8) | 0x50,
      measurements: { humidity: 46.7 },
      device: { model: 'LYWSD03MMC' },
    });
  });

  it('fails encrypted frames without the right key, and plain frames from a keyed device', () => {
    const adv = serviceAdv(MAC, 'fe95', sealV5(0x055b, 0x50, '0610 02 d301'));
    expect(decodeAdvertisement(adv)).toMatchObject({ ok: false, error: 'decrypt failed' });
    expect(decodeAdvertisement(adv, { bindkey: hex('00'.repeat(16)) })).toMatchObject({
      ok: false,
      error: 'decrypt failed',
    });
    expect(decodeAdvertisement(adv, { bindkey: hex('00'.repeat(12)) })).toMatchObject({
      ok: false,
      error: 'decrypt failed',
      detail: expect.stringMatching(/16 bytes/),
    });
    const plain = serviceAdv(MAC, 'fe95', `5020 aa01 37 ${MAC_REVERSED} 0d10 04 0401 6602`);
    expect(decodeAdvertisement(plain, { bindkey: KEY })).toMatchObject({ ok: false, error: 'downgrade' });
    // a frame without objects (frame control 0x3010: MAC only) carries nothing to downgrade
    const empty = decodeAdvertisement(serviceAdv(MAC, 'fe95', `1030 aa01 38 ${MAC_REVERSED}`), {
      bindkey: KEY,
    });
    expect(empty).toMatchObject({ ok: true, measurements: {} });
  });

  it('rejects short headers, truncated objects and a MAC that is not the sender', () => {
    expect(decodeAdvertisement(serviceAdv(MAC, 'fe95', '5020aa01'))).toMatchObject({
      error: 'malformed',
      detail: expect.stringMatching(/needs 5/),
    });
    expect(
      decodeAdvertisement(serviceAdv(MAC, 'fe95', `5020 aa01 37 ${MAC_REVERSED} 0d10 04 0401`)),
    ).toMatchObject({
      error: 'malformed',
      detail: expect.stringMatching(/object 0x100d truncated/),
    });
    expect(
      decodeAdvertisement(
        serviceAdv('58:2D:34:33:AA:D0', 'fe95', `5020 aa01 37 ${MAC_REVERSED} 0d10 04 0401 6602`),
      ),
    ).toMatchObject({
      error: 'malformed',
      detail: expect.stringMatching(/MAC/),
    });
    // a 0x100D object with 2 bytes is shorter than the row needs
    expect(
      decodeAdvertisement(serviceAdv(MAC, 'fe95', `5020 aa01 37 ${MAC_REVERSED} 0d10 02 0401`)),
    ).toMatchObject({ error: 'malformed' });
  });

  it('reads state-dependent objects (toothbrush: counter while brushing, score when done)', () => {
    // 1000 02 00 59: brushing, 89 s · 1000 02 01 46: done, score 70
    const brushing = decodeAdvertisement(
      serviceAdv(MAC, 'fe95', `5020 8904 01 ${MAC_REVERSED} 1000 02 0059`),
    );
    expect(brushing.ok && brushing.measurements).toEqual({ toothbrush: true, counter: 89 });
    const done = decodeAdvertisement(serviceAdv(MAC, 'fe95', `5020 8904 02 ${MAC_REVERSED} 1000 02 0146`));
    expect(done.ok && done.measurements).toEqual({ toothbrush: false, score: 70 });
  });

  it('decodes the S400 body scale object by its named decoder', () => {
    // 6E16 05 · profile 01 · bits 0x54E152BB: mass 0x2BB = 699 → 69.9 kg, (>> 11) & 0x7F = 42 → 92 bpm,
    // >> 18 = 5432 → 543.2 Ω with a mass: the low-frequency impedance, not settled yet
    const r = decodeAdvertisement(
      serviceAdv(MAC, 'fe95', `5020 d53b 01 ${MAC_REVERSED} 166e 05 01 bb52e154`),
    );
    expect(r.ok && r.measurements).toEqual({
      profile_id: 1,
      mass: 69.9,
      heart_rate: 92,
      impedance_low: 543.2,
      stabilized: false,
    });
  });

  it('says "unsupported" for frames whose only objects it does not know', () => {
    expect(decodeAdvertisement(serviceAdv(MAC, 'fe95', `5020 aa01 37 ${MAC_REVERSED} 0b00 02 0102`))).toEqual(
      {
        ok: false,
        error: 'unsupported',
        detail: 'MiBeacon object 0x000b is not supported',
      },
    );
  });
});

describe('Qingping', () => {
  it('decodes temperature/humidity, battery (7 bits) and the packet id', () => {
    // 08 01 · MAC reversed · 01 04 2201 4C01 (29.0 °C, 33.2 %) · 02 01 AA (bit 7 is a flag: 42 %) · 0F 01 05
    const r = decodeAdvertisement(
      serviceAdv(MAC, 'fdcd', `0801 ${MAC_REVERSED} 0104 22014c01 0201aa 0f0105`),
    );
    expect(r).toMatchObject({
      ok: true,
      format: 'qingping',
      packetId: 5,
      measurements: { temperature: 29, humidity: 33.2, battery: 42, packet_id: 5 },
    });
  });

  it('rejects a truncated frame', () => {
    expect(decodeAdvertisement(serviceAdv(MAC, 'fdcd', `0801 ${MAC_REVERSED} 0104 2201`))).toMatchObject({
      error: 'malformed',
    });
    expect(decodeAdvertisement(serviceAdv(MAC, 'fdcd', '0801dfaa'))).toMatchObject({
      error: 'malformed',
      detail: expect.stringMatching(/header/),
    });
  });
});
