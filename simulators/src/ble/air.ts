// The simulated air: sensors advertise into it on their own timers, and every
// simulated adapter within range (a proxy id in the sensor's rssi table) hears it.
import type { SimulatedBleSensor } from './sensor.js';

export interface AirListener {
  readonly listenerId: string;
  hear(sensor: SimulatedBleSensor, rssi: number): void;
}

export class BleAir {
  readonly #sensors = new Map<string, SimulatedBleSensor>();
  readonly #listeners = new Set<AirListener>();
  readonly #timers = new Map<string, NodeJS.Timeout[]>();
  #running = false;

  constructor(sensors: readonly SimulatedBleSensor[] = []) {
    for (const sensor of sensors) this.add(sensor);
  }

  get sensors(): SimulatedBleSensor[] {
    return [...this.#sensors.values()];
  }

  sensor(mac: string): SimulatedBleSensor | undefined {
    return this.#sensors.get(mac.toUpperCase());
  }

  add(sensor: SimulatedBleSensor): void {
    this.#sensors.set(sensor.mac, sensor);
    if (this.#running) this.#schedule(sensor);
  }

  attach(listener: AirListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Starts every sensor's advertising timer (measurements follow the clock, see sensor.ts). */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    for (const sensor of this.#sensors.values()) this.#schedule(sensor);
  }

  stop(): void {
    this.#running = false;
    for (const timers of this.#timers.values()) for (const t of timers) clearInterval(t);
    this.#timers.clear();
  }

  /** One advertisement of one sensor, heard by every listener in range (tests and benchmarks drive this directly). */
  advertise(sensor: SimulatedBleSensor): void {
    for (const listener of this.#listeners) {
      const rssi = sensor.rssiAt(listener.listenerId);
      if (rssi !== undefined) listener.hear(sensor, rssi);
    }
  }

  #schedule(sensor: SimulatedBleSensor): void {
    const advertising = setInterval(() => this.advertise(sensor), sensor.advertiseEveryMs);
    advertising.unref();
    this.#timers.set(sensor.mac, [advertising]);
  }
}
