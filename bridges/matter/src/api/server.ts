// The matter server's WebSocket API over a MatterController: ServerInfo on connect, one
// answer per command, and events for every client that called start_listening.
import type { AddressInfo } from 'node:net';
import { version as matterJsVersion } from '@matter/main';
import { parseMatterJson, stringifyMatterJson } from '@sentinel/protocol';
import { type WebSocket, WebSocketServer } from 'ws';
import { parseAttributePath } from '../controller/attributes.js';
import type { ControllerEvents, MatterController } from '../controller/controller.js';
import { DEFAULT_CREDENTIAL_ID } from '../controller/network-credentials.js';
import { ErrorCode, MatterServerError } from '../errors.js';
import {
  type ArgsOf,
  CommandArgs,
  type CommandName,
  Envelope,
  isCommandName,
  MIN_SUPPORTED_SCHEMA_VERSION,
  SCHEMA_VERSION,
  type ServerInfo,
} from './messages.js';

export interface WebSocketServerOptions {
  readonly controller: MatterController;
  readonly host?: string;
  /** 0 picks a free port */
  readonly port?: number;
  readonly path?: string;
}

export interface MatterWebSocketServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Matter's operational UDP port, where commission_on_network looks at a given ip_addr. */
const MATTER_PORT = 5540;

type Handler<C extends CommandName> = (args: ArgsOf<C>, client: Client) => Promise<unknown> | unknown;

interface Client {
  readonly socket: WebSocket;
  listening: boolean;
}

