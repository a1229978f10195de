// The slim entry of a BLE proxy node: only `sentinel ble-proxy`, without the
// gateway, flasher and simulators the full CLI loads. `npm run build:ble-proxy`
// bundles it into one file that plain node runs on a Raspberry Pi (see
// bridges/ble-proxy/README.md); under tsx the full CLI costs ~90 MB more RSS.
import { Command } from 'commander';
import { registerBleProxyCommand } from './commands/ble-proxy.js';
import { runProgram } from './run.js';

const program = new Command('sentinel')
  .option('--verbose', 'print stack traces of errors')
  .showHelpAfterError('(run with --help for usage)');
registerBleProxyCommand(program);
process.exitCode = await runProgram(program, ['ble-proxy', ...process.argv.slice(2)]);
