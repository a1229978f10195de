// `sentinel ble key set|remove|list`: bindkeys of encrypted BLE sensors, stored in
// KV bucket sentinel_ble_keys; the gateway's BLE adapter picks a change up at once.
import { BleKeyStore, openGatewayStore } from '@sentinel/gateway';
import type { Command } from 'commander';
import { CliError, UsageError } from '../errors.js';
import { addGatewayOptions, gatewayOptionValues, STORE_OPTIONS } from './options.js';

async function withKeys<T>(command: Command, work: (keys: BleKeyStore) => Promise<T>): Promise<T> {
  let store: Awaited<ReturnType<typeof openGatewayStore>>;
  try {
    store = await openGatewayStore(gatewayOptionValues(command.opts(), STORE_OPTIONS));
  } catch (error) {
    throw new CliError(`cannot reach the gateway store: ${(error as Error).message}`, { cause: error });
  }
  try {
    return await work(await BleKeyStore.open(store.bus.js));
  } finally {
    await store.close();
  }
}

/** Bad input from the user (checked by the store before anything is written) is a usage error. */
function asUsage(error: unknown): never {
  if ((error as Error)?.name === 'InvalidBleKeyError') throw new UsageError((error as Error).message);
  throw error;
}

export function registerBleKeyCommands(ble: Command): void {
  const key = ble.command('key').description('bindkeys of encrypted BLE sensors (BTHome, Xiaomi MiBeacon)');
  addGatewayOptions(
    key
      .command('set')
      .description('store the bindkey of a sensor; prints {"device_id","set":true}')
      .argument('<mac>', 'the sensor address, AA:BB:CC:DD:EE:FF')
      .argument('<hex>', 'the bindkey: 32 hex digits (24 for old MiBeacon)'),
    STORE_OPTIONS,
  ).action(async (mac: string, hex: string, _flags: unknown, self: Command) => {
    await withKeys(self, async (keys) => {
      const { device_id } = await keys.set(mac, hex).catch(asUsage);
      process.stdout.write(`${JSON.stringify({ device_id, set: true })}\n`);
    });
  });
  addGatewayOptions(
    key
      .command('remove')
      .description('forget the bindkey of a sensor; prints {"device_id","removed":true}')
      .argument('<mac>', 'the sensor address'),
    STORE_OPTIONS,
  ).action(async (mac: string, _flags: unknown, self: Command) => {
    await withKeys(self, async (keys) => {
      if (!(await keys.remove(mac).catch(asUsage))) throw new CliError(`no bindkey is stored for ${mac}`);
      process.stdout.write(
        `${JSON.stringify({ device_id: `ble-${mac.toLowerCase().replace(/[:-]/g, '')}`, removed: true })}\n`,
      );
    });
  });
  addGatewayOptions(
    key
      .command('list')
      .description('devices with a stored bindkey, one JSON line each (keys are not printed)'),
    STORE_OPTIONS,
  ).action(async (_flags: unknown, self: Command) => {
    await withKeys(self, async (keys) => {
      for (const entry of await keys.list()) process.stdout.write(`${JSON.stringify(entry)}\n`);
    });
  });
}
