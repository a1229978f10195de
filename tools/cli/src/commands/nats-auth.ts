// `sentinel nats-auth init|add-proxy|add-user|revoke`: operator, accounts and scoped
// credentials for the bus (docs/security.md). The work is in @sentinel/gateway/nats-auth; this
// file maps its errors to exit codes. Only paths and public keys are printed.

import {
  addProxy,
  addUser,
  initNatsAuth,
  NatsAuthDirError,
  NatsAuthError,
  NatsAuthUsageError,
  PushError,
  revokeUser,
  USER_ROLES,
} from '@sentinel/gateway/nats-auth';
import { type Command, Option } from 'commander';
import { CliError, UsageError } from '../errors.js';

function asCliError(error: unknown): never {
  if (error instanceof NatsAuthUsageError) throw new UsageError(error.message);
  if (error instanceof NatsAuthError || error instanceof NatsAuthDirError || error instanceof PushError)
    throw new CliError(error.message, { cause: error });
  const code = (error as NodeJS.ErrnoException)?.code;
  if (code === 'EACCES' || code === 'EPERM' || code === 'ENOTDIR')
    throw new CliError(`cannot write: ${(error as Error).message}`, { cause: error });
  throw error;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

interface InitFlags {
  dir?: string;
  /** the first name of --dir, kept working (CONTRACT.md, older scripts) */
  out?: string;
  proxy: string[];
  listen: string;
  storeDir?: string;
  resolverDir?: string;
  force: boolean;
}

export function registerNatsAuthCommands(program: Command): void {
  const natsAuth = program
    .command('nats-auth')
    .description('generate the NATS operator, accounts and scoped credentials (docs/security.md)');

  natsAuth
    .command('init')
    .description(
      'create an operator, the SYS, SENTINEL and RELAY accounts, credentials for the gateway, matter bridge, automations, relay and BLE proxies, and a nats-server.conf; prints paths and public keys as JSON',
    )
    .option('--dir <dir>', 'directory to create (owner-only permissions)')
    .addOption(new Option('--out <dir>', 'deprecated name of --dir, still accepted'))
    .option('--proxy <id>', 'also issue a credential for this BLE proxy (repeatable)', collect, [])
    .option('--listen <host:port>', 'listen address written into nats-server.conf', '0.0.0.0:4222')
    .option('--store-dir <dir>', 'JetStream store written into nats-server.conf (default: <dir>/jetstream)')
    .option('--resolver-dir <dir>', 'where nats-server keeps account JWTs (default: <dir>/resolver)')
    .option(
      '--force',
      'replace the keys and credentials of an existing directory (all old ones stop working)',
      false,
    )
    .action(async (flags: InitFlags) => {
      const out = initDir(flags);
      const result = await initNatsAuth({
        out,
        force: flags.force,
        proxies: flags.proxy,
        listen: flags.listen,
        ...(flags.storeDir ? { storeDir: flags.storeDir } : {}),
        ...(flags.resolverDir ? { resolverDir: flags.resolverDir } : {}),
      }).catch(asCliError);
      process.stdout.write(`${JSON.stringify(result)}\n`);
      const gateway = result.users.find((u) => u.name === 'gateway');
      process.stderr.write(
        `nats-auth: start the server with \`nats-server -c ${result.server_config}\` and the gateway with --nats-creds ${gateway?.creds}\n`,
      );
    });

  natsAuth
    .command('add-proxy')
    .description(
      'issue a credential for one BLE proxy (publish sentinel.ble.proxy.<id>.>, subscribe sentinel.ble.proxy.<id>.gatt.>); a running server accepts it at once',
    )
    .argument('<id>', 'proxy id ([a-z0-9][a-z0-9_-]{0,63})')
    .requiredOption('--dir <dir>', 'a directory made by `sentinel nats-auth init`')
    .action(async (id: string, flags: { dir: string }) => {
      const user = await addProxy(flags.dir, id).catch(asCliError);
      process.stdout.write(`${JSON.stringify(user)}\n`);
    });

  natsAuth
    .command('add-user')
    .description(
      'issue another credential for a role: a replacement after revoke, or one per gateway node; a running server accepts it at once',
    )
    .argument('<role>', USER_ROLES.join(' | '))
    .requiredOption('--dir <dir>', 'a directory made by `sentinel nats-auth init`')
    .option('--name <name>', 'user name and creds file name (default: the role)')
    .action(async (role: string, flags: { dir: string; name?: string }) => {
      const user = await addUser(flags.dir, role, flags.name).catch(asCliError);
      process.stdout.write(`${JSON.stringify(user)}\n`);
    });

  natsAuth
    .command('revoke')
    .description(
      'revoke a credential in its account JWT and rewrite nats-server.conf; with --push, a running nats-server applies it at once and closes that user’s connections',
    )
    .argument(
      '<user-or-proxy>',
      'a user name (gateway, matter, automations, relay, ble-proxy-<id>) or a proxy id',
    )
    .requiredOption('--dir <dir>', 'a directory made by `sentinel nats-auth init`')
    .option('--push <nats-url>', 'send the updated account to this running nats-server (as the system user)')
    .action(async (target: string, flags: { dir: string; push?: string }) => {
      const user = await revokeUser(flags.dir, target, { push: flags.push }).catch(asCliError);
      process.stdout.write(`${JSON.stringify(user)}\n`);
      process.stderr.write(
        user.pushed
          ? `nats-auth: revoked ${user.name}; ${flags.push} applied it\n`
          : `nats-auth: revoked ${user.name}; it applies when nats-server next starts (or give --push <nats-url>)\n`,
      );
    });
}

/** `init` takes --dir like the other nats-auth commands; --out is its first name. */
function initDir(flags: InitFlags): string {
  if (flags.dir !== undefined && flags.out !== undefined && flags.dir !== flags.out)
    throw new UsageError('--out is the old name of --dir: give one of them');
  const dir = flags.dir ?? flags.out;
  if (dir === undefined) throw new UsageError("required option '--dir <dir>' not specified");
  if (flags.dir === undefined)
    process.stderr.write('nats-auth: --out is deprecated, use --dir (it works the same)\n');
  return dir;
}
