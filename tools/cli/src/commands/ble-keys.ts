// `sentinel ble key set|remove|list`: bindkeys of encrypted BLE sensors, stored in
// KV bucket sentinel_ble_keys; the gateway's BLE adapter picks a change up at once.
import { BleKeyStore, InvalidBleKeyError } from '@sentinel/gateway/store';
import type { Command } from 'commander';
import { CliError, UsageError } from '../errors.js';
import { addStoreOptions, withStore } from './device.js';

const withKeys = <T>(command: Command, work: (keys: BleKeyStore) => Promise<T>): Promise<T> =>
  withStore(command, async (store) => work(await BleKeyStore.open(store.bus.js)));

/** Bad input from the user (checked by the store before anything is written) is a usage error. */
function asUsage(error: unknown): never {
  if (error instanceof InvalidBleKeyError) throw new UsageError(error.message, { cause: error });
  throw error;
}

export function registerBleKeyCommands(ble: Command): void {
  const key = ble.command('key').description('bindkeys of encrypted BLE sensors (BTHome, Xiaomi MiBeacon)');
  addStoreOptions(
    key
      .command('set')
      .description('store the bindkey of a sensor; prints {"device_id","set":true}')
      .argument('<mac>', 'the sensor address, AA:BB:CC:DD:EE:FF')
      .argument('<hex>', 'the bindkey: 32 hex digits (24 for old MiBeacon)'),
  ).action(async (mac: string, hex: string, _flags: unknown, self: Command) => {
    await withKeys(self, async (keys) => {
      const { device_id } = await keys.set(mac, hex).catch(asUsage);
      process.stdout.write(`${JSON.stringify({ device_id, set: true })}\n`);
    });
  });
  addStoreOptions(
    key
      .command('remove')
      .description('forget the bindkey of a sensor; prints {"device_id","removed":true}')
      .argument('<mac>', 'the sensor address'),
  ).action(async (mac: string, _flags: unknown, self: Command) => {
    await withKeys(self, async (keys) => {
      if (!(await keys.remove(mac).catch(asUsage))) throw new CliError(`no bindkey is stored for ${mac}`);
      process.stdout.write(
        `${JSON.stringify({ device_id: `ble-${mac.toLowerCase().replace(/[:-]/g, '')}`, removed: true })}\n`,
      );
    });
  });
  addStoreOptions(
    key
      .command('list')
      .description('devices with a stored bindkey, one JSON line each (keys are not printed)'),
  ).action(async (_flags: unknown, self: Command) => {
    await withKeys(self, async (keys) => {
      for (const entry of await keys.list()) process.stdout.write(`${JSON.stringify(entry)}\n`);
    });
  });
}
