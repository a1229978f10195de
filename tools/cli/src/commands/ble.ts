// `sentinel ble …`: BLE decoding and bindkeys. `ble` is only a parent.
import type { Command } from 'commander';
import { registerBleDecodeCommand } from './ble-decode.js';
import { registerBleKeyCommands } from './ble-keys.js';

export function registerBleCommands(program: Command): void {
  const ble = program
    .command('ble')
    .description('decode BLE advertisements, manage bindkeys of encrypted sensors');
  registerBleDecodeCommand(ble);
  registerBleKeyCommands(ble);
}
