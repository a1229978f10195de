// `sentinel matter pair|list|remove`: Matter nodes through the matter server's WebSocket
// API (our bridge, `sentinel matter-server`, or an external matterjs-server), the same
// API the gateway's Matter adapter listens to: a node paired here appears in the gateway
// as the device `matter-<node id>` (docs/matter.md, "The gateway's adapter").
import { matterDeviceInfo, matterEntities } from '@sentinel/devices';
import {
  MatterApiClient,
  MatterApiError,
  MatterConnectionError,
  stringifyMatterJson,
} from '@sentinel/gateway';
import { type Command, Option } from 'commander';
import { CliError, UsageError } from '../errors.js';

const DEFAULT_URL = 'ws://127.0.0.1:5580/ws';

interface Flags {
  url?: string;
  timeout: number;
}

const line = (value: unknown) => process.stdout.write(`${stringifyMatterJson(value)}\n`);

function withServerOptions(command: Command): Command {
  return command
    .addOption(
      new Option(
        '--url <ws url>',
        `the matter server's API (default: the first of $SENTINEL_MATTER_URL, else ${DEFAULT_URL})`,
      ),
    )
    .addOption(
      new Option('--timeout <seconds>', 'how long to wait for the server and the device')
        .default(60)
        .argParser((text) => {
          const seconds = Number(text);
          if (!Number.isFinite(seconds) || seconds <= 0)
            throw new UsageError(`--timeout: not a number of seconds: ${text}`);
          return seconds;
        }),
    );
}

function serverUrl(flags: Flags): string {
  const url = flags.url ?? process.env.SENTINEL_MATTER_URL?.split(',')[0]?.trim() ?? DEFAULT_URL;
  if (!URL.canParse(url) || !/^wss?:$/.test(new URL(url).protocol))
    throw new UsageError(`--url: use a ws:// or wss:// URL, not ${url}`);
  return url;
}

/** Connects, runs `work`, closes; the server's errors become one line and exit code 1. */
async function withServer<T>(flags: Flags, work: (client: MatterApiClient) => Promise<T>): Promise<T> {
  const url = serverUrl(flags);
  let client: MatterApiClient;
  try {
    client = await MatterApiClient.connect(url, { connectTimeoutMs: Math.min(flags.timeout, 10) * 1000 });
  } catch (error) {
    throw new CliError(
      `${(error as Error).message} (is \`sentinel matter-server\` running there? --url or SENTINEL_MATTER_URL point elsewhere)`,
      { cause: error },
    );
  }
  try {
    return await work(client);
  } catch (error) {
    if (error instanceof MatterApiError || error instanceof MatterConnectionError)
      throw new CliError(error.message, { cause: error });
    throw error;
  } finally {
    client.close();
  }
}

const NodeId = (text: string): bigint => {
  if (!/^\d{1,20}$/.test(text) || BigInt(text) >= 2n ** 64n)
    throw new UsageError(`not a Matter node id: ${text}`);
  return BigInt(text);
};

/** A node as the CLI prints it: ids, what Basic Information says, the entity keys the gateway makes of it. */
function summary(raw: unknown): Record<string, unknown> {
  const node = raw as { node_id: bigint | number; available?: boolean; attributes?: Record<string, unknown> };
  const attributes = node.attributes ?? {};
  return {
    node_id: node.node_id,
    device_id: `matter-${BigInt(node.node_id)}`,
    available: node.available,
    ...matterDeviceInfo(attributes, `Matter node ${node.node_id}`),
    entities: matterEntities(attributes).map((e) => e.key),
  };
}

export function registerMatterCommands(program: Command): void {
  const matter = program
    .command('matter')
    .description('Matter nodes through the matter server API: pair, list, remove');

  withServerOptions(
    matter
      .command('pair')
      .description('commission a device by its setup code; prints the new node as JSON')
      .argument('<code>', 'the manual pairing code (11 or 21 digits) or the QR payload (MT:…)')
      .option('--ip <address>', 'where the device is, when mDNS cannot find it (needs --port)')
      .option('--port <n>', "the device's Matter UDP port (with --ip)"),
  ).action(async (code: string, flags: Flags & { ip?: string; port?: string }) => {
    if ((flags.ip === undefined) !== (flags.port === undefined))
      throw new UsageError('--ip and --port go together');
    const port = flags.port === undefined ? undefined : Number(flags.port);
    if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536))
      throw new UsageError(`--port: not a UDP port: ${flags.port}`);
    await withServer(flags, async (client) => {
      if (process.stderr.isTTY) process.stderr.write(`commissioning through ${client.url}…\n`);
      const node = await client.request(
        'commission_with_code',
        { code, ...(flags.ip ? { ip_addr: flags.ip, port } : {}) },
        flags.timeout * 1000,
      );
      line(summary(node));
    });
  });

  withServerOptions(matter.command('list').description('list the paired nodes, one JSON line each')).action(
    async (flags: Flags) => {
      await withServer(flags, async (client) => {
        const nodes = await client.request<unknown[]>('get_nodes', {}, flags.timeout * 1000);
        for (const node of nodes) line(summary(node));
      });
    },
  );

  withServerOptions(
    matter
      .command('remove')
      .description(
        'remove a node from the fabric (the device is factory-fresh for us); prints {"node_id","removed"}',
      )
      .argument('<node id>', 'the node id (the number in matter-<node id>)', NodeId),
  ).action(async (nodeId: bigint, flags: Flags) => {
    await withServer(flags, async (client) => {
      await client.request('remove_node', { node_id: nodeId }, flags.timeout * 1000);
      line({ node_id: nodeId, device_id: `matter-${nodeId}`, removed: true });
    });
  });
}
