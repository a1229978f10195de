// A simulated GATT server: services with characteristics that can be read,
// written and notified, as a sensor's firmware would expose them.
import { EventEmitter } from 'node:events';

export type CharacteristicProperty = 'read' | 'write' | 'writeWithoutResponse' | 'notify' | 'indicate';

export interface SimulatedCharacteristic {
  uuid: string;
  properties: CharacteristicProperty[];
  value: Uint8Array;
}

export interface SimulatedService {
  uuid: string;
  characteristics: SimulatedCharacteristic[];
}

export class GattError extends Error {
  override name = 'GattError';
}

/** Normalizes a UUID the way noble reports it: lower-case hex, no dashes. */
export const normalUuid = (uuid: string) => uuid.replace(/-/g, '').toLowerCase();

export class SimulatedPeripheral extends EventEmitter<{
  write: [service: string, characteristic: string, data: Uint8Array];
  notify: [service: string, characteristic: string, data: Uint8Array];
}> {
  readonly services: SimulatedService[];

  constructor(services: SimulatedService[]) {
    super();
    this.services = services.map((s) => ({
      uuid: normalUuid(s.uuid),
      characteristics: s.characteristics.map((c) => ({ ...c, uuid: normalUuid(c.uuid) })),
    }));
  }

  characteristic(service: string, characteristic: string): SimulatedCharacteristic {
    const found = this.services
      .find((s) => s.uuid === normalUuid(service))
      ?.characteristics.find((c) => c.uuid === normalUuid(characteristic));
    if (!found) throw new GattError(`no characteristic ${characteristic} in service ${service}`);
    return found;
  }

  read(service: string, characteristic: string): Uint8Array {
    const c = this.characteristic(service, characteristic);
    if (!c.properties.includes('read')) throw new GattError(`${characteristic} is not readable`);
    return c.value;
  }

  write(service: string, characteristic: string, data: Uint8Array): void {
    const c = this.characteristic(service, characteristic);
    if (!c.properties.includes('write') && !c.properties.includes('writeWithoutResponse'))
      throw new GattError(`${characteristic} is not writable`);
    c.value = Uint8Array.from(data);
    this.emit('write', normalUuid(service), c.uuid, c.value);
  }

  /** The firmware changes a value and notifies subscribers. */
  update(service: string, characteristic: string, data: Uint8Array): void {
    const c = this.characteristic(service, characteristic);
    c.value = Uint8Array.from(data);
    if (c.properties.includes('notify') || c.properties.includes('indicate'))
      this.emit('notify', normalUuid(service), c.uuid, c.value);
  }
}
