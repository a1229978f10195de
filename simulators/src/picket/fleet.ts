// Many simulated pickets at once (`<prefix>-1` … `<prefix>-N`), started together
// and stopped together, with one summary for progress displays.
import { EventEmitter } from 'node:events';
import { type Cancel, type Clock, systemClock } from '../clock.js';
import { PicketDevice, type PicketDeviceOptions } from './device.js';
import { type DeviceProblem, SimulatorOptionsError } from './transport.js';

export interface DeviceCredentials {
  id: string;
  token: string;
}

export interface PicketFleetOptions
  extends Omit<PicketDeviceOptions, 'id' | 'token' | 'transport' | 'gateway'> {
  gateway: string | URL | readonly (string | URL)[];
  devices: readonly DeviceCredentials[];
  /** spread the first connection attempts evenly over this long, as real devices never boot in the same millisecond (default 0) */
  rampUpMs?: number;
}

export interface FleetSummary {
  devices: number;
  connected: number;
  sent: number;
  resent: number;
  acked: number;
  unacked: number;
  commands: number;
  dropped: number;
}

export type PicketFleetEvents = {
  /** something in the summary may have changed */
  change: [];
  connected: [{ id: string }];
  disconnected: [{ id: string; reason: string }];
  problem: [{ id: string; problem: DeviceProblem }];
};

/** `<prefix>-1` … `<prefix>-<count>`. */
export function picketFleetIds(prefix: string, count: number): string[] {
  if (!Number.isInteger(count) || count < 0)
    throw new SimulatorOptionsError(`count must be a whole number, got ${count}`);
  return Array.from({ length: count }, (_, i) => `${prefix}-${i + 1}`);
}

export class PicketFleet extends EventEmitter<PicketFleetEvents> {
  readonly devices: readonly PicketDevice[];
  readonly #rampUpMs: number;
  readonly #clock: Clock;
  #pendingStarts: Cancel[] = [];

  constructor(options: PicketFleetOptions) {
    super();
    const { devices, rampUpMs = 0, ...shared } = options;
    const ids = new Set<string>();
    for (const { id } of devices) {
      if (ids.has(id)) throw new SimulatorOptionsError(`device ${id} appears twice in the fleet`);
      ids.add(id);
    }
    this.#rampUpMs = rampUpMs;
    this.#clock = shared.clock ?? systemClock;
    this.devices = devices.map(({ id, token }) => this.#watch(new PicketDevice({ ...shared, id, token })));
  }

  device(id: string): PicketDevice | undefined {
    return this.devices.find((d) => d.id === id);
  }

  start(): void {
    const step = this.devices.length > 1 ? this.#rampUpMs / this.devices.length : 0;
    for (const [i, device] of this.devices.entries()) {
      if (step === 0 || i === 0) device.start();
      else this.#pendingStarts.push(this.#clock.schedule(Math.round(i * step), () => device.start()));
    }
  }

  /** Stops every device cleanly (each says goodbye to the gateway) and resolves when all are stopped. */
  async stop(): Promise<void> {
    for (const cancel of this.#pendingStarts) cancel();
    this.#pendingStarts = [];
    await Promise.all(this.devices.map((d) => d.stop()));
  }

  summary(): FleetSummary {
    const summary: FleetSummary = {
      devices: this.devices.length,
      connected: 0,
      sent: 0,
      resent: 0,
      acked: 0,
      unacked: 0,
      commands: 0,
      dropped: 0,
    };
    for (const device of this.devices) {
      const stats = device.stats;
      if (device.status === 'connected') summary.connected++;
      summary.sent += stats.sent;
      summary.resent += stats.resent;
      summary.acked += stats.acked;
      summary.unacked += stats.unacked;
      summary.commands += stats.commands;
      summary.dropped += stats.dropped;
    }
    return summary;
  }

  #watch(device: PicketDevice): PicketDevice {
    const changed = () => this.emit('change');
    device.on('connected', () => {
      this.emit('connected', { id: device.id });
      changed();
    });
    device.on('disconnected', ({ reason }) => {
      this.emit('disconnected', { id: device.id, reason });
      changed();
    });
    device.on('problem', (problem) => this.emit('problem', { id: device.id, problem }));
    device.on('state', changed);
    device.on('acked', changed);
    device.on('command', changed);
    return device;
  }
}
