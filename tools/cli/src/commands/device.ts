// `sentinel device add|rotate|remove|list`: picket device registration (CONTRACT.md §4).

import { PicketIdSchema } from '@sentinel/firmware';
import {
  CredentialStore,
  DeviceExistsError,
  DeviceNotRegisteredError,
  InvalidDeviceIdError,
  openGatewayStore,
} from '@sentinel/gateway/store';
import type { Command } from 'commander';
import { CliError, UsageError } from '../errors.js';
import { addGatewayOptions, gatewayOptionValues, STORE_OPTIONS } from './options.js';

/** --nats, --nats-creds and --data: what finds the gateway store (also `sentinel ble key`) */
export const addStoreOptions = (command: Command) => addGatewayOptions(command, STORE_OPTIONS);

/** Opens the gateway store the command's options name, runs `work`, and closes it. */
export async function withStore<T>(
  command: Command,
  work: (store: Awaited<ReturnType<typeof openGatewayStore>>) => Promise<T>,
) {
  let store: Awaited<ReturnType<typeof openGatewayStore>>;
  try {
    store = await openGatewayStore(gatewayOptionValues(command.opts(), STORE_OPTIONS));
  } catch (error) {
    throw new CliError(`cannot reach the gateway store: ${(error as Error).message}`, { cause: error });
  }
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}

/** Checks every id before anything is written, so a typo in the third id leaves nothing half done. */
function checkIds(ids: string[]): void {
  for (const id of ids) {
    const parsed = PicketIdSchema.safeParse(id);
    if (!parsed.success)
      throw new UsageError(`invalid device id "${id}": ${parsed.error.issues[0]!.message}`);
  }
}

/** A device that exists already: how to get a new token for it, or start over. */
function alreadyRegistered(id: string, cause?: unknown): CliError {
  return new CliError(
    `device "${id}" is already registered: for a new token run \`npx sentinel device rotate ${id}\`, ` +
      `or \`npx sentinel device remove ${id}\` first`,
    { cause },
  );
}

/** Errors the store raises for a user's input. */
function asCliError(error: unknown): never {
  if (error instanceof InvalidDeviceIdError) throw new UsageError(error.message);
  if (error instanceof DeviceExistsError || error instanceof DeviceNotRegisteredError)
    throw new CliError(error.message, { cause: error });
  throw error;
}

export function registerDeviceCommands(program: Command): void {
  const device = program.command('device').description('register, list and revoke picket devices');

  addStoreOptions(
    device
      .command('add')
      .description('register devices; prints {"device_id","token"} per device, one JSON line each')
      .argument('<id...>', 'picket device ids ([a-z0-9][a-z0-9_-]{0,57})'),
  ).action(async (ids: string[], _flags: unknown, self: Command) => {
    checkIds(ids);
    await withStore(self, async (store) => {
      for (const id of ids) {
        const credentials = await store.addDevice(id).catch((error: unknown) => {
          if (error instanceof DeviceExistsError) throw alreadyRegistered(id, error);
          return asCliError(error);
        });
        process.stdout.write(`${JSON.stringify(credentials)}\n`);
      }
    });
  });

  addStoreOptions(
    device
      .command('rotate')
      .description(
        'issue new tokens: prints {"device_id","token"} per device, one JSON line each (shown once); the old token stops working and live connections made with it are closed',
      )
      .argument('<id...>', 'picket device ids'),
  ).action(async (ids: string[], _flags: unknown, self: Command) => {
    checkIds(ids);
    await withStore(self, async (store) => {
      const credentials = new CredentialStore(store.bus.kv.credentials);
      for (const id of ids) {
        const rotated = await credentials.rotate(id).catch(asCliError);
        process.stdout.write(`${JSON.stringify(rotated)}\n`);
      }
    });
  });

  addStoreOptions(
    device
      .command('remove')
      .description('revoke devices: their tokens stop working and live connections are closed')
      .argument('<id...>', 'picket device ids'),
  ).action(async (ids: string[], _flags: unknown, self: Command) => {
    checkIds(ids);
    await withStore(self, async (store) => {
      for (const id of ids) {
        if (!(await store.removeDevice(id).catch(asCliError)))
          throw new CliError(`device "${id}" is not registered`);
        process.stdout.write(`${JSON.stringify({ device_id: `picket-${id}`, removed: true })}\n`);
      }
    });
  });

  addStoreOptions(device.command('list').description('list registered devices, one JSON line each')).action(
    async (_flags: unknown, self: Command) => {
      await withStore(self, async (store) => {
        for (const entry of await store.listDevices()) process.stdout.write(`${JSON.stringify(entry)}\n`);
      });
    },
  );
}
