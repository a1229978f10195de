// Duplicate and replay detection per device, by packet id and encryption
// counter, with bthome-ble's rules (4 s window, ids 1–63 ahead, counters may
// restart below 100). Time is passed in, never slept for.
import { describe, expect, it } from 'vitest';
import { type BleDecodeSuccess, PacketIdFilter } from '../src/index.js';

const A = 'AA:BB:CC:DD:EE:01';
const plain = (packetId: number, format = 'bthome-v2'): BleDecodeSuccess => ({
  ok: true,
  format,
  measurements: { packet_id: packetId },
  encrypted: false,
  packetId,
});
const sealed = (counter: number, packetId = 1): BleDecodeSuccess => ({
  ok: true,
  format: 'bthome-v2',
  measurements: {},
  encrypted: true,
  packetId,
  counter,
});

describe('PacketIdFilter', () => {
  it('drops a repeated packet id (two proxies hearing one packet) and accepts the next', () => {
    const filter = new PacketIdFilter();
    expect(filter.check(A, plain(7), 1000)).toEqual({ accept: true });
    expect(filter.check(A.toLowerCase(), plain(7), 1100)).toEqual({ accept: false, reason: 'duplicate' });
    expect(filter.check(A, plain(8), 1200)).toEqual({ accept: true });
  });

  it('drops an older packet arriving late, accepts ids across the 255 → 0 wrap', () => {
    const filter = new PacketIdFilter();
    filter.check(A, plain(254), 0);
    expect(filter.check(A, plain(250), 100)).toEqual({ accept: false, reason: 'duplicate' });
    expect(filter.check(A, plain(2), 200)).toEqual({ accept: true });
  });

  it('takes any id after the 4 s window (the device may have rebooted)', () => {
    const filter = new PacketIdFilter();
    filter.check(A, plain(7), 0);
    expect(filter.check(A, plain(7), 4001)).toEqual({ accept: true });
    expect(filter.check(A, plain(3), 8100)).toEqual({ accept: true });
  });

  it('keeps devices and formats apart', () => {
    const filter = new PacketIdFilter();
    filter.check(A, plain(7), 0);
    expect(filter.check('AA:BB:CC:DD:EE:02', plain(7), 1)).toEqual({ accept: true });
    expect(filter.check(A, plain(7, 'xiaomi-mibeacon'), 2)).toEqual({ accept: true });
  });

  it('refuses an encrypted packet whose counter goes back, unless the device restarted it', () => {
    const filter = new PacketIdFilter();
    expect(filter.check(A, sealed(5000), 0)).toEqual({ accept: true });
    expect(filter.check(A, sealed(5000), 1)).toEqual({ accept: false, reason: 'duplicate' });
    expect(filter.check(A, sealed(4999, 2), 2)).toEqual({ accept: false, reason: 'replay' });
    // a replay does not move the window: the next genuine packet still passes
    expect(filter.check(A, sealed(5001, 2), 3)).toEqual({ accept: true });
    // a counter restarted after a battery change
    expect(filter.check(A, sealed(3, 3), 4)).toEqual({ accept: true });
    // low counters count as a restart whenever they come (bthome-ble's rule)
    expect(filter.check(A, sealed(2, 3), 60_000)).toEqual({ accept: true });
    expect(filter.check(A, sealed(1, 4), 60_001)).toEqual({ accept: true });
  });

  it('forgets a device (after re-pairing) and bounds how many it remembers', () => {
    const filter = new PacketIdFilter({ maxDevices: 2 });
    filter.check(A, sealed(5000), 0);
    filter.forget(A.toLowerCase());
    expect(filter.check(A, sealed(400), 1)).toEqual({ accept: true });
    filter.check('AA:BB:CC:DD:EE:02', plain(1), 2);
    filter.check('AA:BB:CC:DD:EE:03', plain(1), 3);
    expect(filter.size).toBe(2);
  });

  it('accepts packets that carry no id at all', () => {
    const filter = new PacketIdFilter();
    const none: BleDecodeSuccess = {
      ok: true,
      format: 'govee',
      measurements: { temperature: 1 },
      encrypted: false,
    };
    expect(filter.check(A, none)).toEqual({ accept: true });
    expect(filter.check(A, none)).toEqual({ accept: true });
  });
});
