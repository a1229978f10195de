// The Matter controller: a matter.js ServerNode with the controller behavior, which
// commissions devices into its fabric and keeps a subscription to each one. It speaks in
// the matter server's terms (node ids, "endpoint/cluster/attribute" paths, error codes) so
// the WebSocket API on top of it stays a thin translation.
import { EventEmitter } from 'node:events';
import {
  type ClientNode,
  ControllerBehavior,
  Crypto,
  type Endpoint,
  Logger,
  LogLevel,
  Seconds,
  ServerNode,
} from '@matter/main';
import { AdministratorCommissioning } from '@matter/main/clusters/administrator-commissioning';
import { BasicInformation } from '@matter/main/clusters/basic-information';
import { ChangeNotificationService, ClientCacheBuffer, ServerNodeStore } from '@matter/main/node';
import { FabricAuthority, Invoke, PaseClient, PeerSet, Read, Write } from '@matter/main/protocol';
import {
  CommissioningFlowType,
  EndpointNumber,
  ManualPairingCodeCodec,
  QrPairingCodeCodec,
  VendorId,
} from '@matter/main/types';
import { ErrorCode, MatterServerError } from '../errors.js';
import {
  type AttributePath,
  clustersOf,
  formatAttributePath,
  matchesPath,
  toWireValue,
} from './attributes.js';
import { isolatedEnvironment } from './environment.js';
import { freeUdpPort } from './free-port.js';
import { NetworkCredentials, type WifiCredentials } from './network-credentials.js';
import type { NodeStorage } from './storage.js';
import { attributeModel, fromTagBased, toTagBased } from './wire-values.js';

export interface ControllerOptions {
  readonly storage: NodeStorage;
  /** keep mDNS on loopback: devices are then reached only by the address given to commission() */
  readonly loopbackOnly?: boolean;
  /** the controller's own UDP port; a free one when omitted */
  readonly port?: number;
  readonly fabricLabel?: string;
  readonly logLevel?: 'debug' | 'info' | 'notice' | 'warn' | 'error';
  /** how long to look for and reach a device to commission (default 20 s) */
  readonly commissionTimeoutMs?: number;
}

/** Where a device can be reached without mDNS. */
export interface KnownAddress {
  readonly ip: string;
  readonly port: number;
}

/** A node as the matter server's API describes it (MatterNodeData). */
export interface MatterNodeData {
  node_id: bigint;
  date_commissioned: string;
  last_interview: string;
  interview_version: number;
  available: boolean;
  is_bridge: boolean;
  attributes: Record<string, unknown>;
  attribute_subscriptions: [];
}

/** A Matter event a node reported (MatterNodeEvent of the matter server). */
export interface MatterNodeEvent {
  node_id: bigint;
  endpoint_id: number;
  cluster_id: number;
  event_id: number;
  event_number: bigint;
  priority: number;
  timestamp: bigint;
  /** 0 system time (ms since boot), 1 epoch (ms) */
  timestamp_type: number;
  data: Record<string, unknown> | null;
}

/** What a discovery for commissioning looks for: the setup code's identifying parts. */
export interface CommissioningTarget {
  passcode: number;
  discriminator?: number;
  shortDiscriminator?: number;
  vendorId?: number;
}

export interface ControllerEvents {
  node_added: [node: MatterNodeData];
  node_updated: [node: MatterNodeData];
  node_removed: [nodeId: bigint];
  attribute_updated: [nodeId: bigint, path: string, value: unknown];
  node_event: [event: MatterNodeEvent];
  endpoint_added: [nodeId: bigint, endpointId: number];
  endpoint_removed: [nodeId: bigint, endpointId: number];
}

/** The matter server's node events kept for `diagnostics` (it keeps a short history too). */
const EVENT_HISTORY = 25;
/** Window a node opens for another controller with open_commissioning_window (s). */
const DEFAULT_WINDOW_S = 300;
const PBKDF_ITERATIONS = 1000;

const INTERVIEW_VERSION = 6;
const AGGREGATOR_DEVICE_TYPE = 0x000e;

export class MatterController extends EventEmitter<ControllerEvents> {
  readonly #node: ServerNode;
  readonly #fabric: { fabricId: bigint; compressedFabricId: bigint };
  readonly #unwatch = new Map<ClientNode, Array<() => void>>();
  readonly #commissionTimeout: ReturnType<typeof Seconds>;
  readonly #commissionTimeoutMs: number;
  readonly #interviews = new Map<ClientNode, Date>();
  readonly #events: MatterNodeEvent[] = [];
  #stopChanges: (() => void) | undefined;
  #commissioning: Promise<unknown> = Promise.resolve();
  // assigned in start(), before anyone can use the controller
  #networks!: NetworkCredentials;