export async function startMatterWebSocketServer(
  options: WebSocketServerOptions,
): Promise<MatterWebSocketServer> {
  const { controller } = options;
  const path = options.path ?? '/ws';
  // a command is a few hundred bytes; a megabyte is generous and bounds what one client can make us buffer
  const wss = new WebSocketServer({
    host: options.host ?? '127.0.0.1',
    port: options.port ?? 5580,
    path,
    maxPayload: 1 << 20,
  });
  await new Promise<void>((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', reject);
  });
  const clients = new Set<Client>();

  const serverInfo = (): ServerInfo => {
    // the SSID only: the passphrase and the Thread dataset never leave the controller
    const ssid = controller.wifiSsid;
    return {
      fabric_id: controller.fabricId,
      compressed_fabric_id: controller.compressedFabricId,
      fabric_index: controller.fabricIndex,
      schema_version: SCHEMA_VERSION,
      min_supported_schema_version: MIN_SUPPORTED_SCHEMA_VERSION,
      sdk_version: `sentinel-matter (matter.js/${matterJsVersion})`,
      wifi_credentials_set: ssid !== undefined,
      ...(ssid !== undefined ? { wifi_ssid: ssid } : {}),
      thread_credentials_set: controller.threadCredentialsSet,
      bluetooth_enabled: false,
    };
  };
  const pathOf = (text: string) => {
    const path = parseAttributePath(text);
    if (path === undefined)
      throw new MatterServerError(
        ErrorCode.InvalidArguments,
        `Invalid attribute path ${text}: write endpoint/cluster/attribute with numbers or *`,
      );
    return path;
  };

  const handlers: { [C in CommandName]: Handler<C> } = {
    server_info: () => serverInfo(),
    start_listening: (_args, client) => {
      client.listening = true;
      return controller.nodes();
    },
    get_nodes: (args) => controller.nodes().filter((node) => !args.only_available || node.available),
    get_node: (args) => controller.node(args.node_id),
    commission_with_code: (args) => {
      if ((args.ip_addr === undefined) !== (args.port === undefined)) {
        throw new MatterServerError(ErrorCode.InvalidArguments, 'ip_addr and port go together');
      }
      const address = args.ip_addr && args.port ? { ip: args.ip_addr, port: args.port } : undefined;
      return controller.commission(args.code, address);
    },
    device_command: (args) =>
      controller.invoke(args.node_id, args.endpoint_id, args.cluster_id, args.command_name, args.payload),
    read_attribute: (args) => {
      const texts = Array.isArray(args.attribute_path) ? args.attribute_path : [args.attribute_path];
      return controller.read(args.node_id, texts.map(pathOf));
    },
    write_attribute: (args) => {
      const { endpoint, cluster, attribute } = pathOf(args.attribute_path);
      if (endpoint === undefined || cluster === undefined || attribute === undefined)
        throw new MatterServerError(
          ErrorCode.InvalidArguments,
          'write_attribute does not support wildcards in attribute path',
        );
      return controller.write(args.node_id, endpoint, cluster, attribute, args.value);
    },
    commission_on_network: (args) => {
      const filter = args.filter ?? undefined;
      const type = args.filter_type ?? 0;
      if (type >= 1 && type <= 3 && filter === undefined)
        throw new MatterServerError(ErrorCode.InvalidArguments, `filter required for filter_type ${type}`);
      if (type === 1 && filter !== undefined && filter > 15)
        throw new MatterServerError(ErrorCode.InvalidArguments, 'a short discriminator is 0…15');
      if (type === 2 && filter !== undefined && filter > 4095)
        throw new MatterServerError(ErrorCode.InvalidArguments, 'a long discriminator is 0…4095');
      const target = {
        passcode: args.setup_pin_code,
        ...(type === 1 ? { shortDiscriminator: filter } : {}),
        ...(type === 2 ? { discriminator: filter } : {}),
        ...(type === 3 ? { vendorId: filter } : {}),
      };
      // as the matter server: a link-local address (from a phone) is no use, discover instead
      const ip = args.ip_addr && !args.ip_addr.toLowerCase().startsWith('fe80') ? args.ip_addr : undefined;
      return controller.commissionTarget(target, ip ? { ip, port: args.port ?? MATTER_PORT } : undefined);
    },
    open_commissioning_window: (args) =>
      controller.openCommissioningWindow(args.node_id, args.timeout, args.discriminator),
    interview_node: async (args) => {
      await controller.interview(args.node_id);
      return null;
    },
    get_node_ip_addresses: (args) => {
      const addresses = controller.ipAddresses(args.node_id);
      return args.scoped ? addresses : addresses.map((ip) => ip.split('%')[0] as string);
    },
    // kept durably for the devices commissioned from now on; answered once stored
    set_wifi_credentials: async (args) => {
      await controller.setWifiCredentials(args.id ?? DEFAULT_CREDENTIAL_ID, args);
      return {};
    },
    set_thread_dataset: async (args) => {
      await controller.setThreadDataset(args.id ?? DEFAULT_CREDENTIAL_ID, args.dataset);
      return {};
    },
    get_vendor_names: (args) => controller.vendorNames(args.filter_vendors ?? undefined),
    diagnostics: () => ({ info: serverInfo(), nodes: controller.nodes(), events: controller.eventHistory() }),
    remove_node: async (args) => {
      await controller.remove(args.node_id);
      return null;
    },
    ping_node: (args) => controller.ping(args.node_id),
  };

  const send = (client: Client, message: unknown) => {
    if (client.socket.readyState === client.socket.OPEN) client.socket.send(stringifyMatterJson(message));
  };

  const broadcast = (event: string, data: unknown) => {
    for (const client of clients) if (client.listening) send(client, { event, data });
  };
  const forward: { [E in keyof ControllerEvents]: (...args: ControllerEvents[E]) => void } = {
    node_added: (node) => broadcast('node_added', node),
    node_updated: (node) => broadcast('node_updated', node),
    node_removed: (nodeId) => broadcast('node_removed', nodeId),
    attribute_updated: (nodeId, path, value) => broadcast('attribute_updated', [nodeId, path, value]),
    node_event: (event) => broadcast('node_event', event),
    endpoint_added: (nodeId, endpointId) =>
      broadcast('endpoint_added', { node_id: nodeId, endpoint_id: endpointId }),
    endpoint_removed: (nodeId, endpointId) =>
      broadcast('endpoint_removed', { node_id: nodeId, endpoint_id: endpointId }),
  };
  for (const [event, listener] of Object.entries(forward)) controller.on(event as never, listener as never);

  const dispatch = async (client: Client, text: string) => {
    let messageId: unknown;
    try {
      let raw: unknown;
      try {
        raw = parseMatterJson(text);
      } catch {
        throw new MatterServerError(ErrorCode.InvalidArguments, 'Message is not JSON');
      }
      messageId = (raw as { message_id?: unknown } | null)?.message_id;
      const envelope = Envelope.safeParse(raw);
      if (!envelope.success) {
        throw new MatterServerError(ErrorCode.InvalidArguments, `Invalid message: ${envelope.error.message}`);
      }
      const { command, args } = envelope.data;
      if (!isCommandName(command))
        throw new MatterServerError(ErrorCode.InvalidCommand, `Unknown command: ${command}`);
      const parsed = CommandArgs[command].safeParse(args ?? {});
      if (!parsed.success) {
        throw new MatterServerError(
          ErrorCode.InvalidArguments,
          `Invalid arguments for ${command}: ${parsed.error.message}`,
        );
      }
      const result = await (handlers[command] as Handler<CommandName>)(parsed.data as never, client);
      send(client, { message_id: messageId, result: result ?? null });
    } catch (error) {
      const code = error instanceof MatterServerError ? error.code : ErrorCode.UnknownError;
      const details = error instanceof Error ? error.message : String(error);
      send(client, { message_id: typeof messageId === 'string' ? messageId : '', error_code: code, details });
    }
  };

  wss.on('connection', (socket) => {
    const client: Client = { socket, listening: false };
    clients.add(client);
    socket.on('message', (data, isBinary) => {
      void dispatch(client, isBinary ? '' : data.toString());
    });
    socket.on('close', () => clients.delete(client));
    send(client, serverInfo());
  });

  const { port } = wss.address() as AddressInfo;
  const host = options.host ?? '127.0.0.1';
  return {
    url: `ws://${host.includes(':') ? `[${host}]` : host}:${port}${path}`,
    port,
    async close() {
      for (const [event, listener] of Object.entries(forward))
        controller.off(event as never, listener as never);
      // every client hears why the connection ends (listening or not), as from the matter server
      await Promise.all(
        [...clients].map(
          (client) =>
            new Promise<void>((resolve) => {
              if (client.socket.readyState !== client.socket.OPEN) return resolve();
              client.socket.send(stringifyMatterJson({ event: 'server_shutdown', data: {} }), () => {
                client.socket.close();
                resolve();
              });
            }),
        ),
      );
      for (const client of clients) client.socket.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
