// The small generic engine the tables run on: typed failures, result building,
// instance naming (`temperature`, `temperature_2`, …).
import type { BleDecodeErrorCode, BleDecodeFailure, MeasurementValue } from './types.js';

export function fail(error: BleDecodeErrorCode, detail: string): BleDecodeFailure {
  return { ok: false, error, detail };
}

/** Stores `value` under `name`, or `name_2`, `name_3`, … when the packet already had one; returns the key used. */
export function put(out: Record<string, MeasurementValue>, name: string, value: MeasurementValue): string {
  if (!(name in out)) {
    out[name] = value;
    return name;
  }
  for (let n = 2; ; n++) {
    const key = `${name}_${n}`;
    if (!(key in out)) {
      out[key] = value;
      return key;
    }
  }
}

export function hex2(n: number): string {
  return `0x${n.toString(16).padStart(2, '0')}`;
}

export function hex4(n: number): string {
  return `0x${n.toString(16).padStart(4, '0')}`;
}
