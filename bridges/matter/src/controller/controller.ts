// The Matter controller: a matter.js ServerNode with the controller behavior, which
// commissions devices into its fabric and keeps a subscription to each one. It speaks in
// the matter server's terms (node ids, "endpoint/cluster/attribute" paths, error codes) so
// the WebSocket API on top of it stays a thin translation.
import { EventEmitter } from 'node:events';
import {
  type ClientNode,
  ControllerBehavior,
  type Endpoint,
  Logger,
  LogLevel,
  Seconds,
  ServerNode,
} from '@matter/main';
import { BasicInformation } from '@matter/main/clusters/basic-information';
import { FabricAuthority, PeerSet, Read } from '@matter/main/protocol';
import { EndpointNumber, ManualPairingCodeCodec, QrPairingCodeCodec } from '@matter/main/types';
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
import type { NodeStorage } from './storage.js';
import { attributeModel, toTagBased } from './wire-values.js';

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

export interface ControllerEvents {
  node_added: [node: MatterNodeData];
  node_updated: [node: MatterNodeData];
  node_removed: [nodeId: bigint];
  attribute_updated: [nodeId: bigint, path: string, value: unknown];
}

const INTERVIEW_VERSION = 6;
const AGGREGATOR_DEVICE_TYPE = 0x000e;

export class MatterController extends EventEmitter<ControllerEvents> {
  readonly #node: ServerNode;
  readonly #fabric: { fabricId: bigint; compressedFabricId: bigint };
  readonly #unwatch = new Map<ClientNode, Array<() => void>>();
  readonly #commissionTimeout: ReturnType<typeof Seconds>;
  #commissioning: Promise<unknown> = Promise.resolve();

  private constructor(
    node: ServerNode,
    fabric: { fabricId: bigint; compressedFabricId: bigint },
    commissionTimeoutMs: number,
  ) {
    super();
    this.#commissionTimeout = Seconds(commissionTimeoutMs / 1000);
    this.#node = node;
    this.#fabric = fabric;
  }

  static async start(options: ControllerOptions): Promise<MatterController> {
    Logger.level = LogLevel(options.logLevel ?? 'warn');
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
      node,
      { fabricId: BigInt(fabric.fabricId), compressedFabricId: BigInt(fabric.globalId) },
      options.commissionTimeoutMs ?? 20_000,
    );
    for (const peer of controller.#commissionedPeers()) controller.#watch(peer);
    return controller;
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
    const run = this.#commissioning.then(() => this.#commission(code, address));
    this.#commissioning = run.catch(() => undefined);
    return run;
  }

  async #commission(code: string, address?: KnownAddress): Promise<MatterNodeData> {
    const { passcode, discriminator, shortDiscriminator } = decodeSetupCode(code);
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
        await peer.commission({ passcode, discriminator, timeout: this.#commissionTimeout });
      } else {
        peer = await this.#node.peers.commission({
          passcode,
          // without a discriminator, the first device with this passcode would be paired
          ...(discriminator === undefined ? { shortDiscriminator } : { longDiscriminator: discriminator }),
          timeout: this.#commissionTimeout,
        });
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
    this.#watch(peer);
    const data = this.#describe(peer);
    this.emit('node_added', data);
    return data;
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
    for (const peer of [...this.#unwatch.keys()]) this.#unwatchPeer(peer);
    await this.#node.close();
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
    const date = new Date(commissionedAt ?? Date.now()).toISOString();
    const isBridge = Object.entries(attributes).some(
      ([key, value]) =>
        key.endsWith('/29/0') &&
        Array.isArray(value) &&
        value.some((d) => (d as { deviceType?: number }).deviceType === AGGREGATOR_DEVICE_TYPE),
    );
    return {
      node_id: BigInt(peer.peerAddress?.nodeId ?? 0),
      date_commissioned: date,
      last_interview: date,
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
    for (const endpoint of endpointsOf(peer)) {
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
    }
    const availability = () => {
      this.emit('node_updated', this.#describe(peer));
    };
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

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
