// Shared by the flasher tests: image-like test data and a simulator on a memory port.

import { type FlashState, MemoryPort } from '@sentinel/firmware';
import { type EspRomFaults, EspRomSimulator } from '@sentinel/simulators';

export type Chip = 'esp32' | 'esp32s3' | 'esp32c3' | 'esp32p4';
export const CHIPS: Chip[] = ['esp32', 'esp32s3', 'esp32c3', 'esp32p4'];
export const MB = 1 << 20;

/**
 * Bytes that compress about like firmware does (half): 4 KiB runs of xorshift noise
 * alternating with 4 KiB of structured filler. Cheap for deflate at level 9, unlike
 * finely interleaved noise, so the test matrix stays quick.
 */
export function imageBytes(size: number, seed = 1): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    if ((i >>> 12) % 2 === 0) {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      out[i] = x & 0xff;
    } else out[i] = (i >>> 8) % 3 === 0 ? 0xff : (i * 7) & 0x7f;
  }
  return out;
}

export function simulated(chip: Chip, faults: EspRomFaults = {}, flashSize = 8 * MB) {
  const sim = new EspRomSimulator({ chip, flashSize, faults });
  const port = new MemoryPort(sim);
  const states: FlashState[] = [];
  return { sim, port, states, onState: (s: FlashState) => states.push(s) };
}

export const sameBytes = (a: Uint8Array, b: Uint8Array) =>
  Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;

/** Resolves once the simulated chip runs its app (it boots a moment after EN rises). */
export function booted(sim: EspRomSimulator): Promise<void> {
  return new Promise((resolve) => {
    if (sim.state === 'app') return resolve();
    const listener = (state: string) => {
      if (state !== 'app') return;
      sim.off('state', listener);
      resolve();
    };
    sim.on('state', listener);
  });
}
