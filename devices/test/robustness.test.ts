// Whatever bytes arrive, the decoder answers with a result, never an exception,
// and never a value that is not a number, boolean or string: random and
// truncated frames for every service UUID and company id a table knows.
import { describe, expect, it } from 'vitest';
import { type BleAdvertisement, decodeAdvertisement, LAYOUT_FORMATS } from '../src/index.js';

/** A small deterministic generator (mulberry32), so a failure can be replayed. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const UUIDS = [
  'fcd2',
  '181c',
  '181e',
  'fe95',
  'fdcd',
  '181a',
  '181d',
  '181b',
  'feaa',
  'fd3d',
  '0d00',
  'fd50',
];
const COMPANIES = [
  ...new Set(LAYOUT_FORMATS.flatMap((f) => (f.match.companyId === undefined ? [] : [f.match.companyId]))),
  0x004c,
  0x2449,
];
const NAMES = [undefined, 'sps', 'tps', 'iBBQ', 'xBBQ', 'GV5140', 'GVH5106'];
const KEYS = [undefined, new Uint8Array(16).fill(7), new Uint8Array(12).fill(3), new Uint8Array(5)];

describe('decoder robustness', () => {
  it('answers every random frame with a result of the documented shape', () => {
    const next = random(20261122);
    const bytes = (n: number) => Uint8Array.from({ length: n }, () => Math.floor(next() * 256));
    const errors = new Set(['unsupported', 'decrypt failed', 'malformed', 'downgrade']);
    let decoded = 0;
    for (let i = 0; i < 20_000; i++) {
      const length = Math.floor(next() * 32);
      const service = next() < 0.6;
      const adv: BleAdvertisement = {
        mac: 'A4:C1:38:00:11:22',
        ...(NAMES[i % NAMES.length] ? { name: NAMES[i % NAMES.length]! } : {}),
        serviceData: service ? [{ uuid: UUIDS[i % UUIDS.length]!, data: bytes(length) }] : [],
        manufacturerData: service
          ? []
          : [{ companyId: COMPANIES[i % COMPANIES.length]!, data: bytes(length) }],
      };
      const key = KEYS[i % KEYS.length];
      const r = decodeAdvertisement(adv, key ? { bindkey: key } : {});
      if (r.ok) {
        decoded++;
        for (const [name, value] of Object.entries(r.measurements)) {
          expect(['number', 'boolean', 'string'], name).toContain(typeof value);
          if (typeof value === 'number') expect(Number.isNaN(value), name).toBe(false);
        }
      } else {
        expect(errors.has(r.error), r.error).toBe(true);
        expect(r.detail.length).toBeGreaterThan(0);
      }
    }
    // random bytes do decode as something some of the time: the loop exercised the tables
    expect(decoded).toBeGreaterThan(100);
  });

  it('every prefix of a valid frame is either decoded or a specific failure', () => {
    const frames: [string, string][] = [
      ['fcd2', '40002a015d02c40903bf13213a02'],
      ['fe95', '5020aa0137dfaa33342d580d1004040166020a10015d'],
      ['fdcd', '0801dfaa33342d58010422014c010201aa'],
    ];
    for (const [uuid, hex] of frames) {
      const full = Uint8Array.from(Buffer.from(hex, 'hex'));
      for (let n = 0; n <= full.length; n++) {
        const r = decodeAdvertisement({
          mac: '58:2D:34:33:AA:DF',
          serviceData: [{ uuid, data: full.subarray(0, n) }],
          manufacturerData: [],
        });
        if (!r.ok) expect(['malformed', 'unsupported']).toContain(r.error);
      }
    }
  });
});
