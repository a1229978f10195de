// A matter.js bridge (an Aggregator) on loopback for tests whose device changes shape at
// run time: bridged lights are added and removed while a controller is subscribed, as a
// real bridge does when a device is paired to it or taken away.
import { Endpoint, ServerNode, VendorId } from '@matter/main';
import { BridgedDeviceBasicInformationServer } from '@matter/main/behaviors/bridged-device-basic-information';
import { OnOffLightDevice } from '@matter/main/devices/on-off-light';
import { AggregatorEndpoint } from '@matter/main/endpoints/aggregator';
import { isolatedEnvironment } from '../src/controller/environment.js';
import { freeUdpPort } from '../src/controller/free-port.js';

export interface TestBridgeDevice {
  readonly manualPairingCode: string;
  readonly port: number;
  /** adds a bridged on/off light; resolves with its endpoint number */
  addLight(name: string): Promise<number>;
  /** removes the bridged light on that endpoint */
  removeLight(endpoint: number): Promise<void>;
  stop(): Promise<void>;
}

let instances = 0;

export async function startTestBridgeDevice(
  passcode: number,
  discriminator: number,
): Promise<TestBridgeDevice> {
  const id = `test-bridge-${process.pid}-${++instances}`;
  const port = await freeUdpPort();
  const node = await ServerNode.create({
    id,
    environment: isolatedEnvironment(id, { loopbackOnly: true }),
    network: { port, listeningAddressIpv4: '127.0.0.1', listeningAddressIpv6: '::1' },
    commissioning: { passcode, discriminator },
    productDescription: { name: 'Test bridge', deviceType: AggregatorEndpoint.deviceType },
    basicInformation: {
      vendorName: 'Sentinel Edge',
      vendorId: VendorId(0xfff1),
      productName: 'Test bridge',
      productId: 0x8001,
      serialNumber: id.slice(0, 32),
      uniqueId: id.slice(0, 32),
    },
  });
  const aggregator = new Endpoint(AggregatorEndpoint, { id: 'aggregator' });
  await node.add(aggregator);
  await node.start();
  const lights = new Map<number, Endpoint>();
  return {
    manualPairingCode: node.state.commissioning.pairingCodes.manualPairingCode,
    port,
    async addLight(name) {
      const light = new Endpoint(OnOffLightDevice.with(BridgedDeviceBasicInformationServer), {
        id: name,
        bridgedDeviceBasicInformation: { nodeLabel: name, reachable: true },
      });
      await aggregator.add(light);
      lights.set(light.number, light);
      return light.number;
    },
    async removeLight(endpoint) {
      await lights.get(endpoint)?.delete();
      lights.delete(endpoint);
    },
    stop: () => node.close(),
  };
}
