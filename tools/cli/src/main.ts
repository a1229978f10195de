// `sentinel`: the one command-line entry point. Exit codes (CONTRACT.md §1):
// 0 success, 1 handled error (one line on stderr), 2 bad usage.
import { Command, CommanderError } from 'commander';
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
import { CliError, UsageError } from './errors.js';

export function buildProgram(): Command {
  const program = new Command('sentinel')
    .description('Sentinel Edge: the gateway between ESP32 devices, BLE proxies, Matter and NATS')
    .option('--verbose', 'print stack traces of errors')
    .showHelpAfterError('(run with --help for usage)')
    .configureHelp({ sortSubcommands: true })
    .exitOverride();
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
  for (const command of allCommands(program)) command.exitOverride();
  return program;
}

function* allCommands(command: Command): Generator<Command> {
  for (const sub of command.commands) {
    yield sub;
    yield* allCommands(sub);
  }
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // help and version requests end here too, with exit code 0
      return error.exitCode === 0 ? 0 : 2;
    }
    if (error instanceof UsageError) {
      process.stderr.write(`sentinel: ${error.message}\n`);
      return 2;
    }
    const verbose = argv.includes('--verbose');
    if (error instanceof CliError && !verbose) {
      process.stderr.write(`sentinel: ${error.message}\n`);
      return 1;
    }
    if (verbose) process.stderr.write(`${(error as Error)?.stack ?? String(error)}\n`);
    else
      process.stderr.write(
        `sentinel: ${(error as Error)?.message ?? String(error)} (run with --verbose for details)\n`,
      );
    return 1;
  }
}