  private constructor(
    private readonly storage: NodeStorage,
    node: ServerNode,
    fabric: { fabricId: bigint; compressedFabricId: bigint },
    commissionTimeoutMs: number,
  ) {
    super();
    this.#commissionTimeout = Seconds(commissionTimeoutMs / 1000);
    this.#commissionTimeoutMs = commissionTimeoutMs;
    this.#node = node;
    this.#fabric = fabric;
  }

  static async start(options: ControllerOptions): Promise<MatterController> {
    const level = LogLevel(options.logLevel ?? 'warn');
    Logger.level = level;
    // at debug, matter.js's commissioner logs its whole options: the Wi-Fi passphrase and the
    // Thread dataset with them. Secrets stay out of logs, so that facility logs info at most
    Logger.facilityLevels = {
      ...Logger.facilityLevels,
      ControllerCommissioner: Math.max(level, LogLevel.INFO) as LogLevel,
    };
    const id = 'sentinel-controller';
    const node = await ServerNode.create(ServerNode.RootEndpoint.with(ControllerBehavior), {
      id,
      environment: isolatedEnvironment(id, options),
      network: {
        port: options.port ?? (await freeUdpPort()),
        // outgoing only: the controller answers no commissioning and serves no clusters
        listeningAddressIpv4: options.loopbackOnly ? '127.0.0.1' : undefined,
        listeningAddressIpv6: options.loopbackOnly ? '::1' : undefined,
      },
      commissioning: { enabled: false },
      controller: {
        adminFabricLabel: options.fabricLabel ?? 'Sentinel Edge',
        ...(options.loopbackOnly ? { ip: false } : {}),
        ble: false,
      },
    });
    await node.start();
    // the fabric exists from the first start, so ServerInfo has ids before any pairing
    await node.act((agent) => agent.load(ControllerBehavior));
    const config = await node.act((agent) => agent.get(ControllerBehavior).fabricAuthorityConfig);
    const fabric = await node.env.get(FabricAuthority).defaultFabric(config);
    const controller = new MatterController(
      options.storage,
      node,
      { fabricId: BigInt(fabric.fabricId), compressedFabricId: BigInt(fabric.globalId) },
      options.commissionTimeoutMs ?? 20_000,
    );
    // network credentials live in the node's own storage (context `sentinel`), beside the fabric
    const context = node.env.get(ServerNodeStore).storage.createContext('sentinel').createContext('network');
    controller.#networks = await NetworkCredentials.load(context, () => controller.#persist());
    for (const peer of controller.#commissionedPeers()) controller.#watch(peer);
    controller.#listenForChanges();
    return controller;
  }

  /** Our fabric's index on this controller (1: the only one). */
  get fabricIndex(): number {
    return 1;
  }

  /** The default Wi-Fi network's SSID once set_wifi_credentials gave one (never the passphrase). */
  get wifiSsid(): string | undefined {
    return this.#networks.wifiSsid;
  }

  get threadCredentialsSet(): boolean {
    return this.#networks.threadSet;
  }

  /**
   * Keeps Wi-Fi credentials (in storage, so a restart or another node has them) for devices
   * commissioned from now on that join by Wi-Fi; `id` as the matter server, the default one
   * is used for commissioning. Resolves once they are durable.
   */
  setWifiCredentials(id: string, wifi: WifiCredentials): Promise<void> {
    return this.#networks.setWifi(id, wifi);
  }

  /** setWifiCredentials() for a Thread operational dataset (hex TLVs). */
  setThreadDataset(id: string, dataset: string): Promise<void> {
    return this.#networks.setThread(id, dataset);
  }

  /** The last node events (newest last), for `diagnostics`. */
  eventHistory(): MatterNodeEvent[] {
    return [...this.#events];
  }

  get fabricId(): bigint {
    return this.#fabric.fabricId;
  }

  get compressedFabricId(): bigint {
    return this.#fabric.compressedFabricId;
  }

  nodes(): MatterNodeData[] {
    return this.#commissionedPeers().map((peer) => this.#describe(peer));
  }

  node(nodeId: bigint): MatterNodeData {
    return this.#describe(this.#peer(nodeId));
  }

  /**
   * Commissions the device behind a manual pairing code or a QR payload ("MT:…"). With a
   * known address the device is contacted there (no mDNS); otherwise it is discovered.
   * One commissioning at a time: a second call waits for the first.
   */
  commission(code: string, address?: KnownAddress): Promise<MatterNodeData> {
    return this.commissionTarget(decodeSetupCode(code), address);
  }

  /** commission() for what commission_on_network gives: a passcode and a discovery filter. */
  commissionTarget(target: CommissioningTarget, address?: KnownAddress): Promise<MatterNodeData> {
    const run = this.#commissioning.then(() => this.#commission(target, address));
    this.#commissioning = run.catch(() => undefined);
    return run;
  }

  async #commission(target: CommissioningTarget, address?: KnownAddress): Promise<MatterNodeData> {
    const { passcode, discriminator, shortDiscriminator, vendorId } = target;
    // a Wi-Fi or Thread device is given the network; matter.js skips this for one already on it
    const networks = this.#networks.commissioningNetworks();
    let peer: ClientNode | undefined;
    // matter.js reconnects over CASE after commissioning (step 18) and finds the device by
    // mDNS; seed the peer it creates with the known address so that works without mDNS
    const peers = this.#node.env.get(PeerSet);
    const seed = (added: { descriptor: { operationalAddress?: unknown } }) => {
      if (address && added.descriptor.operationalAddress === undefined) {
        added.descriptor.operationalAddress = { type: 'udp', ip: address.ip, port: address.port };
      }
    };
    peers.added.on(seed);
    try {
      if (address) {
        peer = await this.#node.peers.forDescriptor({
          addresses: [{ type: 'udp', ip: address.ip, port: address.port }],
        });
        // matter.js's timeout bounds PASE setup, but an exchange with a device that stopped
        // answering mid-way runs on until its retransmissions give up (~14 s): the deadline
        // answers the client on time, and a late success is undone so no node is left over
        const deadline = AbortSignal.timeout(this.#commissionTimeoutMs);
        const attempt = peer.commission({
          passcode,
          discriminator,
          ...networks,
          timeout: this.#commissionTimeout,
          abort: deadline,
        });
        const late = peer;
        await untilAborted(attempt, deadline, () => {
          attempt.then(
            () => late.decommission().catch(() => late.delete()),
            () => {},
          );
        });
      } else {
        // without a discriminator, the first device with this passcode would be paired
        const filter =
          discriminator !== undefined
            ? { longDiscriminator: discriminator }
            : shortDiscriminator !== undefined
              ? { shortDiscriminator }
              : vendorId !== undefined
                ? { vendorId: VendorId(vendorId), productId: 0 }
                : {};
        peer = await this.#node.peers.commission({
          passcode,
          ...filter,
          ...networks,
          timeout: this.#commissionTimeout,
          abort: AbortSignal.timeout(this.#commissionTimeoutMs),
        } as never);
      }
    } catch (error) {
      // leave no half-commissioned node behind
      if (peer !== undefined && peer.peerAddress === undefined) await peer.delete().catch(() => {});
      throw new MatterServerError(
        ErrorCode.NodeCommissionFailed,
        `Commissioning failed: ${messageOf(error)}`,
        {
          cause: error,
        },
      );
    } finally {
      peers.added.off(seed);
    }
    this.#interviews.set(peer, new Date());
    this.#watch(peer);
    // answer once the pairing is durable: a controller taking over must find it whole
    await this.#persist();
    const data = this.#describe(peer);
    this.emit('node_added', data);
    return data;
  }

  /**
   * Writes one attribute on the device. The value comes as the matter server writes it
   * (tag-based: structs keyed by field id); the device's status comes back, 0 = success.
   */
  async write(
    nodeId: bigint,
    endpointId: number,
    clusterId: number,
    attributeId: number,
    value: unknown,
  ): Promise<
    Array<{ Path: { EndpointId: number; ClusterId: number; AttributeId: number }; Status: number }>
  > {
    const peer = this.#peer(nodeId);
    const endpoint = endpointOf(peer, endpointId);
    const cluster = clustersOf(endpoint).find((c) => c.clusterId === clusterId);
    const name = [...(cluster?.attributes ?? [])].find(([, id]) => id === attributeId)?.[0];
    if (cluster === undefined || name === undefined) {
      throw new MatterServerError(
        ErrorCode.InvalidArguments,
        `Attribute ${attributeId} on cluster ${clusterId} unknown on node ${nodeId} endpoint ${endpointId}`,
      );
    }
    const model = attributeModel(clusterId, attributeId);
    let statuses: Array<{ status?: number }>;
    try {
      statuses = await peer.interaction.write(
        Write(
          Write.Attribute({
            endpoint: EndpointNumber(endpointId),
            cluster: (cluster.type as { cluster: never }).cluster,
            attributes: name as never,
            value: fromTagBased(value, model),
          }),
        ),
      );
    } catch (error) {
      throw new MatterServerError(ErrorCode.SDKStackError, `Write failed: ${messageOf(error)}`, {
        cause: error,
      });
    }
    return [
      {
        Path: { EndpointId: endpointId, ClusterId: clusterId, AttributeId: attributeId },
        Status: statuses.find((s) => s.status !== undefined)?.status ?? 0,
      },
    ];
  }

  /** Reads every attribute from the device again (the cache follows) and reports the node. */
  async interview(nodeId: bigint): Promise<void> {
    const peer = this.#peer(nodeId);
    try {
      for await (const chunk of peer.interaction.read(Read(Read.Attribute({})))) for await (const _ of chunk);
    } catch (error) {
      throw new MatterServerError(
        ErrorCode.NodeInterviewFailed,
        `Interview of node ${nodeId} failed: ${messageOf(error)}`,
        { cause: error },
      );
    }
    this.#interviews.set(peer, new Date());
    this.emit('node_updated', this.#describe(peer));
  }

  /** Where the node is reachable: its operational addresses, the current session's first. */
  ipAddresses(nodeId: bigint): string[] {
    const peer = this.#peer(nodeId);
    const seen = new Set<string>();
    for (const a of peer.state.commissioning.addresses ?? []) if ('ip' in a) seen.add(String(a.ip));
    return [...seen];
  }

  /**
   * Opens an enhanced commissioning window on the node (a new random passcode), so another
   * controller (another ecosystem) can pair it too. Returns the codes to give that controller.
   */
  async openCommissioningWindow(
    nodeId: bigint,
    timeoutS = DEFAULT_WINDOW_S,
    discriminatorWanted?: number | null,
  ): Promise<{ setup_pin_code: number; setup_manual_code: string; setup_qr_code: string }> {
    const peer = this.#peer(nodeId);
    const crypto = this.#node.env.get(Crypto);
    const passcode = PaseClient.generateRandomPasscode(crypto);
    const discriminator = discriminatorWanted ?? PaseClient.generateRandomDiscriminator(crypto);
    const salt = crypto.randomBytes(32);
    const verifier = await PaseClient.generatePakePasscodeVerifier(crypto, passcode, {
      iterations: PBKDF_ITERATIONS,
      salt,
    });
    try {
      const invoke = Invoke({
        commands: [
          Invoke.ConcreteCommandRequest({
            endpoint: EndpointNumber(0),
            cluster: AdministratorCommissioning.Complete,
            command: 'openCommissioningWindow',
            fields: {
              commissioningTimeout: timeoutS,
              pakePasscodeVerifier: verifier,
              discriminator,
              iterations: PBKDF_ITERATIONS,
              salt,
            },
          } as never),
        ],
        timed: true,
        timeout: Seconds(10),
      });
      for await (const chunk of peer.interaction.invoke(invoke)) {
        for (const entry of chunk as Iterable<{ kind: string; status?: number }>) {
          if (entry.kind === 'cmd-status' && entry.status !== 0)
            throw new Error(`the node answered status ${entry.status}`);
        }
      }
    } catch (error) {
      throw new MatterServerError(
        ErrorCode.SDKStackError,
        `Opening a commissioning window on node ${nodeId} failed: ${messageOf(error)}`,
        { cause: error },
      );
    }
    const basic = (peer.state as { basicInformation?: { vendorId?: number; productId?: number } })
      .basicInformation;
    const vendorId = VendorId(basic?.vendorId ?? 0);
    const productId = basic?.productId ?? 0;
    return {
      setup_pin_code: passcode,
      setup_manual_code: ManualPairingCodeCodec.encode({ discriminator, passcode }),
      setup_qr_code: QrPairingCodeCodec.encode([
        {
          version: 0,
          vendorId,
          productId,
          flowType: CommissioningFlowType.Standard,
          // on the IP network: the node is already on it
          discoveryCapabilities: 1 << 2,
          discriminator,
          passcode,
        },
      ]),
    };
  }

  /**
   * Vendor names, as the nodes themselves report them (Basic Information VendorName for
   * their VendorID); without a filter, every vendor among our nodes.
   */
  vendorNames(filter?: readonly number[]): Record<string, string> {
    const names: Record<string, string> = {};
    for (const peer of this.#commissionedPeers()) {
      const basic = (peer.state as { basicInformation?: { vendorId?: number; vendorName?: string } })
        .basicInformation;
      if (basic?.vendorId === undefined || !basic.vendorName) continue;
      if (filter && filter.length > 0 && !filter.includes(basic.vendorId)) continue;
      names[String(basic.vendorId)] = basic.vendorName;
    }
    return names;
  }

  /** Invokes a cluster command by name ("Toggle" or "toggle"); returns its response, if any. */
  async invoke(
    nodeId: bigint,
    endpointId: number,
    clusterId: number,
    commandName: string,
    payload: unknown,
  ): Promise<unknown> {
    const peer = this.#peer(nodeId);
    const endpoint = endpointOf(peer, endpointId);
    const cluster = clustersOf(endpoint).find((c) => c.clusterId === clusterId);
    const name = commandName.charAt(0).toLowerCase() + commandName.slice(1);
    if (cluster === undefined || !cluster.commands.has(name)) {
      throw new MatterServerError(
        ErrorCode.InvalidArguments,
        `Node ${nodeId} endpoint ${endpointId} has no command ${commandName} in cluster ${clusterId}`,
      );
    }
    const commands = endpoint.commandsOf(cluster.type as never) as Record<
      string,
      (request?: unknown) => Promise<unknown>
    >;
    try {
      const isEmpty = payload === undefined || payload === null || Object.keys(payload).length === 0;
      const response = await (isEmpty ? commands[name]?.() : commands[name]?.(payload));
      return toWireValue(response ?? null);
    } catch (error) {
      throw new MatterServerError(ErrorCode.SDKStackError, `${commandName} failed: ${messageOf(error)}`, {
        cause: error,
      });
    }
  }

  /** The current values (kept up to date by the subscription) at the given paths. */
  read(nodeId: bigint, paths: AttributePath[]): Record<string, unknown> {
    const peer = this.#peer(nodeId);
    const all = this.#attributesOf(peer);
    const result: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(all)) {
      const [e, c, a] = key.split('/').map(Number) as [number, number, number];
      if (paths.some((path) => matchesPath(path, e, c, a))) result[key] = value;
    }
    return result;
  }

  /** Removes the node from our fabric on the device (factory-fresh for us) and forgets it. */
  async remove(nodeId: bigint): Promise<void> {
    const peer = this.#peer(nodeId);
    this.#unwatchPeer(peer);
    try {
      await peer.decommission();
    } catch {
      // the device is unreachable: forget it anyway, as the matter server does
      await peer.delete().catch(() => {});
    }
    await this.#persist();
    this.emit('node_removed', nodeId);
  }

  /** Reads one attribute from the device itself; the result per known address. */
  async ping(nodeId: bigint): Promise<Record<string, boolean>> {
    const peer = this.#peer(nodeId);
    const addresses = (peer.state.commissioning.addresses ?? []).map((a) =>
      'ip' in a ? String(a.ip) : String(a),
    );
    let ok = false;
    try {
      const request = Read(
        Read.Attribute({
          endpoint: EndpointNumber(0),
          cluster: BasicInformation,
          attributes: ['dataModelRevision'],
        }),
      );
      for await (const chunk of peer.interaction.read(request)) for await (const _ of chunk) ok = true;
    } catch {
      ok = false;
    }
    return Object.fromEntries((addresses.length ? addresses : ['unknown']).map((a) => [a, ok]));
  }

  async close(): Promise<void> {
    this.#stopChanges?.();
    for (const peer of [...this.#unwatch.keys()]) this.#unwatchPeer(peer);
    await this.#node.close();
  }

  /**
   * Makes what matter.js holds so far durable: its buffer of node data (written behind on a
   * timer) into the storage, then the storage's own writes (NATS) to the end.
   */
  async #persist(): Promise<void> {
    if (this.#node.env.has(ClientCacheBuffer)) await this.#node.env.get(ClientCacheBuffer).flush();
    await this.storage.flush?.();
  }

  /** Node events and endpoints coming and going, from matter.js's change notifications. */
  #listenForChanges(): void {
    const service = this.#node.env.get(ChangeNotificationService);
    const listener = (change: ChangeNotificationService.Change) => {
      const peer = this.#peerOf(change.endpoint);
      if (peer === undefined) return;
      const nodeId = BigInt(peer.peerAddress?.nodeId ?? 0);
      if (change.kind === 'delete') {
        this.emit('endpoint_removed', nodeId, change.endpoint.number);
        return;
      }
      if (change.kind !== 'event') return;
      const cluster = (change.behavior as { cluster?: { id: number } }).cluster;
      if (cluster === undefined) return;
      const timestamp = BigInt(Math.trunc(Number(change.timestamp)));
      const event: MatterNodeEvent = {
        node_id: nodeId,
        endpoint_id: change.endpoint.number,
        cluster_id: cluster.id,
        event_id: change.event.id,
        event_number: BigInt(change.number),
        priority: Number(change.priority),
        timestamp,
        // matter.js hands over epoch milliseconds
        timestamp_type: 1,
        data: change.payload === undefined ? null : (toWireValue(change.payload) as Record<string, unknown>),
      };
      this.#events.push(event);
      if (this.#events.length > EVENT_HISTORY) this.#events.shift();
      this.emit('node_event', event);
    };
    service.change.on(listener);
    this.#stopChanges = () => service.change.off(listener);
  }

  #peerOf(endpoint: Endpoint): ClientNode | undefined {
    // a peer's endpoints hang below it; the peer itself hangs below our ServerNode
    const peers = new Set<unknown>(this.#commissionedPeers());
    for (let at: Endpoint | undefined = endpoint; at !== undefined; at = at.owner as Endpoint | undefined) {
      if (peers.has(at)) return at as unknown as ClientNode;
    }
    return undefined;
  }

  #commissionedPeers(): ClientNode[] {
    return [...this.#node.peers].filter((peer) => peer.peerAddress !== undefined);
  }

  #peer(nodeId: bigint): ClientNode {
    const peer = this.#commissionedPeers().find((p) => BigInt(p.peerAddress?.nodeId ?? -1) === nodeId);
    if (peer === undefined)
      throw new MatterServerError(ErrorCode.NodeNotExists, `Node ${nodeId} does not exist`);
    return peer;
  }

  #describe(peer: ClientNode): MatterNodeData {
    const attributes = this.#attributesOf(peer);
    const commissionedAt = peer.state.commissioning.commissionedAt;
    const date = matterDate(new Date(commissionedAt ?? Date.now()));
    const interviewed = this.#interviews.get(peer);
    const isBridge = Object.entries(attributes).some(
      ([key, value]) =>
        key.endsWith('/29/0') &&
        Array.isArray(value) &&
        // tag-based: a DeviceTypeStruct is keyed by field id, 0 = deviceType
        value.some((d) => (d as Record<string, unknown> | null)?.['0'] === AGGREGATOR_DEVICE_TYPE),
    );
    return {
      node_id: BigInt(peer.peerAddress?.nodeId ?? 0),
      date_commissioned: date,
      last_interview: interviewed ? matterDate(interviewed) : date,
      interview_version: INTERVIEW_VERSION,
      available: peer.lifecycle.isOnline,
      is_bridge: isBridge,
      attributes,
      attribute_subscriptions: [],
    };
  }

  #attributesOf(peer: ClientNode): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const endpoint of endpointsOf(peer)) {
      const state = endpoint.state as Record<string, Record<string, unknown> | undefined>;
      for (const cluster of clustersOf(endpoint)) {
        const values = state[cluster.behaviorId];
        if (values === undefined) continue;
        for (const [name, id] of cluster.attributes) {
          if (values[name] === undefined) continue;
          out[formatAttributePath(endpoint.number, cluster.clusterId, id)] = toTagBased(
            values[name],
            attributeModel(cluster.clusterId, id),
          );
        }
      }
    }
    return out;
  }

  /** Turns the peer's attribute change events into attribute_updated. */
  #watch(peer: ClientNode): void {
    if (this.#unwatch.has(peer)) return;
    const stops: Array<() => void> = [];
    const nodeId = BigInt(peer.peerAddress?.nodeId ?? 0);
    const watched = new Set<Endpoint>();
    const watchEndpoint = (endpoint: Endpoint) => {
      // once per endpoint: a second listener would report every change twice
      if (watched.has(endpoint)) return;
      watched.add(endpoint);
      const events = endpoint.events as unknown as Record<string, Record<string, unknown> | undefined>;
      for (const cluster of clustersOf(endpoint)) {
        for (const [name, id] of cluster.attributes) {
          const observable = events[cluster.behaviorId]?.[`${name}$Changed`] as
            | { on(listener: (value: unknown) => void): void; off(listener: (value: unknown) => void): void }
            | undefined;
          if (observable === undefined) continue;
          const path = formatAttributePath(endpoint.number, cluster.clusterId, id);
          const model = attributeModel(cluster.clusterId, id);
          const listener = (value: unknown) =>
            this.emit('attribute_updated', nodeId, path, toTagBased(value, model));
          observable.on(listener);
          stops.push(() => observable.off(listener));
        }
      }
    };
    for (const endpoint of endpointsOf(peer)) watchEndpoint(endpoint);
    const availability = () => {
      this.emit('node_updated', this.#describe(peer));
    };
    // a node growing an endpoint (a bridge adding a device) is reported, then described anew,
    // and its attributes are reported from then on like those of the endpoints it came with
    const changed = (type: string, endpoint: Endpoint) => {
      if (type !== 'installed' || endpoint === (peer as unknown)) return;
      watchEndpoint(endpoint);
      this.emit('endpoint_added', nodeId, endpoint.number);
      this.emit('node_updated', this.#describe(peer));
    };
    const lifecycle = (peer as unknown as Endpoint).lifecycle;
    lifecycle.changed.on(changed as never);
    stops.push(() => lifecycle.changed.off(changed as never));
    peer.lifecycle.online.on(availability);
    peer.lifecycle.offline.on(availability);
    stops.push(() => {
      peer.lifecycle.online.off(availability);
      peer.lifecycle.offline.off(availability);
    });
    this.#unwatch.set(peer, stops);
  }

  #unwatchPeer(peer: ClientNode): void {
    for (const stop of this.#unwatch.get(peer) ?? []) stop();
    this.#unwatch.delete(peer);
  }
}

function endpointsOf(peer: ClientNode): Endpoint[] {
  return [...(peer.endpoints as Iterable<Endpoint>)];
}

function endpointOf(peer: ClientNode, endpointId: number): Endpoint {
  const endpoint = endpointsOf(peer).find((e) => e.number === endpointId);
  if (endpoint === undefined) {
    throw new MatterServerError(ErrorCode.InvalidArguments, `Node has no endpoint ${endpointId}`);
  }
  return endpoint;
}

/** Passcode and (long) discriminator from a manual pairing code or a QR payload. */
export function decodeSetupCode(code: string): {
  passcode: number;
  discriminator?: number;
  /** a manual code carries only the top 4 bits of the discriminator */
  shortDiscriminator?: number;
} {
  try {
    if (code.startsWith('MT:')) {
      const [first] = QrPairingCodeCodec.decode(code);
      if (first === undefined) throw new Error('empty QR payload');
      return { passcode: first.passcode, discriminator: first.discriminator };
    }
    const manual = ManualPairingCodeCodec.decode(code.replace(/[\s-]/g, ''));
    return { passcode: manual.passcode, shortDiscriminator: manual.shortDiscriminator };
  } catch (error) {
    throw new MatterServerError(ErrorCode.InvalidArguments, `Invalid setup code: ${messageOf(error)}`);
  }
}

/** `work`, or a rejection once `signal` aborts (then `onAbandon` deals with the rest of `work`). */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal, onAbandon: () => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const abandon = () => {
      onAbandon();
      reject(
        new Error(`no answer within the commissioning timeout (${signal.reason?.message ?? 'aborted'})`),
      );
    };
    if (signal.aborted) return abandon();
    signal.addEventListener('abort', abandon, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', abandon);
        resolve(value);
      },
      (error) => {
        signal.removeEventListener('abort', abandon);
        reject(error);
      },
    );
  });
}

/** Dates as the matter server writes them: local time, microseconds, no zone. */
export function matterDate(date: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return (
    `${date.getFullYear()}-${p(date.getMonth() + 1)}-${p(date.getDate())}T` +
    `${p(date.getHours())}:${p(date.getMinutes())}:${p(date.getSeconds())}.${p(date.getMilliseconds(), 3)}000`
  );
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
