// Each esptool-js 0.7 gap our loader closes, shown against the simulator: what the stock
// ESPLoader does (the gap), then what SentinelLoader does (the fix).

import {
  AppReset,
  CommandStatusError,
  FlasherError,
  FlasherSession,
  MemoryPort,
  md5,
  toHex,
} from '@sentinel/firmware';
import { ESPLoader, HardReset } from 'esptool-js';
import { describe, expect, it } from 'vitest';
import { booted, type Chip, imageBytes, MB, sameBytes, simulated } from './flasher-support.js';

const OFFSET = 0x10000;

async function romSession(chip: Chip = 'esp32') {
  const rig = simulated(chip);
  const session = new FlasherSession(rig.port, { stub: false, attempts: 2 });
  return { ...rig, session, loader: session.loader };
}

describe('esptool-js 0.7 workarounds', () => {
  it('1: ROM-mode MD5 is read as ASCII hex (esptool-js hex-encodes it again)', async () => {
    const { session, loader } = await romSession();
    await session.connect();
    const data = imageBytes(64 * 1024);
    await session.write([{ offset: OFFSET, data }], { compress: true });
    const expected = toHex(md5(data));
    const stock = await ESPLoader.prototype.flashMd5sum.call(loader, OFFSET, data.length);
    expect(stock).not.toBe(expected);
    expect(stock).toBe(toHex(new TextEncoder().encode(expected))); // the ASCII, hex-encoded
    expect(await loader.flashMd5sum(OFFSET, data.length)).toBe(expected);
    await session.close();
  });

  it('2: SPI_ATTACH goes out before flash commands (the ROM refuses them otherwise)', async () => {
    const { session, loader } = await romSession('esp32s3');
    // esptool-js's connect alone: no SPI_ATTACH
    await loader.connect('default_reset', 2, true);
    const refused = await loader.flashBegin(0x1000, OFFSET).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(CommandStatusError);
    expect((refused as CommandStatusError).status).toBe(0x06); // "failed to act on received message"
    await loader.flashSpiAttach(0);
    await expect(loader.flashBegin(0x1000, OFFSET)).resolves.toBe(4);
    await session.close();
  });

  it('3: ROM writes use the ROM block size (esptool-js sends 16 KiB stub blocks)', async () => {
    const { session, loader, sim } = await romSession('esp32c3');
    await session.connect();
    const block = imageBytes(0x4000);
    // stock flashBegin keeps FLASH_WRITE_SIZE at the stub's 0x4000: the ROM rejects the block
    await ESPLoader.prototype.flashBegin.call(loader, block.length, OFFSET);
    expect(loader.FLASH_WRITE_SIZE).toBe(0x4000);
    loader.WRITE_BLOCK_RETRY_DELAY_MS = 1;
    await expect(loader.flashBlock(block, 0, 3000)).rejects.toBeInstanceOf(CommandStatusError);
    // ours: 0x400 blocks, accepted
    await session.write([{ offset: OFFSET, data: block }], { compress: false });
    expect(loader.FLASH_WRITE_SIZE).toBe(0x400);
    expect(sameBytes(sim.flash.subarray(OFFSET, OFFSET + block.length), block)).toBe(true);
    await session.close();
  });

  it('4: READ_FLASH checks the MD5 the stub sends after the data (esptool-js leaves it unread)', async () => {
    const data = imageBytes(32 * 1024, 7);
    // a line that flips one bit of one data byte on its way to the host, once armed
    const { sim } = simulated('esp32');
    let armed = false;
    let seen = 0;
    const noisy = {
      receive: (bytes: Uint8Array) => sim.receive(bytes),
      setSignals: (s: { dtr?: boolean; rts?: boolean }) => sim.setSignals(s),
      setBaudRate: (baud: number) => sim.setBaudRate(baud),
      onTransmit: (listener: (bytes: Uint8Array) => void) =>
        sim.onTransmit((bytes) => {
          const copy = Uint8Array.from(bytes);
          if (armed) {
            for (let i = 0; i < copy.length; i++, seen++)
              if (seen >= 3000 && copy[i]! < 0xc0) {
                copy[i]! ^= 0x01;
                armed = false;
                break;
              }
          }
          listener(copy);
        }),
    };
    const session = new FlasherSession(new MemoryPort(noisy), { attempts: 2 });
    await session.connect();
    await session.write([{ offset: OFFSET, data }]);
    // a clean read matches what was written
    expect(sameBytes(await session.read(OFFSET, data.length), data)).toBe(true);
    // stock readFlash returns the damaged bytes as if nothing happened
    armed = true;
    seen = 0;
    const stock = await ESPLoader.prototype.readFlash.call(session.loader, OFFSET, data.length);
    expect(sameBytes(stock, data)).toBe(false);
    // ours notices: the stub's MD5 is of what the flash holds
    armed = true;
    seen = 0;
    const failure = await session.read(OFFSET, data.length).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(FlasherError);
    expect((failure as FlasherError).code).toBe('md5_mismatch');
    await session.close();
  });

  it('5: the hard reset pulses EN with DTR released (esptool-js leaves DTR asserted, no reset)', async () => {
    for (const [reset, fixed] of [
      [HardReset, false],
      [AppReset, true],
    ] as const) {
      const { sim, port } = simulated('esp32p4');
      const session = new FlasherSession(port, { attempts: 2 });
      await session.connect();
      const states: string[] = [];
      sim.on('state', (s) => states.push(s));
      await new reset(session.transport).reset();
      if (fixed) {
        await booted(sim);
        expect(states).toEqual(['off', 'app']);
        expect(sim.signals).toEqual({ dtr: false, rts: false });
      } else {
        // EN never went low, and DTR holds IO0 low for the next reset
        expect(states).toEqual([]);
        expect(sim.signals).toEqual({ dtr: true, rts: false });
        expect(sim.pins.io0).toBe(false);
      }
      await session.close();
    }
  });

  it('a whole ROM-mode run verifies and boots with all of the above', async () => {
    const { sim, port } = simulated('esp32');
    const data = imageBytes(1 * MB, 3);
    const session = new FlasherSession(port, { stub: false, attempts: 2 });
    await session.connect();
    await session.write([{ offset: OFFSET, data }], { compress: false });
    await session.resetAndClose();
    expect(sameBytes(sim.flash.subarray(OFFSET, OFFSET + data.length), data)).toBe(true);
    await booted(sim);
  });
});
