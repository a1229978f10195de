// `sentinel user add|remove|role|list`: accounts of people (CONTRACT.md §6). No
// default account exists; `user add` without --password-stdin prints a one-time
// onboarding link where the person sets their password. Every change is recorded
// in the audit log with actor "cli".
import {
  type By,
  GATEWAY_OPTIONS,
  InvalidNameError,
  InvalidRoleError,
  openPeopleStores,
  PeopleAdmin,
  PeopleError,
  parseName,
  parseRole,
  replicasFor,
} from '@sentinel/gateway/store';
import { type Command, Option } from 'commander';
import { CliError, UsageError } from '../errors.js';
import { addStoreOptions, withStore } from './device.js';
import { addGatewayOptions, gatewayOptionValues } from './options.js';

export const CLI: By = { actor: 'cli', from: 'cli' };

/** Opens the gateway store and the people buckets, runs `work`, closes. */
export function withPeople<T>(command: Command, work: (people: PeopleAdmin) => Promise<T>): Promise<T> {
  return withStore(command, async (store) => {
    const stores = await openPeopleStores(store.bus.js, store.bus.jsm, {
      replicas: replicasFor(store.bus.nc, 0),
    });
    return work(new PeopleAdmin(stores));
  });
}

/** Names and roles are checked before the store is opened: bad usage, exit 2. */
export function checked<T>(check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (error instanceof InvalidNameError || error instanceof InvalidRoleError)
      throw new UsageError(error.message, { cause: error });
    throw error;
  }
}

/** What the store refuses (exists, unknown, last admin, password policy): one line, exit 1. */
export function asCliError(error: unknown): never {
  if (error instanceof InvalidNameError || error instanceof InvalidRoleError)
    throw new UsageError(error.message, { cause: error });
  if (error instanceof PeopleError) throw new CliError(error.message, { cause: error });
  throw error;
}

/** The password as piped in: everything on stdin, less one trailing newline. */
async function readPassword(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

/** `<public url>` or `http://localhost:<http port>`, without a trailing slash. */
function origin(publicUrl: string | undefined, httpPort: unknown): string {
  if (publicUrl === undefined) {
    const port = GATEWAY_OPTIONS.httpPort.schema.safeParse(httpPort);
    if (!port.success) throw new UsageError(`--http-port: "${String(httpPort)}" is not a port number`);
    return `http://localhost:${port.data}`;
  }
  let url: URL;
  try {
    url = new URL(publicUrl);
  } catch (error) {
    throw new UsageError(`--public-url: "${publicUrl}" is not a URL`, { cause: error });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new UsageError(`--public-url: use an http:// or https:// URL, not "${publicUrl}"`);
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

const roleOption = () =>
  new Option('--role <role>', 'admin, operator or viewer')
    .makeOptionMandatory()
    .argParser((role) => checked(() => parseRole(role)));

const line = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`);

export function registerUserCommands(program: Command): void {
  const user = program.command('user').description('accounts of people: add, remove, change roles, list');

  const add = user
    .command('add')
    .description(
      'add a user; prints {"user","role","onboarding_url"} (a one-time link where they set a password), or {"user","role"} with --password-stdin',
    )
    .argument('<name>', 'user name ([a-z0-9][a-z0-9._-]{0,63})')
    .addOption(roleOption())
    .option('--password-stdin', 'read the password from standard input (one trailing newline is dropped)');
  addGatewayOptions(addStoreOptions(add), ['httpPort', 'publicUrl']).action(
    async (name: string, flags: Record<string, unknown>, self: Command) => {
      checked(() => parseName(name));
      const role = flags.role as string;
      const base = origin(
        flags.publicUrl as string | undefined,
        gatewayOptionValues(flags, ['httpPort']).httpPort,
      );
      const password = flags.passwordStdin ? await readPassword() : undefined;
      await withPeople(self, async (people) => {
        if (password !== undefined) {
          const added = await people.addUserWithPassword(name, role, password, CLI).catch(asCliError);
          line({ user: added.name, role: added.role });
        } else {
          const { user: added, token } = await people.addUser(name, role, CLI).catch(asCliError);
          line({ user: added.name, role: added.role, onboarding_url: `${base}/onboarding#${token}` });
        }
      });
    },
  );

  addStoreOptions(
    user
      .command('remove')
      .description('remove a user; their sessions end at once. The last admin cannot be removed')
      .argument('<name>', 'user name'),
  ).action(async (name: string, _flags: unknown, self: Command) => {
    checked(() => parseName(name));
    await withPeople(self, async (people) => {
      const removed = await people.removeUser(name, CLI).catch(asCliError);
      line({ user: removed.name, removed: true });
    });
  });

  addStoreOptions(
    user
      .command('role')
      .description("change a user's role; their sessions end, so it applies from the next log-in")
      .argument('<name>', 'user name')
      .addOption(roleOption()),
  ).action(async (name: string, flags: { role: string }, self: Command) => {
    checked(() => parseName(name));
    await withPeople(self, async (people) => {
      const changed = await people.setRole(name, flags.role, CLI).catch(asCliError);
      line({ user: changed.name, role: changed.role });
    });
  });

  addStoreOptions(
    user
      .command('list')
      .description('list users, one JSON line each: {"user","role","created","onboarding_pending"}'),
  ).action(async (_flags: unknown, self: Command) => {
    await withPeople(self, async (people) => {
      for (const u of await people.users.list())
        line({ user: u.name, role: u.role, created: u.created, onboarding_pending: u.onboarding_pending });
    });
  });
}
