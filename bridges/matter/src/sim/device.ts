// A simulated Matter device (matter.js ServerNode) listening on loopback only, for
// pairing tests, demos and benchmarks. Its fabric state lives in memory: every start is
// a factory-fresh device.
import { Logger, LogLevel, ServerNode, VendorId } from '@matter/main';
import { ContactSensorDevice } from '@matter/main/devices/contact-sensor';
import { DimmableLightDevice } from '@matter/main/devices/dimmable-light';
import { OnOffLightDevice } from '@matter/main/devices/on-off-light';
import { OnOffPlugInUnitDevice } from '@matter/main/devices/on-off-plug-in-unit';
import { TemperatureSensorDevice } from '@matter/main/devices/temperature-sensor';
import { SessionManager } from '@matter/main/protocol';
import { isolatedEnvironment } from '../controller/environment.js';
import { freeUdpPort } from '../controller/free-port.js';

export const SIMULATED_DEVICE_TYPES = [
  'on-off-light',
  'on-off-plug',
  'dimmable-light',
  'contact-sensor',
  'temperature-sensor',
] as const;
export type SimulatedDeviceType = (typeof SIMULATED_DEVICE_TYPES)[number];

export interface SimulatedDeviceOptions {
  readonly type: SimulatedDeviceType;
  readonly passcode?: number;
  readonly discriminator?: number;
  /** UDP port on 127.0.0.1; a free one when omitted */
  readonly port?: number;
  readonly name?: string;
  readonly logLevel?: 'debug' | 'info' | 'notice' | 'warn' | 'error';
}

export interface SimulatedDevice {
  readonly type: SimulatedDeviceType;
  readonly host: string;
  readonly port: number;
  readonly passcode: number;
  readonly discriminator: number;
  readonly manualPairingCode: string;
  readonly qrPairingCode: string;
  /** the application endpoint's number (the light or sensor) */
  readonly endpoint: number;
  isOn(): Promise<boolean>;
  /** a change made on the device itself (a wall switch), reported to subscribers */
  setOn(on: boolean): Promise<void>;
  setContact(closed: boolean): Promise<void>;
  /** resolves once the device accepts commissioning (again, after leaving its last fabric) */
  whenCommissionable(): Promise<void>;
  /** how many fabrics the device currently belongs to */
  fabricCount(): Promise<number>;
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';
let instances = 0;

function endpointTypeOf(type: SimulatedDeviceType) {
  switch (type) {
    case 'on-off-light':
      return OnOffLightDevice;
    case 'on-off-plug':
      return OnOffPlugInUnitDevice;
    case 'dimmable-light':
      return DimmableLightDevice;
    case 'contact-sensor':
      return ContactSensorDevice;
    case 'temperature-sensor':
      return TemperatureSensorDevice;
  }
}

export async function startSimulatedDevice(options: SimulatedDeviceOptions): Promise<SimulatedDevice> {
  const passcode = options.passcode ?? 20202021;
  const discriminator = options.discriminator ?? 3840;
  const port = options.port ?? (await freeUdpPort());
  const id = `sim-${options.type}-${process.pid}-${++instances}`;
  // Basic Information strings are at most 32 characters
  const name = (options.name ?? `Sentinel ${options.type}`).slice(0, 32);
  Logger.level = LogLevel(options.logLevel ?? 'warn');
  const node = await ServerNode.create({
    id,
    environment: isolatedEnvironment(id, { loopbackOnly: true }),
    network: { port, listeningAddressIpv4: HOST, listeningAddressIpv6: '::1' },
    commissioning: { passcode, discriminator },
    productDescription: { name, deviceType: endpointTypeOf(options.type).deviceType },
    basicInformation: {
      vendorName: 'Sentinel Edge',
      vendorId: VendorId(0xfff1),
      nodeLabel: name,
      productName: name,
      productLabel: name,
      productId: 0x8000,
      serialNumber: `SIM-${process.pid}-${instances}`.slice(0, 32),
      uniqueId: id.slice(0, 32),
    },
  });
  let app: Awaited<ReturnType<typeof node.add>>;
  try {
    app = await node.add(endpointTypeOf(options.type), { id: 'app' });
    // a room at 21.5 °C (hundredths of a degree), so a first read has a value, not null
    if (options.type === 'temperature-sensor')
      await (app as unknown as { set(values: object): Promise<void> }).set({
        temperatureMeasurement: { measuredValue: 2150 },
      });
    await node.start();
  } catch (error) {
    await node.close().catch(() => {});
    throw error;
  }
  const { manualPairingCode, qrPairingCode } = node.state.commissioning.pairingCodes;

  // Once its last fabric is removed, a matter.js device factory-resets only after every
  // session has closed, and the controller drops its side of the CASE session without
  // telling it. Like the CHIP SDK's devices, close them ourselves, once the RemoveFabric
  // answer is on its way, so the device is soon commissionable again.
  let commissionable = Promise.resolve();
  node.events.operationalCredentials.commissionedFabrics$Changed.on((count) => {
    if (count !== 0) return;
    // the factory reset takes the node offline and brings it back online, uncommissioned
    commissionable = new Promise((resolve) => {
      let wentOffline = false;
      const offline = () => {
        wentOffline = true;
      };
      const online = () => {
        if (!wentOffline) return;
        node.lifecycle.offline.off(offline);
        node.lifecycle.online.off(online);
        resolve();
      };
      node.lifecycle.offline.on(offline);
      node.lifecycle.online.on(online);
    });
    setTimeout(() => {
      node.env
        .get(SessionManager)
        .closeAllSessions()
        .catch(() => {});
    }, 50);
  });

  // the endpoint's state is typed per device type; the simulator only touches the
  // clusters its type has, so a loose view of the state is enough here
  const loose = app as unknown as {
    state: { onOff?: { onOff: boolean } };
    set(values: object): Promise<void>;
  };
  return {
    type: options.type,
    host: HOST,
    port,
    passcode,
    discriminator,
    manualPairingCode,
    qrPairingCode,
    endpoint: app.number,
    async isOn() {
      return loose.state.onOff?.onOff ?? false;
    },
    async setOn(on) {
      await loose.set({ onOff: { onOff: on } });
    },
    async setContact(closed) {
      await loose.set({ booleanState: { stateValue: closed } });
    },
    whenCommissionable() {
      return commissionable;
    },
    async fabricCount() {
      return node.state.operationalCredentials.commissionedFabrics;
    },
    async stop() {
      await node.close();
    },
  };
}
