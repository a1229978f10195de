// Shared by the flasher tests: image-like test data and a simulator on a memory port.

import { CHIP_NAMES, type ChipName, type FlashState, MemoryPort } from '@sentinel/firmware';
import { type EspRomFaults, EspRomSimulator, firmwareLikeBytes } from '@sentinel/simulators';

export type Chip = ChipName;
export const CHIPS = CHIP_NAMES;
export const MB = 1 << 20;

/** Firmware-like test data (about half compressible); one definition shared with the bench. */
export const imageBytes = firmwareLikeBytes;

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
