// The table-driven encoders (fixed layouts, MiBeacon) against bytes that did not
// come from our tables: the shared reference vectors (../shared/vectors/ble next
// to the repository, advertisements captured or written by govee-ble,
// inkbird-ble, xiaomi-ble and Theengs). The encoders write with the decoder's
// rows, so a round trip alone cannot catch a wrong offset or factor; here the
// values a reference decoder read from real bytes are encoded again and must
// land on those same bytes. Skipped, saying so, when the folder is absent.
import { existsSync } from 'node:fs';
import {
  type BleAdvertisement,
  CODECS,
  decodeAdvertisement,
  LAYOUT_FORMATS,
  type LayoutField,
  type LayoutFormat,
  readNum,
} from '@sentinel/devices';
import { describe, expect, it } from 'vitest';
import {
  advertisementOf,
  DEFAULT_VECTOR_DIR,
  loadVectors,
  runVector,
  type Vector,
} from '../../scripts/vectors.js';
import { encodeLayoutAdvertisement, encodeMibeacon } from '../src/index.js';

const present = existsSync(DEFAULT_VECTOR_DIR);
const MAC = 'A4:C1:38:5A:6B:7C';

/** Vectors a reference decoder fully asserted and we decode to the same values, with those values. */
function agreed(): { v: Vector; adv: BleAdvertisement; values: Record<string, number> }[] {
  const out: { v: Vector; adv: BleAdvertisement; values: Record<string, number> }[] = [];
  for (const { vectors } of loadVectors(DEFAULT_VECTOR_DIR))
    for (const v of vectors) {
      if (v.check !== 'asserted-equal' || v.negative || v.bindkey) continue;
      if (runVector(v).kind !== 'pass') continue;
      const adv = advertisementOf(v);
      if (typeof adv === 'string') continue;
      const r = decodeAdvertisement(adv);
      if (!r.ok) continue;
      // the reference's numbers, where our name and unit are the same as theirs
      const values: Record<string, number> = {};
      for (const [k, want] of Object.entries(v.expected)) {
        const ours = r.measurements[k];
        if (typeof want === 'number' && typeof ours === 'number' && Math.abs(ours - want) <= 0.01)
          values[k] = want;
      }
      if (Object.keys(values).length > 0) out.push({ v, adv, values });
    }
  return out;
}

/** The frame a layout row reads from this advertisement (with the company id when the row keeps one there). */
function frameOf(row: LayoutFormat, adv: BleAdvertisement): Uint8Array | undefined {
  const m = row.match;
  if (m.serviceUuid !== undefined)
    return adv.serviceData.find((s) => {
      const u = s.uuid.length === 36 ? s.uuid.slice(4, 8) : s.uuid;
      return u === m.serviceUuid || (u === '0d00' && m.serviceUuid === 'fd3d');
    })?.data;
  const md = adv.manufacturerData.find((d) => m.companyId === undefined || d.companyId === m.companyId);
  if (!md) return undefined;
  return row.withCompanyId ? Uint8Array.of(md.companyId & 0xff, md.companyId >> 8, ...md.data) : md.data;
}

function fits(row: LayoutFormat, frame: Uint8Array): boolean {
  const m = row.match;
  if (m.length && !m.length.includes(frame.length)) return false;
  if (m.minLength !== undefined && frame.length < m.minLength) return false;
  if (m.prefix?.some((b, i) => frame[i] !== b)) return false;
  if (m.firstByte && ((frame[0] ?? 0) & m.firstByte.mask) !== m.firstByte.value) return false;
  return true;
}

/** A numeric field's raw bits, as the row places them. */
function bits(frame: Uint8Array, f: LayoutField): number {
  let raw = readNum(frame, f.at, f.type);
  if (f.shift) raw >>>= f.shift;
  if (f.mask !== undefined) raw &= f.mask;
  return raw;
}

/** Fields whose bytes are determined by their value alone (numbers: offsets, types, factors, codecs). */
const numeric = (f: LayoutField) =>
  !f.bool && !f.events && f.constant === undefined && f.round === undefined && !f.onlyEmpty;

