// Shared by the end-to-end flash tests (`sentinel flash --provision`, the /flash page): a picket
// simulator started from the provisioning data a flash left in NVS, as a flashed board would boot.

import type { NatsConnection } from '@nats-io/transport-node';
import { PicketDevice } from '@sentinel/simulators';
import { connectTestBus, entityIdsOf } from '../../test/support/bus.js';
import type { Provisioning } from '../src/index.js';

/**
 * Connects with the provisioned id, token and first gateway URL, waits for the gateway to
 * acknowledge a reading (and for `online`, when given), and answers the device's entity ids, sorted.
 */
export async function provisionedPicketEntities(
  natsUrl: string,
  provisioning: Provisioning,
  online?: (bus: NatsConnection) => Promise<unknown>,
): Promise<string[]> {
  const device = new PicketDevice({
    id: provisioning.deviceId,
    token: provisioning.token,
    gateway: provisioning.gatewayUrls[0]!,
    intervalMs: 50,
  });
  const bus = await connectTestBus(natsUrl);
  try {
    // a reading acknowledged: the gateway took the hello and stored the state
    const acked = new Promise((resolve) => device.once('acked', resolve));
    device.start();
    await acked;
    await online?.(bus);
    return Object.keys(await entityIdsOf(bus, `picket-${provisioning.deviceId}`)).sort();
  } finally {
    await device.stop();
    await bus.close();
  }
}
