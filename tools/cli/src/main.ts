// `sentinel`: the one command-line entry point. Exit codes (CONTRACT.md §1):
// 0 success, 1 handled error (one line on stderr), 2 bad usage.
//
// Commands load when used: `sentinel --help` must answer at once, without pulling in
// NATS clients, the gateway or the simulators. The build writes commands.json (which
// module registers which top-level command, its usage term and description) next to
// the compiled main.js; `--help` and error suggestions read only that. Without the
// index (running from sources), every module loads, as before.
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { runProgram } from './run.js';

type Register = (program: Command) => void;

/** Each module registers one or more top-level commands. */
export const COMMAND_MODULES: Record<string, () => Promise<Register>> = {
  gateway: async () => (await import('./commands/gateway.js')).registerGatewayCommand,
  device: async () => (await import('./commands/device.js')).registerDeviceCommands,
  simulate: async () => (await import('./commands/simulate.js')).registerSimulateCommands,
  bus: async () => (await import('./commands/bus.js')).registerBusCommands,
  demo: async () => (await import('./commands/demo.js')).registerDemoCommand,
  'firmware-formats': async () =>
    (await import('./commands/firmware-formats.js')).registerFirmwareFormatCommands,
  firmware: async () => (await import('./commands/firmware.js')).registerFirmwareCommands,
  flash: async () => (await import('./commands/flash.js')).registerFlashCommands,
  ble: async () => (await import('./commands/ble.js')).registerBleCommands,
  'ble-proxy': async () => (await import('./commands/ble-proxy.js')).registerBleProxyCommand,
  'nats-auth': async () => (await import('./commands/nats-auth.js')).registerNatsAuthCommands,
  user: async () => (await import('./commands/user.js')).registerUserCommands,
  token: async () => (await import('./commands/token.js')).registerTokenCommands,
  automations: async () => (await import('./commands/automations.js')).registerAutomationsCommands,
  ota: async () => (await import('./commands/ota.js')).registerOtaCommands,
  matter: async () => (await import('./commands/matter.js')).registerMatterCommands,
  'matter-server': async () => (await import('./commands/matter-server.js')).registerMatterServerCommand,
};

export interface CommandIndexEntry {
  name: string;
  module: string;
  /** how `--help` lists it, e.g. `read-flash [options] <offset> <size> <file>` */
  term: string;
  description: string;
}

const INDEX_FILE = new URL('./commands.json', import.meta.url);

function newProgram(): Command {
  return new Command('sentinel')
    .description('Sentinel Edge: the gateway between ESP32 devices, BLE proxies, Matter and NATS')
    .option('--verbose', 'print stack traces of errors')
    .showHelpAfterError('(run with --help for usage)')
    .configureHelp({ sortSubcommands: true });
}

/** Every command with every module loaded: what the index is made from, and what tests walk. */
export async function buildFullProgram(): Promise<Command> {
  const program = newProgram();
  for (const load of Object.values(COMMAND_MODULES)) (await load())(program);
  return program;
}

/** The index the build writes: one entry per top-level command. */
export async function indexCommands(): Promise<CommandIndexEntry[]> {
  const entries: CommandIndexEntry[] = [];
  for (const [module, load] of Object.entries(COMMAND_MODULES)) {
    const scratch = newProgram();
    (await load())(scratch);
    const help = scratch.createHelp();
    for (const command of scratch.commands)
      entries.push({
        name: command.name(),
        module,
        term: help.subcommandTerm(command),
        description: command.description(),
      });
  }
  return entries;
}

function readIndex(): CommandIndexEntry[] | undefined {
  try {
    return JSON.parse(readFileSync(INDEX_FILE, 'utf8')) as CommandIndexEntry[];
  } catch {
    return undefined;
  }
}

/** The top-level command argv names (`help <command>` names it second), if any. */
function requestedCommand(argv: string[]): string | undefined {
  const words = argv.filter((a) => !a.startsWith('-'));
  return words[0] === 'help' ? words[1] : words[0];
}

/** The program with just the module argv needs; the other commands as stand-ins for `--help`. */
export async function buildProgram(argv: string[]): Promise<Command> {
  const index = readIndex();
  if (index === undefined) return buildFullProgram();
  const program = newProgram();
  const wanted = index.find((entry) => entry.name === requestedCommand(argv));
  if (wanted !== undefined) {
    const load = COMMAND_MODULES[wanted.module];
    if (load !== undefined) (await load())(program);
  }
  const terms = new Map<string, string>();
  for (const entry of index) {
    if (program.commands.some((c) => c.name() === entry.name)) continue;
    program.command(entry.name).description(entry.description);
    terms.set(entry.name, entry.term);
  }
  const help = program.createHelp();
  program.configureHelp({
    sortSubcommands: true,
    subcommandTerm: (command) => terms.get(command.name()) ?? help.subcommandTerm(command),
  });
  return program;
}

export async function main(argv: string[]): Promise<number> {
  return runProgram(await buildProgram(argv), argv);
}