describe('table-driven encoders against the reference vectors', () => {
  it.skipIf(!present)('layout encoders put the reference values on the reference bytes', () => {
    const checked = new Set<string>();
    const problems: string[] = [];
    let compared = 0;
    for (const { v, adv, values } of agreed()) {
      const r = decodeAdvertisement(adv);
      if (!r.ok) continue;
      const row = LAYOUT_FORMATS.find((x) => {
        if (x.unsupported || x.format !== r.format || x.device.model !== r.device?.model) return false;
        const frame = frameOf(x, adv);
        return frame !== undefined && fits(x, frame);
      });
      if (!row) continue;
      const frame = frameOf(row, adv)!;
      const fields = row.fields.filter(
        (f) =>
          numeric(f) &&
          f.name in values &&
          f.at + Number(f.type.match(/\d+/)![0]) / 8 <= frame.length &&
          (!f.onlyIf || (frame[f.onlyIf.at]! & (f.onlyIf.mask ?? 0xff)) === f.onlyIf.equals),
      );
      if (fields.length === 0) continue;
      // codecs that share bytes need their partner's value too (Govee packs temperature and humidity)
      const toEncode = Object.fromEntries(fields.map((f) => [f.name, values[f.name]!]));
      const encoded = encodeLayoutAdvertisement(row.id, {
        mac: adv.mac || MAC,
        measurements: toEncode,
        length: frame.length,
        ...(adv.name !== undefined ? { name: adv.name } : {}),
        ...(adv.manufacturerData[0] ? { companyId: adv.manufacturerData[0].companyId } : {}),
      });
      const ours = frameOf(row, encoded);
      if (!ours) {
        problems.push(`${v.id}: ${row.id} encoded no frame`);
        continue;
      }
      for (const f of fields) {
        compared++;
        checked.add(`${row.id}.${f.name}`);
        const ref = bits(frame, f);
        let wrote = bits(ours, f);
        if (f.codec) {
          // a codec owns only some bits of its bytes (a SwitchBot flag nibble, Govee's
          // partner value): encode over the reference's own bits, as a device would
          const codec = CODECS[f.codec];
          wrote = codec.encode(values[f.name]!, ref);
          // several raw values can mean one value (a Govee probe reads 0xFFFF, unset, as 0)
          if (wrote !== ref && codec.decode(wrote) === codec.decode(ref)) continue;
        }
        if (wrote !== ref)
          problems.push(
            `${v.id}: ${row.id} ${f.name}=${values[f.name]} wrote ${wrote}, the reference bytes hold ${ref}`,
          );
      }
    }
    expect(problems).toEqual([]);
    // the comparison ran on a real number of rows and fields
    expect(compared).toBeGreaterThan(100);
    expect(new Set([...checked].map((c) => c.split('.')[0])).size).toBeGreaterThan(10);
  });

  it.skipIf(!present)(
    'the MiBeacon encoder writes the reference object bytes for the objects it picks',
    () => {
      const problems: string[] = [];
      let compared = 0;
      for (const { v, adv, values } of agreed()) {
        if (v.format !== 'xiaomi-mibeacon') continue;
        const data = adv.serviceData.find((s) => s.uuid === 'fe95')?.data;
        if (!data || data.length < 5) continue;
        const frctrl = data[0]! | (data[1]! << 8);
        // plain frames with objects: frame control bit 6, not encrypted (bit 3)
        if (!(frctrl & 0x40) || frctrl & 0x08) continue;
        const version = frctrl >> 12;
        if (version < 2 || version > 5) continue;
        const macIncluded = (frctrl & 0x10) !== 0;
        const capability = (frctrl & 0x20) !== 0;
        let at = 5 + (macIncluded ? 6 : 0);
        if (capability) at += data[at]! & 0x20 ? 3 : 1;
        const theirs = tlvs(data.subarray(at));
        let encoded: BleAdvertisement;
        try {
          encoded = encodeMibeacon({
            mac: adv.mac || MAC,
            productId: data[2]! | (data[3]! << 8),
            frameCounter: data[4]!,
            version: version as 2 | 3 | 4 | 5,
            includeMac: macIncluded,
            measurements: values,
          });
        } catch {
          continue; // values our rows carry in other objects together with non-numeric ones
        }
        const mine = encoded.serviceData[0]!.data;
        const ours = tlvs(mine.subarray(5 + (macIncluded ? 6 : 0)));
        for (const [id, bytes] of ours) {
          const ref = theirs.get(id);
          if (ref === undefined) continue;
          compared++;
          if (ref !== bytes)
            problems.push(`${v.id}: object 0x${id.toString(16)} encoded ${bytes}, the reference has ${ref}`);
        }
      }
      expect(problems).toEqual([]);
      expect(compared).toBeGreaterThan(10);
    },
  );

  it.runIf(!present)('is skipped: no ../shared/vectors/ble next to the repository', () => {
    console.info(`encoder vector checks skipped: ${DEFAULT_VECTOR_DIR} is absent`);
  });
});

/** MiBeacon objects: id (u16 LE), length, value → hex of the value by id. */
function tlvs(b: Uint8Array): Map<number, string> {
  const out = new Map<number, string>();
  let i = 0;
  while (i + 3 <= b.length) {
    const id = b[i]! | (b[i + 1]! << 8);
    const len = b[i + 2]!;
    if (i + 3 + len > b.length) break;
    out.set(id, Buffer.from(b.subarray(i + 3, i + 3 + len)).toString('hex'));
    i += 3 + len;
  }
  return out;
}
