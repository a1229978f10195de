// A simulated BLE sensor: an address, what it advertises, how often, and (for
// some) a GATT server. What it advertises comes from a function, so any encoder
// (simulators/src/ble/encoders/) or hand-built bytes plug in.
import type { SimulatedPeripheral } from './peripheral.js';

/** The decoder's view of an advertisement (the BleAdvertisement of @sentinel/devices). */
export interface SimulatedAdvertisement {
  mac: string;
  name?: string | undefined;
  serviceData: { uuid: string; data: Uint8Array }[];
  manufacturerData: { companyId: number; data: Uint8Array }[];
  serviceUuids?: string[] | undefined;
}

export interface SimulatedBleSensorOptions {
  /** `A4:C1:38:0A:1B:2C` */
  mac: string;
  addressType?: 'public' | 'random';
  /** how often it advertises (a real sensor: 100 ms – 10 s) */
  advertiseEveryMs: number;
  /**
   * how often its reading changes; between changes it repeats the same bytes. The
   * measurement number is the wall-clock slot (now / measureEveryMs), so copies of a
   * sensor in two processes (two simulated proxies) advertise the same bytes.
   */
  measureEveryMs?: number;
  /** what it advertises for a measurement number; called once per new slot */
  advertisement: (measurement: number) => SimulatedAdvertisement;
  /** signal strength at each proxy (proxy id → dBm); a proxy not listed does not hear it */
  rssi: Record<string, number> | number;
  peripheral?: SimulatedPeripheral;
  connectable?: boolean;
}

export class SimulatedBleSensor {
  readonly mac: string;
  readonly addressType: 'public' | 'random';
  readonly advertiseEveryMs: number;
  readonly measureEveryMs: number;
  readonly peripheral: SimulatedPeripheral | undefined;
  readonly connectable: boolean;
  rssi: Record<string, number> | number;
  #measurement: number;
  #current: SimulatedAdvertisement;
  #manual = false;
  readonly #make: (measurement: number) => SimulatedAdvertisement;

  constructor(options: SimulatedBleSensorOptions) {
    this.mac = options.mac.toUpperCase();
    this.addressType = options.addressType ?? 'public';
    this.advertiseEveryMs = options.advertiseEveryMs;
    this.measureEveryMs = options.measureEveryMs ?? options.advertiseEveryMs;
    this.peripheral = options.peripheral;
    this.connectable = options.connectable ?? options.peripheral !== undefined;
    this.rssi = options.rssi;
    this.#make = options.advertisement;
    this.#measurement = this.#slot();
    this.#current = this.#make(this.#measurement);
  }

  /** the current measurement number */
  get measurement(): number {
    return this.#measurement;
  }

  /** What it advertises now (a new measurement when the clock moved into a new slot). */
  get advertisement(): SimulatedAdvertisement {
    if (!this.#manual) {
      const slot = this.#slot();
      if (slot !== this.#measurement) {
        this.#measurement = slot;
        this.#current = this.#make(slot);
      }
    }
    return this.#current;
  }

  /** Takes the next measurement now and stops following the clock (tests that step by hand). */
  measure(): SimulatedAdvertisement {
    this.#manual = true;
    this.#measurement++;
    this.#current = this.#make(this.#measurement);
    return this.#current;
  }

  #slot(): number {
    return Math.floor(Date.now() / this.measureEveryMs);
  }

  /** dBm at a proxy, or undefined when that proxy cannot hear it. */
  rssiAt(listener: string): number | undefined {
    return typeof this.rssi === 'number' ? this.rssi : this.rssi[listener];
  }
}
