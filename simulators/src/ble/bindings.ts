// A noble bindings object over the simulated air. Noble drives its bindings with
// method calls and listens for events (@stoprocent/noble lib/noble.js,
// `_registerListeners`); this object answers them as the HCI bindings
// (lib/hci-socket/bindings.js) do, so the proxy's noble code runs unchanged.
// Failures on demand: adapter power cycles, a dongle pulled out, scan and
// connect errors.
import { EventEmitter } from 'node:events';
import type { AirListener, BleAir } from './air.js';
import type { SimulatedPeripheral } from './peripheral.js';
import type { SimulatedAdvertisement, SimulatedBleSensor } from './sensor.js';

export type SimulatedAdapterState = 'poweredOn' | 'poweredOff' | 'unknown' | 'resetting' | 'unsupported';

/** noble's parsed advertisement (lib/hci-socket/gap.js) */
export interface NobleAdvertisement {
  localName?: string;
  txPowerLevel?: number;
  serviceUuids: string[];
  serviceSolicitationUuids: string[];
  serviceData: { uuid: string; data: Buffer }[];
  manufacturerData?: Buffer;
}

export function toNobleAdvertisement(adv: SimulatedAdvertisement): NobleAdvertisement {
  const out: NobleAdvertisement = {
    serviceUuids: [...(adv.serviceUuids ?? [])],
    serviceSolicitationUuids: [],
    serviceData: adv.serviceData.map((s) => ({ uuid: s.uuid.toLowerCase(), data: Buffer.from(s.data) })),
  };
  if (adv.name !== undefined) out.localName = adv.name;
  const m = adv.manufacturerData[0];
  if (m) {
    const company = Buffer.alloc(2);
    company.writeUInt16LE(m.companyId);
    out.manufacturerData = Buffer.concat([company, Buffer.from(m.data)]);
  }
  return out;
}

export interface SimulatedBindingsOptions {
  /** the proxy this adapter belongs to: sensors' rssi tables are keyed by it */
  listenerId: string;
  /** how long a power cycle takes */
  resetMs?: number;
}

interface Connection {
  sensor: SimulatedBleSensor;
  peripheral: SimulatedPeripheral;
  subscribed: Set<string>;
  off: () => void;
}

export interface SimulatedBindingsStats {
  discovered: number;
  scanStarts: number;
  scanStops: number;
  connects: number;
}

export class SimulatedNobleBindings extends EventEmitter implements AirListener {
  readonly listenerId: string;
  #state: SimulatedAdapterState = 'unknown';
  #scanning = false;
  #started = false;
  #detach: (() => void) | undefined;
  #failScans = 0;
  #failConnects = 0;
  #plugged = true;
  readonly #resetMs: number;
  readonly #connections = new Map<string, Connection>();
  readonly stats: SimulatedBindingsStats = { discovered: 0, scanStarts: 0, scanStops: 0, connects: 0 };

  constructor(
    private readonly air: BleAir,
    options: SimulatedBindingsOptions,
  ) {
    super();
    this.listenerId = options.listenerId;
    this.#resetMs = options.resetMs ?? 50;
  }

  get state(): SimulatedAdapterState {
    return this.#state;
  }

  get scanning(): boolean {
    return this.#scanning;
  }

  get connections(): number {
    return this.#connections.size;
  }

  // --- what noble calls -------------------------------------------------------

