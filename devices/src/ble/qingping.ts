// Qingping (ClearGrass) service data 0xFDCD: frame control (1) · product id (1) ·
// MAC reversed (6) · objects of id (1) · length (1) · value, rows in objects.ts.
import { fail } from './engine.js';
import { walkObjects } from './mibeacon.js';
import { objectIndex, QINGPING_OBJECTS } from './objects.js';
import type { BleDecodeResult, MeasurementValue } from './types.js';

export const QINGPING_UUID = 'fdcd';
const OBJECTS = objectIndex(QINGPING_OBJECTS);

export function decodeQingping(data: Uint8Array, advMac: Uint8Array | undefined): BleDecodeResult {
  if (data.length < 8) return fail('malformed', `Qingping: ${data.length} bytes, the header needs 8`);
  if (advMac && !advMac.every((b, k) => b === data[7 - k]))
    return fail('malformed', 'Qingping: the MAC inside the frame differs from the sender');
  const out: Record<string, MeasurementValue> = {};
  const problem = walkObjects(data, 8, OBJECTS, 1, out);
  if (problem) return fail('malformed', `Qingping: ${problem}`);
  const pid = out.packet_id;
  return {
    ok: true,
    format: 'qingping',
    measurements: out,
    encrypted: false,
    ...(typeof pid === 'number' ? { packetId: pid } : {}),
    device: { manufacturer: 'Qingping' },
  };
}
