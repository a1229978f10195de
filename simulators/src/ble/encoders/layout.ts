// Advertisements for every fixed-layout format (ATC/pvvx, Govee, Inkbird,
// SwitchBot, Ruuvi, HHCCJCY10), written with the decoder's own table rows.
import {
  type BleAdvertisement,
  encodeLayout,
  LAYOUT_FORMATS,
  type LayoutFormat,
  writeNum,
} from '@sentinel/devices';
import { advertisement, BleEncodeError, type EncodeBase, type Measurements, macOf } from './common.js';

export interface LayoutEncodeInput extends EncodeBase {
  measurements: Measurements;
  packetId?: number;
  /** frame length, when the row accepts several (default: the first) */
  length?: number;
  /** for rows matched by name only (Inkbird): the local name is required; the company id comes from the frame */
  companyId?: number;
}

export const LAYOUT_FORMAT_IDS: readonly string[] = LAYOUT_FORMATS.map((row) => row.id);

export function layoutRow(id: string): LayoutFormat {
  const row = LAYOUT_FORMATS.find((r) => r.id === id);
  if (!row) throw new BleEncodeError(`no layout format "${id}" (known: ${LAYOUT_FORMAT_IDS.join(', ')})`);
  return row;
}

export function encodeLayoutAdvertisement(id: string, input: LayoutEncodeInput): BleAdvertisement {
  const row = layoutRow(id);
  const m = row.match;
  const length =
    input.length ?? m.length?.[0] ?? Math.max(m.minLength ?? 0, ...row.fields.map((f) => f.at + 4));
  const frame = encodeLayout(row, length, input.measurements);
  if (row.mac) {
    const mac = macOf(input.mac);
    for (let i = 0; i < 6; i++) frame[row.mac.at + i] = mac[row.mac.reversed ? 5 - i : i]!;
  }
  if (row.packetId && input.packetId !== undefined)
    writeNum(frame, row.packetId.at, row.packetId.type, input.packetId);
  const name = input.name ?? m.namePrefix?.[0];
  const base = { ...input, ...(name !== undefined ? { name } : {}) };
  if (m.serviceUuid !== undefined)
    return advertisement(base, { serviceData: [{ uuid: m.serviceUuid, data: frame }], manufacturerData: [] });
  if (row.withCompanyId) {
    const companyId = frame[0]! | (frame[1]! << 8);
    return advertisement(base, {
      serviceData: [],
      manufacturerData: [{ companyId, data: frame.subarray(2) }],
    });
  }
  const companyId = m.companyId ?? input.companyId ?? 0;
  return advertisement(base, {
    serviceData: [],
    manufacturerData: [{ companyId, data: frame }],
    ...(m.listedUuid !== undefined ? { serviceUuids: [m.listedUuid] } : {}),
  });
}