  start(): void {
    this.#started = true;
    this.#detach ??= this.air.attach(this);
    setImmediate(() => {
      this.emit('addressChange', '00:00:5e:00:53:00');
      if (this.#plugged) this.#setState('poweredOn');
    });
  }

  stop(): void {
    this.#started = false;
    this.#scanning = false;
    for (const id of [...this.#connections.keys()]) this.#drop(id, 'local');
    this.#detach?.();
    this.#detach = undefined;
  }

  reset(): void {
    this.#powerCycle();
  }

  setScanParameters(): void {
    setImmediate(() => this.emit('scanParametersSet'));
  }

  startScanning(_serviceUuids: string[] | undefined, allowDuplicates: boolean): void {
    if (this.#failScans > 0) {
      this.#failScans--;
      // the HCI layer throws synchronously when its socket is gone
      throw new Error('simulated adapter error: Operation not permitted (EPERM)');
    }
    this.#scanning = true;
    this.stats.scanStarts++;
    setImmediate(() => this.emit('scanStart', !allowDuplicates));
  }

  stopScanning(): void {
    this.#scanning = false;
    this.stats.scanStops++;
    setImmediate(() => this.emit('scanStop'));
  }

  addressToId(address: string): string {
    return address.replace(/:/g, '').toLowerCase();
  }

  connect(id: string): void {
    setImmediate(() => {
      if (this.#state !== 'poweredOn')
        return this.emit('connect', id, new Error('adapter is not powered on'));
      if (this.#failConnects > 0) {
        this.#failConnects--;
        return this.emit('connect', id, new Error('simulated connection failure (0x3e)'));
      }
      const sensor = this.#sensorById(id);
      if (!sensor?.peripheral || sensor.rssiAt(this.listenerId) === undefined)
        return this.emit('connect', id, new Error('connection timed out: peripheral not in range'));
      const peripheral = sensor.peripheral;
      const subscribed = new Set<string>();
      const onNotify = (service: string, characteristic: string, data: Uint8Array) => {
        if (subscribed.has(`${service}/${characteristic}`))
          this.emit('read', id, service, characteristic, Buffer.from(data), true);
      };
      peripheral.on('notify', onNotify);
      this.#connections.set(id, {
        sensor,
        peripheral,
        subscribed,
        off: () => peripheral.off('notify', onNotify),
      });
      this.stats.connects++;
      this.emit('connect', id, undefined);
    });
  }

  cancelConnect(id: string): void {
    this.#drop(id, 'cancelled');
  }

  disconnect(id: string): void {
    setImmediate(() => this.#drop(id, 'local'));
  }

  updateRssi(id: string): void {
    const c = this.#connections.get(id);
    setImmediate(() => this.emit('rssiUpdate', id, c?.sensor.rssiAt(this.listenerId) ?? 127));
  }

  discoverServices(id: string, uuids: string[] | undefined): void {
    this.#gatt(id, (c) => {
      const all = c.peripheral.services.map((s) => s.uuid);
      const wanted = uuids && uuids.length > 0 ? all.filter((u) => uuids.includes(u)) : all;
      this.emit('servicesDiscover', id, wanted);
    });
  }

  discoverIncludedServices(id: string, service: string): void {
    this.#gatt(id, () => this.emit('includedServicesDiscover', id, service, []));
  }

  discoverCharacteristics(id: string, service: string, uuids: string[] | undefined): void {
    this.#gatt(id, (c) => {
      const found = c.peripheral.services.find((s) => s.uuid === service);
      const list = (found?.characteristics ?? [])
        .filter((ch) => !uuids || uuids.length === 0 || uuids.includes(ch.uuid))
        .map((ch) => ({ uuid: ch.uuid, properties: [...ch.properties] }));
      this.emit('characteristicsDiscover', id, service, list);
    });
  }

  read(id: string, service: string, characteristic: string): void {
    this.#gatt(id, (c) => {
      try {
        this.emit(
          'read',
          id,
          service,
          characteristic,
          Buffer.from(c.peripheral.read(service, characteristic)),
          false,
        );
      } catch (error) {
        this.emit('read', id, service, characteristic, Buffer.alloc(0), false, error);
      }
    });
  }

  write(id: string, service: string, characteristic: string, data: Buffer): void {
    this.#gatt(id, (c) => {
      try {
        c.peripheral.write(service, characteristic, data);
        this.emit('write', id, service, characteristic);
      } catch (error) {
        this.emit('write', id, service, characteristic, error);
      }
    });
  }

  notify(id: string, service: string, characteristic: string, notify: boolean): void {
    this.#gatt(id, (c) => {
      const key = `${service}/${characteristic}`;
      if (notify) c.subscribed.add(key);
      else c.subscribed.delete(key);
      this.emit('notify', id, service, characteristic, notify);
    });
  }

  discoverDescriptors(id: string, service: string, characteristic: string): void {
    this.#gatt(id, () => this.emit('descriptorsDiscover', id, service, characteristic, []));
  }

  // --- the air --------------------------------------------------------------

  hear(sensor: SimulatedBleSensor, rssi: number): void {
    if (!this.#scanning || this.#state !== 'poweredOn' || !this.#started) return;
    this.stats.discovered++;
    const id = this.addressToId(sensor.mac);
    this.emit(
      'discover',
      id,
      sensor.mac.toLowerCase(),
      sensor.addressType,
      sensor.connectable,
      toNobleAdvertisement(sensor.advertisement),
      rssi,
      false,
    );
  }

  // --- failures on demand ----------------------------------------------------

  /** The adapter resets (firmware crash, `hciconfig reset`): off, then on again. */
  powerCycle(): void {
    this.#powerCycle();
  }

  /** The USB dongle is pulled out: the adapter stays off until plugIn(). */
  unplug(): void {
    this.#plugged = false;
    this.#setState('poweredOff');
  }

  plugIn(): void {
    this.#plugged = true;
    if (this.#started) this.#setState('poweredOn');
  }

  /** The next `count` scan starts throw, as the HCI layer does when its socket died. */
  failScanStarts(count = 1): void {
    this.#failScans = count;
  }

  /** The next `count` connection attempts fail. */
  failConnects(count = 1): void {
    this.#failConnects = count;
  }

  #powerCycle(): void {
    this.#setState('resetting');
    setTimeout(() => {
      if (this.#plugged && this.#started) this.#setState('poweredOn');
      else this.#setState('poweredOff');
    }, this.#resetMs).unref();
  }

  #setState(state: SimulatedAdapterState): void {
    if (this.#state === state) return;
    const previous = this.#state;
    this.#state = state;
    if (previous === 'poweredOn' && state !== 'poweredOn') {
      // as the HCI bindings: leaving poweredOn ends every scan and connection (hardware failure, 0x03)
      this.#scanning = false;
      for (const id of [...this.#connections.keys()]) this.#drop(id, 0x03);
    }
    this.emit('stateChange', state);
  }

  #drop(id: string, reason: string | number): void {
    const c = this.#connections.get(id);
    if (!c) return;
    c.off();
    this.#connections.delete(id);
    this.emit('disconnect', id, reason);
  }

  #gatt(id: string, work: (c: Connection) => void): void {
    setImmediate(() => {
      const c = this.#connections.get(id);
      if (c) work(c);
    });
  }

  #sensorById(id: string): SimulatedBleSensor | undefined {
    return this.air.sensors.find((s) => this.addressToId(s.mac) === id);
  }
}
