// Every failure a user meets at the flasher ends as one error state with its own code,
// message and hint, and leaves the board and the port fit for the next attempt.

import { FlasherError, FlasherSession, type FlashState, flash, MemoryPort } from '@sentinel/firmware';
import { describe, expect, it } from 'vitest';
import { imageBytes, MB, sameBytes, simulated } from './flasher-support.js';

const OFFSET = 0x10000;
type ErrorState = Extract<FlashState, { state: 'error' }>;

async function failure(run: Promise<unknown>, states: FlashState[]): Promise<ErrorState> {
  const error = await run.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(FlasherError);
  const last = states.at(-1) as ErrorState;
  // the error is the last state, and the thrown error says the same
  expect(last.state).toBe('error');
  expect(last).toEqual((error as FlasherError).toState());
  return last;
}

describe('flasher failures', () => {
  it('no sync: a port with nothing answering', async () => {
    const states: FlashState[] = [];
    const silent = { receive() {}, onTransmit: () => () => {}, setSignals() {}, setBaudRate() {} };
    const error = await failure(
      flash(new MemoryPort(silent), {
        parts: [{ offset: 0, data: imageBytes(4096) }],
        attempts: 2,
        onState: (s) => states.push(s),
      }),
      states,
    );
    expect(error.code).toBe('no_sync');
    expect(error.message).toMatch(/no answer/);
    expect(error.hint).toMatch(/hold BOOT, tap EN/);
  });

  it('no sync: in download mode but the replies never come', async () => {
    const { port, states, onState } = simulated('esp32', { ignoreSync: true });
    const error = await failure(
      flash(port, { parts: [{ offset: 0, data: imageBytes(4096) }], attempts: 2, onState }),
      states,
    );
    expect(error.code).toBe('no_sync');
    // the ROM banner said "waiting for download": the chip is there, its replies are not
    expect(error.message).toBe('the chip is in download mode but does not answer');
    expect(error.hint).toMatch(/check the TX line \(chip → computer\)/);
  });

  it('wrong boot mode: a board whose IO0 is not wired to DTR boots its app', async () => {
    const { sim, states, onState } = simulated('esp32s3');
    const noBootLine = {
      receive: (b: Uint8Array) => sim.receive(b),
      onTransmit: (l: (b: Uint8Array) => void) => sim.onTransmit(l),
      setSignals: (s: { dtr?: boolean; rts?: boolean }) =>
        sim.setSignals(s.rts === undefined ? {} : { rts: s.rts }),
      setBaudRate: (baud: number) => sim.setBaudRate(baud),
    };
    const error = await failure(
      flash(new MemoryPort(noBootLine), {
        parts: [{ offset: 0, data: imageBytes(4096) }],
        attempts: 2,
        onState,
      }),
      states,
    );
    expect(error.code).toBe('wrong_boot_mode');
    expect(error.message).toMatch(/not in download mode/);
    expect(error.hint).toMatch(/hold BOOT \(IO0 low\) while you tap EN/);
  });

  for (const stub of [true, false])
    it(`checksum error (${stub ? 'stub' : 'ROM'}): a block that keeps arriving damaged`, async () => {
      const { sim, port, states, onState } = simulated('esp32c3', { corruptBlocks: [{ seq: 2, times: 3 }] });
      const data = imageBytes(256 * 1024);
      const error = await failure(
        flash(port, { parts: [{ offset: OFFSET, data }], stub, compress: false, attempts: 2, onState }),
        states,
      );
      expect(error.code).toBe('checksum_error');
      expect(error.message).toMatch(stub ? /0xc1 \(bad data checksum\)/ : /0x07 \(invalid CRC in message\)/);
      expect(error.hint).toMatch(/shorter or better USB cable/);
      // once the line is clean again, the same board flashes fine
      await flash(new MemoryPort(sim), {
        parts: [{ offset: OFFSET, data }],
        stub,
        compress: false,
        attempts: 2,
      });
      expect(sameBytes(sim.flash.subarray(OFFSET, OFFSET + data.length), data)).toBe(true);
    });

  it('a block damaged once is sent again and the flash still verifies', async () => {
    const { sim, port } = simulated('esp32', { corruptBlocks: [{ seq: 1 }] });
    const data = imageBytes(128 * 1024);
    await flash(port, { parts: [{ offset: OFFSET, data }], attempts: 2 });
    expect(sameBytes(sim.flash.subarray(OFFSET, OFFSET + data.length), data)).toBe(true);
  });

  for (const stub of [true, false])
    it(`a worn flash cell (${stub ? 'stub: MD5 mismatch' : 'ROM: write error'})`, async () => {
      const { port, states, onState } = simulated('esp32p4', { stuckFlashCells: [OFFSET + 100] });
      const data = imageBytes(64 * 1024);
      data[100] = 0x42; // bit 0 clear: the stuck cell cannot store it
      const error = await failure(
        flash(port, { parts: [{ offset: OFFSET, data, name: 'app.bin' }], stub, attempts: 2, onState }),
        states,
      );
      if (stub) {
        // the stub writes without reading back: the MD5 check finds it
        expect(error.code).toBe('md5_mismatch');
        expect(error.message).toMatch(
          /^app\.bin at 0x10000: the flash has MD5 [0-9a-f]{32}, the file [0-9a-f]{32}$/,
        );
        expect(error.hint).toMatch(/flash chip may be failing/);
      } else {
        // the ROM reads each block back and refuses at once
        expect(error.code).toBe('flash_failed');
        expect(error.message).toMatch(/0x08 \(flash write error\)/);
      }
    });

  it('port closed mid-write', async () => {
    const { port, states } = simulated('esp32');
    let cut = false;
    const error = await failure(
      flash(port, {
        parts: [{ offset: OFFSET, data: imageBytes(1 * MB) }],
        attempts: 2,
        onState: (s) => {
          states.push(s);
          if (!cut && s.state === 'writing' && s.written > 0) {
            cut = true;
            port.cut('closed');
          }
        },
      }),
      states,
    );
    expect(error.code).toBe('port_closed');
    expect(error.hint).toMatch(/closed in the middle of the transfer/);
    // the port is released: it opens again
    await port.open({ baudRate: 115200 });
    await port.close();
  });

  it('port vanished: the USB adapter drops off the bus mid-write', async () => {
    const { sim, port, states, onState } = simulated('esp32s3', { dropLinkAfterDataPackets: 3 });
    sim.on('link-down', () => port.cut('vanished'));
    const error = await failure(
      flash(port, { parts: [{ offset: OFFSET, data: imageBytes(1 * MB) }], attempts: 2, onState }),
      states,
    );
    expect(error.code).toBe('port_vanished');
    expect(error.hint).toMatch(/re-enumerated on USB/);
  });

  it('port busy: the port is already open elsewhere', async () => {
    const { port, states, onState } = simulated('esp32');
    await port.open({ baudRate: 115200 });
    const error = await failure(
      flash(port, { parts: [{ offset: 0, data: imageBytes(4096) }], attempts: 2, onState }),
      states,
    );
    expect(error.code).toBe('port_busy');
    expect(error.hint).toMatch(/close serial monitors/);
    await port.close();
  });

  it('baud change not answered', async () => {
    const { port, states, onState } = simulated('esp32', { ignoreBaudChange: true });
    const error = await failure(
      flash(port, { parts: [{ offset: 0, data: imageBytes(4096) }], baud: 921600, attempts: 2, onState }),
      states,
    );
    expect(error.code).toBe('baud_unanswered');
    expect(error.message).toMatch(/921600 baud/);
    expect(error.hint).toMatch(/--baud 115200/);
  });

  it('wrong chip and an image past the end of the flash are refused before writing', async () => {
    const wrong = simulated('esp32');
    const chipError = await failure(
      flash(wrong.port, {
        parts: [{ offset: 0, data: imageBytes(4096) }],
        chip: 'esp32c3',
        attempts: 2,
        onState: wrong.onState,
      }),
      wrong.states,
    );
    expect(chipError.code).toBe('wrong_chip');
    expect(chipError.message).toBe('expected an esp32c3, but the board is an ESP32');
    const small = simulated('esp32s3', {}, 4 * MB);
    const sizeError = await failure(
      flash(small.port, {
        parts: [{ offset: OFFSET, data: imageBytes(4 * MB), name: 'big.bin' }],
        attempts: 2,
        onState: small.onState,
      }),
      small.states,
    );
    expect(sizeError.code).toBe('too_big');
    expect(sizeError.message).toBe('big.bin ends at 0x410000, past the end of the 4 MB flash');
    expect(small.states.some((s) => s.state === 'writing')).toBe(false);
    expect(small.sim.flash.every((b) => b === 0xff)).toBe(true);
  });

  it('a read past the end of the flash is refused before it starts', async () => {
    const { port, states, onState } = simulated('esp32c3', {}, 4 * MB);
    const session = new FlasherSession(port, { attempts: 2, onState });
    await session.connect();
    const error = await failure(session.read(4 * MB - 0x1000, 0x2000), states);
    expect(error.code).toBe('too_big');
    expect(error.message).toBe('0x3ff000 + 8192 bytes runs past the end of the 4 MB flash');
    expect(states.some((s) => s.state === 'reading')).toBe(false);
    // the session is still good for a read that fits
    expect((await session.read(4 * MB - 0x1000, 0x1000)).every((b) => b === 0xff)).toBe(true);
    await session.close();
  });
});
