// `sentinel watch` and `sentinel command`: look at and poke the bus the way the
// rest of the platform does, without installing a NATS client.

import { openGatewayStore } from '@sentinel/gateway/store';
import type { Command } from 'commander';
import { z } from 'zod';
import { CliError, UsageError } from '../errors.js';
import { addGatewayOptions, gatewayOptionValues, STORE_OPTIONS } from './options.js';

async function openStore(command: Command) {
  try {
    return await openGatewayStore(gatewayOptionValues(command.opts(), STORE_OPTIONS));
  } catch (error) {
    throw new CliError(`cannot reach the gateway store: ${(error as Error).message}`, { cause: error });
  }
}

export function registerBusCommands(program: Command): void {
  addGatewayOptions(
    program
      .command('watch')
      .description('print messages from the bus as they arrive, one line each: <subject> <json>')
      .argument('[subject]', 'NATS subject, wildcards allowed', 'sentinel.>'),
    STORE_OPTIONS,
  ).action(async (subject: string, _flags: unknown, self: Command) => {
    const store = await openStore(self);
    const subscription = store.bus.nc.subscribe(subject);
    // once the server has the subscription, say so: what is published from now on is shown
    await store.bus.nc.flush();
    process.stderr.write(`watching ${subject}; Ctrl-C stops\n`);
    const stop = () => subscription.unsubscribe();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    for await (const msg of subscription) process.stdout.write(`${msg.subject} ${msg.string()}\n`);
    await store.close();
  });

  addGatewayOptions(
    program
      .command('command')
      .description('send a command to an entity and print the reply; exit 1 unless {"ok":true}')
      .argument('<entity_id>', 'the entity to command')
      .argument('<request>', 'JSON request, e.g. \'{"value":true}\' or \'{"action":"press"}\'')
      .option('--timeout <ms>', 'how long to wait for the reply', '10000'),
    STORE_OPTIONS,
  ).action(async (entityId: string, request: string, flags: { timeout: string }, self: Command) => {
    try {
      JSON.parse(request);
    } catch {
      throw new UsageError(`the request is not JSON: ${request}`);
    }
    const store = await openStore(self);
    let text: string;
    try {
      const reply = await store.bus.nc.request(`sentinel.cmd.${entityId}`, request, {
        timeout: Number(flags.timeout),
      });
      text = reply.string();
    } catch (error) {
      throw new CliError(`no reply from a gateway: ${(error as Error).message}; is one running?`, {
        cause: error,
      });
    } finally {
      await store.close();
    }
    // the reply is printed whatever it says: scripts read the error code from stdout
    process.stdout.write(`${text}\n`);
    const reply = parseReply(text);
    // thrown rather than set as process.exitCode, which the entry point overwrites with
    // the action's result
    if (!reply.ok)
      throw new CliError(
        reply.error ? `${reply.error.code}: ${reply.error.message}` : `the gateway refused the command`,
      );
  });
}

/** The reply of `sentinel.cmd.<entity_id>` (CONTRACT.md §3). */
const ReplySchema = z.object({
  ok: z.boolean(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
});

function parseReply(text: string): z.output<typeof ReplySchema> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new CliError(`the gateway's reply is not JSON: ${text.slice(0, 200)}`, { cause: error });
  }
  const reply = ReplySchema.safeParse(json);
  if (!reply.success) throw new CliError(`the gateway's reply is not a command reply: ${text.slice(0, 200)}`);
  return reply.data;
}
