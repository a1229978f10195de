// `sentinel`: the one command-line entry point. Exit codes (CONTRACT.md §1):
// 0 success, 1 handled error (one line on stderr), 2 bad usage.
import { Command } from 'commander';
import { registerBleCommands } from './commands/ble.js';
import { registerBleProxyCommand } from './commands/ble-proxy.js';
import { registerBusCommands } from './commands/bus.js';
import { registerDemoCommand } from './commands/demo.js';
import { registerDeviceCommands } from './commands/device.js';
import { registerFirmwareFormatCommands } from './commands/firmware-formats.js';
import { registerFlashCommands } from './commands/flash.js';
import { registerGatewayCommand } from './commands/gateway.js';
import { registerNatsAuthCommands } from './commands/nats-auth.js';
import { registerSimulateCommands } from './commands/simulate.js';
import { runProgram } from './run.js';

export function buildProgram(): Command {
  const program = new Command('sentinel')
    .description('Sentinel Edge: the gateway between ESP32 devices, BLE proxies, Matter and NATS')
    .option('--verbose', 'print stack traces of errors')
    .showHelpAfterError('(run with --help for usage)')
    .configureHelp({ sortSubcommands: true });
  registerGatewayCommand(program);
  registerDeviceCommands(program);
  registerSimulateCommands(program);
  registerBusCommands(program);
  registerDemoCommand(program);
  registerFirmwareFormatCommands(program);
  registerFlashCommands(program);
  registerBleCommands(program);
  registerBleProxyCommand(program);
  registerNatsAuthCommands(program);
  return program;
}

export function main(argv: string[]): Promise<number> {
  return runProgram(buildProgram(), argv);
}
