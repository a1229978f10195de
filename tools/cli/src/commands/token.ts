// `sentinel token create|revoke|list`: API tokens for scripts and Prometheus
// (CONTRACT.md §6), sent as `Authorization: Bearer <token>`. A token is shown
// once; only its SHA-256 is stored. Recorded in the audit log with actor "cli".
import { parseName, parseRole } from '@sentinel/gateway/store';
import { type Command, Option } from 'commander';
import { addStoreOptions } from './device.js';
import { asCliError, CLI, checked, withPeople } from './user.js';

const line = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`);

export function registerTokenCommands(program: Command): void {
  const token = program.command('token').description('API tokens for scripts: create, revoke, list');

  addStoreOptions(
    token
      .command('create')
      .description('create a token; prints {"name","role","token"} (the token is shown only this once)')
      .addOption(
        new Option('--role <role>', 'admin, operator or viewer')
          .makeOptionMandatory()
          .argParser((role) => checked(() => parseRole(role))),
      )
      .option('--name <name>', 'its name ([a-z0-9][a-z0-9._-]{0,63}; default token-<yyyymmdd>-<4 hex>)'),
  ).action(async (flags: { role: string; name?: string }, self: Command) => {
    if (flags.name !== undefined) checked(() => parseName(flags.name ?? '', 'token'));
    await withPeople(self, async (people) => {
      line(await people.createToken(flags.role, flags.name, CLI).catch(asCliError));
    });
  });

  addStoreOptions(
    token
      .command('revoke')
      .description('revoke a token; it stops working at once, also on open connections')
      .argument('<name>', 'the token name'),
  ).action(async (name: string, _flags: unknown, self: Command) => {
    checked(() => parseName(name, 'token'));
    await withPeople(self, async (people) => {
      const revoked = await people.revokeToken(name, CLI).catch(asCliError);
      line({ name: revoked.name, revoked: true });
    });
  });

  addStoreOptions(
    token
      .command('list')
      .description('list tokens, one JSON line each: {"name","role","created","last_used"?}'),
  ).action(async (_flags: unknown, self: Command) => {
    await withPeople(self, async (people) => {
      for (const t of await people.tokens.list()) line(t);
    });
  });
}
