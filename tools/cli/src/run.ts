// Runs a commander program and turns what it throws into the exit codes of
// CONTRACT.md §1: 0 success, 1 handled error (one line on stderr), 2 bad usage.
// Shared by `sentinel` and the slim BLE proxy entry (ble-proxy-main.ts).
import { type Command, CommanderError } from 'commander';
import { CliError, UsageError } from './errors.js';

export async function runProgram(program: Command, argv: string[]): Promise<number> {
  for (const command of allCommands(program)) command.exitOverride();
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

function* allCommands(command: Command): Generator<Command> {
  yield command;
  for (const sub of command.commands) yield* allCommands(sub);
}
