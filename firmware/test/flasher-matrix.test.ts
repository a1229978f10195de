// Flashing through the ESP ROM simulator on every chip, 1 MB and 4 MB, with and without
// the stub and compression, checked byte for byte against the simulator's flash.

import { flash } from '@sentinel/firmware';
import { describe, expect, it } from 'vitest';
import { booted, CHIPS, imageBytes, MB, sameBytes, simulated } from './flasher-support.js';

const OFFSET = 0x10000;

describe.concurrent('flashing through the ROM simulator', () => {
  for (const chip of CHIPS)
    for (const size of [1 * MB, 4 * MB])
      for (const stub of [true, false])
        for (const compress of [true, false]) {
          const name = `${chip}, ${size / MB} MB, ${stub ? 'stub' : 'ROM only'}, ${compress ? 'compressed' : 'plain'}`;
          it(name, { timeout: 180_000 }, async () => {
            const { sim, port, states, onState } = simulated(chip);
            const data = imageBytes(size, size + chip.length);
            // the stub runs at a raised baud rate; the ROM stays at 115200
            const result = await flash(port, {
              parts: [{ offset: OFFSET, data, name: 'app.bin' }],
              stub,
              compress,
              baud: stub ? 921600 : 115200,
              onState,
            });
            expect(result.info.family).toBe(chip);
            expect(sameBytes(sim.flash.subarray(OFFSET, OFFSET + size), data)).toBe(true);
            // nothing outside the part was touched
            expect(sim.flash.subarray(0, OFFSET).every((b) => b === 0xff)).toBe(true);
            expect(sim.flash[OFFSET + size]).toBe(0xff);
            // verified by MD5, then reset into the app with both lines released
            expect(states.some((s) => s.state === 'verifying')).toBe(true);
            expect(states.find((s) => s.state === 'stub')).toEqual({ state: 'stub', running: stub });
            const writes = states.filter((s) => s.state === 'writing');
            expect(writes.every((s) => s.compressed === compress)).toBe(true);
            expect(writes.at(-1)).toMatchObject({ written: writes.at(-1)?.total });
            expect(states.at(-1)).toMatchObject({ state: 'done', bytes: size });
            await booted(sim);
            expect(sim.signals).toEqual({ dtr: false, rts: false });
          });
        }
});
