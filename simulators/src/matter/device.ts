// A simulated Matter device (matter.js ServerNode) for pairing tests, demos and
// benchmarks: on loopback only unless told otherwise. Its fabric state lives in memory:
// every start is a factory-fresh device. Loaded on demand (see ./index.ts): matter.js
// takes a while to import.
import { createSocket } from 'node:dgram';
import {
  Crypto,
  Entropy,
  Environment,
  Logger,
  LogLevel,
  MemoryStorageDriver,
  Network,
  ServerNode,
  StorageService,
  VariableService,
  VendorId,
} from '@matter/main';
import { ContactSensorDevice } from '@matter/main/devices/contact-sensor';
import { DimmableLightDevice } from '@matter/main/devices/dimmable-light';
import { OnOffLightDevice } from '@matter/main/devices/on-off-light';
import { OnOffPlugInUnitDevice } from '@matter/main/devices/on-off-plug-in-unit';
import { TemperatureSensorDevice } from '@matter/main/devices/temperature-sensor';
import { SessionManager } from '@matter/main/protocol';
import type {
  SimulatedMatterDevice,
  SimulatedMatterDeviceOptions,
  SimulatedMatterDeviceType,
} from './index.js';

const HOST = '127.0.0.1';
let instances = 0;

function endpointTypeOf(type: SimulatedMatterDeviceType) {
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

export async function startDevice(options: SimulatedMatterDeviceOptions): Promise<SimulatedMatterDevice> {
  const passcode = options.passcode ?? 20202021;
  const discriminator = options.discriminator ?? 3840;
  const loopbackOnly = options.loopbackOnly ?? true;
  const port = options.port ?? (await freeUdpPort());
  const id = `sim-${options.type}-${process.pid}-${++instances}`;
  // Basic Information strings are at most 32 characters
  const name = (options.name ?? `Sentinel ${options.type}`).slice(0, 32);
  Logger.level = LogLevel(options.logLevel ?? 'warn');
  const node = await ServerNode.create({
    id,
    environment: isolatedEnvironment(id, loopbackOnly),
    network: loopbackOnly ? { port, listeningAddressIpv4: HOST, listeningAddressIpv6: '::1' } : { port },
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
    state: {
      onOff?: { onOff: boolean };
      levelControl?: { currentLevel: number | null };
      booleanState?: { stateValue: boolean };
    };
    set(values: object): Promise<void>;
  };
  return {
    type: options.type,
    host: loopbackOnly ? HOST : undefined,
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
    async contact() {
      return loose.state.booleanState?.stateValue ?? null;
    },
    async setLevel(level) {
      await loose.set({ levelControl: { currentLevel: level } });
    },
    async level() {
      return loose.state.levelControl?.currentLevel ?? null;
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

/**
 * A root matter.js Environment of the device's own. matter.js keeps process-wide services
 * (mDNS above all) on the default environment, so devices and a controller sharing a
 * process (tests, benches) would otherwise share one mDNS cache and one storage.
 */
function isolatedEnvironment(name: string, loopbackOnly: boolean): Environment {
  const platform = Environment.default;
  const env = new Environment(name);
  env.set(Network, platform.get(Network));
  env.set(Crypto, platform.get(Crypto));
  env.set(Entropy, platform.get(Entropy));
  const vars = new VariableService(env);
  env.set(VariableService, vars);
  // matter.js sends no mDNS on `lo`: a loopback device advertises nowhere
  if (loopbackOnly) vars.set('mdns.networkInterface', 'lo');
  const storage = new StorageService(env);
  storage.registerDriver(MemoryStorageDriver);
  storage.defaultDriver = MemoryStorageDriver.id;
  env.set(StorageService, storage);
  return env;
}

/** A free UDP port: matter.js advertises the port it is given, so it must be a real one. */
function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    socket.once('error', reject);
    socket.bind(0, HOST, () => {
      const { port } = socket.address();
      socket.close(() => resolve(port));
    });
  });
}
