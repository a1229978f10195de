// The lean entry of `sentinel matter-server`: bin/sentinel.js imports it, bundled by
// scripts/build-matter-server.mjs, instead of the CLI when the bundle is fresh, after it
// has set the V8 flags for a small heap (docs/matter.md, Memory). The program is the
// CLI's, cut down to this one command: same options, help, errors and exit codes.
import { Command } from 'commander';
import { registerMatterServerCommand } from './commands/matter-server.js';
import { runProgram } from './run.js';

// as in bin.ts: a reader that closes the pipe early is not an error
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

// the settings main.ts gives the whole program, which subcommands inherit
const program = new Command('sentinel')
  .description('Sentinel Edge: the gateway between ESP32 devices, BLE proxies, Matter and NATS')
  .option('--verbose', 'print stack traces of errors')
  .showHelpAfterError('(run with --help for usage)')
  .configureHelp({ sortSubcommands: true });
registerMatterServerCommand(program, { lean: true });
process.exitCode = await runProgram(program, process.argv.slice(2));
