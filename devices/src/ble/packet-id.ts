// Per-device duplicate and replay detection, by the rules bthome-ble uses
// (parser.py, _skip_old_or_duplicated_advertisement and _decrypt_bthome):
// - packet ids (BTHome object 0x00, MiBeacon frame counter): within `windowMs`
//   (4 s) of the device's last accepted packet, a new id must be 1–63 ahead of
//   the last one (modulo 256, ids wrap); the same id is a repeat, one further
//   ahead is an older packet arriving late (both dropped as `duplicate`). After
//   the window any id is new: a device that rebooted starts over.
// - encryption counters: the same counter again is a `duplicate`; a lower one is
//   a `replay`, unless it is below 100 (the device restarted its counter after a
//   battery change or at the top of its range).
// After re-pairing a device, call forget().
import type { BleDecodeSuccess } from './types.js';

export type PacketVerdict = { accept: true } | { accept: false; reason: 'duplicate' | 'replay' };

interface Last {
  packetId?: number;
  counter?: number;
  at: number;
}

export interface PacketIdFilterOptions {
  /** devices remembered at most (oldest forgotten first; default 10 000) */
  maxDevices?: number;
  /** after this long without a packet any packet id is new (default 4000 ms, as bthome-ble) */
  windowMs?: number;
}

/** ids ahead of the last one by less than this are new (bthome-ble: at most 16 packets/s for 4 s) */
const AHEAD = 64;
/** an encryption counter this low after a higher one is a restarted device, not a replay */
const COUNTER_RESTART_BELOW = 100;

export class PacketIdFilter {
  readonly #last = new Map<string, Last>();
  readonly #max: number;
  readonly #windowMs: number;

  constructor(options: PacketIdFilterOptions = {}) {
    this.#max = options.maxDevices ?? 10_000;
    this.#windowMs = options.windowMs ?? 4000;
  }

  /** Decides and, when accepted, remembers the packet as the device's latest. */
  check(mac: string, result: BleDecodeSuccess, now = Date.now()): PacketVerdict {
    if (result.packetId === undefined && result.counter === undefined) return { accept: true };
    const key = `${mac.toLowerCase()}|${result.format}`;
    const last = this.#last.get(key);
    if (last) {
      if (result.counter !== undefined && last.counter !== undefined) {
        if (result.counter === last.counter) return { accept: false, reason: 'duplicate' };
        if (result.counter < last.counter && result.counter >= COUNTER_RESTART_BELOW)
          return { accept: false, reason: 'replay' };
      } else if (
        result.packetId !== undefined &&
        last.packetId !== undefined &&
        now - last.at <= this.#windowMs
      ) {
        const modulus = Math.max(result.packetId, last.packetId) > 0xff ? 0x10000 : 0x100;
        const ahead = (result.packetId - last.packetId + modulus) % modulus;
        if (ahead === 0 || ahead >= AHEAD) return { accept: false, reason: 'duplicate' };
      }
      this.#last.delete(key);
    } else if (this.#last.size >= this.#max) {
      const oldest = this.#last.keys().next().value;
      if (oldest !== undefined) this.#last.delete(oldest);
    }
    this.#last.set(key, {
      at: now,
      ...(result.packetId !== undefined ? { packetId: result.packetId } : {}),
      ...(result.counter !== undefined ? { counter: result.counter } : {}),
    });
    return { accept: true };
  }

  forget(mac: string): void {
    const prefix = `${mac.toLowerCase()}|`;
    for (const key of [...this.#last.keys()]) if (key.startsWith(prefix)) this.#last.delete(key);
  }

  get size(): number {
    return this.#last.size;
  }
}
