// The Matter adapter (issue 12): a client of the matter server's WebSocket API (our
// bridges/matter or an external matterjs-server). Each Matter node becomes a device
// `matter-<node id>`; its clusters become entities through the mappings in @sentinel/devices;
// attribute_updated becomes sentinel.state.*; sentinel.cmd.* becomes device_command (or
// write_attribute), answered once the device answered. A node is online while the server
// says it is available and we are connected. Runs on the node holding the `matter_adapter`
// lock; reconnects with backoff, trying each configured server in turn.
import { setTimeout as delay } from 'node:timers/promises';
import {
  isStructurePath,
  type MatterAction,
  type MatterEntity,
  matterDeviceInfo,
  matterEntities,
  matterEntityCommand,
  matterEntityValue,
  parseAttributeKey,
} from '@sentinel/devices';
import type { EntityDescription } from '@sentinel/firmware';
import { MatterErrorCode } from '@sentinel/protocol';
import { z } from 'zod';
import { type Logger, ThrottledLog } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { Availability } from '../model/availability.js';
import { isWinningReading } from '../model/bindings.js';
import { type CommandReply, type CommandRequest, failure } from '../model/commands.js';
import type { Binding } from '../model/records.js';
import type { Registry } from '../model/registry.js';
import type { StatePublisher } from '../model/state.js';
import { MatterApiClient, MatterApiError, MatterConnectionError } from './client.js';
import { type MatterMetrics, type MatterRejectReason, matterMetrics } from './metrics.js';

export const MATTER_PROTOCOL = 'matter';

/** `matter-<node id>` (CONTRACT.md §3): the node id in decimal, every digit of its 64 bits. */
export const matterDeviceId = (nodeId: bigint) => `matter-${nodeId}`;

const id64 = z.union([z.number().int().nonnegative(), z.bigint().nonnegative()]).transform((v) => BigInt(v));

/** MatterNodeData, the parts we read. */
const NodeSchema = z.looseObject({
  node_id: id64,
  available: z.boolean(),
  attributes: z.record(z.string(), z.unknown()),
});
type NodeData = z.infer<typeof NodeSchema>;

const AttributeUpdateSchema = z.tuple([id64, z.string(), z.unknown()]);

/** Events of the API we have no use for: not counted as unknown. */
const IGNORED_EVENTS = new Set([
  'node_event',
  'server_shutdown',
  'server_info_updated',
  'attribute_subscriptions_updated',
]);

export interface MatterAdapterOptions {
  /** matter server API URLs; the adapter uses whichever answers, in this order */
  urls: readonly string[];
  registry: Registry;
  state: StatePublisher;
  availability: Availability;
  metrics: Metrics;
  log: Logger;
  /** first retry after a failed or lost connection; doubles up to maxBackoffMs */
  backoffMs?: number;
  maxBackoffMs?: number;
  connectTimeoutMs?: number;
  pingMs?: number;
}

interface TrackedNode {
  nodeId: bigint;
  deviceId: string;
  attributes: Record<string, unknown>;
  available: boolean;
  /** what the device record says (name, model, …) */
  info: ReturnType<typeof matterDeviceInfo>;
  entities: Map<string, MatterEntity>;
  /** attribute path → the entities it feeds */
  byPath: Map<string, MatterEntity[]>;
  /** registration, availability and readings, one after the other */
  ready: Promise<void>;
  online: boolean;
  /** entity key → the last value published (a reconnect hands every value over again) */
  published: Map<string, string>;
}

export class MatterAdapter {
  readonly #nodes = new Map<string, TrackedNode>();
  readonly #stop = new AbortController();
  readonly #warn: ThrottledLog;
  readonly #m: MatterMetrics;
  #client: MatterApiClient | undefined;
  /** the fabric of the server we last listened to: a node missing from the same fabric was removed */
  #fabric: bigint | undefined;
  #loop: Promise<void> | undefined;

  constructor(private readonly o: MatterAdapterOptions) {
    this.#warn = new ThrottledLog(o.log);
    this.#m = matterMetrics(o.metrics);
  }

  start(): void {
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    this.#client?.close();
    await this.#loop;
    await this.#allOffline();
  }

  readonly isOnline = (deviceId: string): boolean => this.#nodes.get(deviceId)?.online === true;

  /** The client while connected (the CLI-facing calls and tests use it). */
  get client(): MatterApiClient | undefined {
    return this.#client?.connected ? this.#client : undefined;
  }

  /** A sentinel.cmd for an entity of a Matter node: its mapping's commands, one after the other. */
  async send(binding: Binding, request: CommandRequest, timeoutMs: number): Promise<CommandReply> {
    const reply = await this.#send(binding, request, timeoutMs);
    this.#m.commands.inc({ result: reply.ok ? 'ok' : reply.error.code });
    return reply;
  }

  async #send(binding: Binding, request: CommandRequest, timeoutMs: number): Promise<CommandReply> {
    const node = this.#nodes.get(binding.device_id);
    const client = this.client;
    if (!node?.online || !client) return failure('unavailable', `${binding.device_id} is not reachable`);
    const entity = node.entities.get(binding.key);
    if (!entity) return failure('not_supported', `${binding.device_id} has no ${binding.key} any more`);
    const plan = matterEntityCommand(entity, request);
    if (!plan.ok) return failure(plan.code, plan.message);
    const deadline = performance.now() + timeoutMs;
    for (const action of plan.actions) {
      const left = Math.max(1, Math.round(deadline - performance.now()));
      try {
        await this.#carryOut(client, node.nodeId, action, left);
      } catch (error) {
        return replyFor(error);
      }
    }
    return { ok: true };
  }

  #carryOut(
    client: MatterApiClient,
    nodeId: bigint,
    action: MatterAction,
    timeoutMs: number,
  ): Promise<unknown> {
    if (action.kind === 'write')
      return client.request(
        'write_attribute',
        {
          node_id: nodeId,
          attribute_path: `${action.endpoint}/${action.cluster}/${action.attribute}`,
          value: action.value,
        },
        timeoutMs,
      );
    return client.request(
      'device_command',
      {
        node_id: nodeId,
        endpoint_id: action.endpoint,
        cluster_id: action.cluster,
        command_name: action.command,
        payload: action.payload,
        ...(action.timedMs === undefined ? {} : { timed_request_timeout_ms: action.timedMs }),
      },
      timeoutMs,
    );
  }

  async #run(): Promise<void> {
    const base = this.o.backoffMs ?? 500;
    let wait = base;
    let index = 0;
    while (!this.#stop.signal.aborted) {
      const url = this.o.urls[index % this.o.urls.length] as string;
      index++;
      const outcome = await this.#session(url);
      if (this.#stop.signal.aborted) return;
      if (outcome === 'was_up') {
        wait = base;
        index--; // the server that worked is tried first again
      }
      // once around the list without success: back off before the next round
      if (outcome === 'was_up' || index % this.o.urls.length === 0) {
        await delay(wait * (0.5 + Math.random() / 2), undefined, { signal: this.#stop.signal }).catch(
          () => {},
        );
        wait = Math.min(wait * 2, this.o.maxBackoffMs ?? 30_000);
      }
    }
  }

  /** One connection, from connecting until it ends; says whether it was ever up. */
  async #session(url: string): Promise<'never_up' | 'was_up'> {
    let client: MatterApiClient;
    try {
      client = await MatterApiClient.connect(url, {
        connectTimeoutMs: this.o.connectTimeoutMs,
        pingMs: this.o.pingMs,
      });
    } catch (error) {
      const reason = error instanceof MatterConnectionError ? error.reason : 'cannot_connect';
      this.#m.connectionFailures.inc({ reason });
      this.#warn.warn(
        `matter:connect:${url}:${reason}`,
        { url, reason, detail: (error as Error).message },
        reason === 'version_mismatch'
          ? 'the matter server speaks a schema we do not'
          : 'cannot connect to the matter server',
      );
      return 'never_up';
    }
    if (this.#stop.signal.aborted) {
      client.close();
      return 'was_up';
    }
    const ended = new Promise<void>((resolve) => client.once('close', resolve));
    client.on('problem', (reason, detail) => this.#reject(reason, { detail }));
    client.on('event', (name, data) => this.#onEvent(name, data));
    this.#client = client;
    try {
      const nodes = await client.request<unknown>('start_listening');
      this.#m.connected.set(1);
      this.o.log.info(
        { url, sdk_version: client.serverInfo.sdk_version, schema_version: client.serverInfo.schema_version },
        'connected to the matter server',
      );
      this.#onNodeList(nodes, client.serverInfo.compressed_fabric_id);
      await Promise.race([ended, aborted(this.#stop.signal)]);
      if (!this.#stop.signal.aborted) {
        this.#m.connectionFailures.inc({ reason: 'lost' });
        this.o.log.warn({ url }, 'lost the connection to the matter server; reconnecting');
      }
    } catch (error) {
      this.#m.connectionFailures.inc({ reason: 'lost' });
      this.#warn.warn(`matter:listen:${url}`, { url, err: error }, 'start_listening failed');
    } finally {
      client.close();
      if (this.#client === client) this.#client = undefined;
      this.#m.connected.set(0);
      await this.#allOffline();
    }
    return 'was_up';
  }

  #onNodeList(data: unknown, fabric: bigint): void {
    const list = z.array(z.unknown()).safeParse(data);
    if (!list.success) {
      this.#reject('bad_event', { event: 'start_listening', detail: 'not a list of nodes' });
      return;
    }
    const seen = new Set<string>();
    for (const raw of list.data) {
      const node = this.#applyNode(raw);
      if (node) seen.add(node.deviceId);
    }
    // the same fabric without a node we knew: it was removed while we were away
    if (this.#fabric === fabric)
      for (const deviceId of this.#nodes.keys()) if (!seen.has(deviceId)) this.#removeNode(deviceId);
    this.#fabric = fabric;
  }

  #onEvent(name: string, data: unknown): void {
    switch (name) {
      case 'node_added':
      case 'node_updated':
        this.#applyNode(data);
        return;
      case 'node_removed': {
        const id = id64.safeParse(data);
        if (!id.success) {
          this.#reject('bad_event', { event: name });
          return;
        }
        this.#removeNode(matterDeviceId(id.data));
        return;
      }
      case 'attribute_updated': {
        const update = AttributeUpdateSchema.safeParse(data);
        if (!update.success) {
          this.#reject('bad_event', { event: name });
          return;
        }
        this.#onAttribute(...update.data);
        return;
      }
      case 'endpoint_added':
      case 'endpoint_removed':
        // the node's structure changed: fetch it again
        void this.#refetch(data);
        return;
      default:
        if (!IGNORED_EVENTS.has(name)) this.#reject('unknown_event', { event: name.slice(0, 64) });
    }
  }

  async #refetch(data: unknown): Promise<void> {
    const parsed = z.looseObject({ node_id: id64 }).safeParse(data);
    if (!parsed.success) {
      this.#reject('bad_event', { event: 'endpoint_added' });
      return;
    }
    try {
      this.#applyNode(await this.client?.request('get_node', { node_id: parsed.data.node_id }));
    } catch (error) {
      this.#warn.warn('matter:get_node', { err: error }, 'reading a changed Matter node failed');
    }
  }

  /** A node as the server describes it: the device, its entities, availability and values. */
  #applyNode(raw: unknown): TrackedNode | undefined {
    const parsed = NodeSchema.safeParse(raw);
    if (!parsed.success) {
      this.#reject('bad_node', { detail: parsed.error.issues[0]?.message });
      return undefined;
    }
    const data: NodeData = parsed.data;
    const deviceId = matterDeviceId(data.node_id);
    let node = this.#nodes.get(deviceId);
    if (!node) {
      node = {
        nodeId: data.node_id,
        deviceId,
        attributes: {},
        available: false,
        info: { name: '' },
        entities: new Map(),
        byPath: new Map(),
        ready: Promise.resolve(),
        online: false,
        published: new Map(),
      };
      this.#nodes.set(deviceId, node);
      this.#m.nodes.set(this.#nodes.size);
    }
    node.attributes = { ...data.attributes };
    node.available = data.available;
    this.#describe(node);
    const tracked = node;
    tracked.ready = tracked.ready
      .then(async () => {
        const descriptions: EntityDescription[] = [...tracked.entities.values()].map((e) => ({
          key: e.key,
          ...e.kind,
        }));
        await this.o.registry.ensureEntities(MATTER_PROTOCOL, deviceId, tracked.info.name, descriptions);
        await this.#applyOnline(tracked);
        for (const entity of tracked.entities.values()) this.#publish(tracked, entity);
      })
      .catch((error: unknown) => {
        this.#warn.warn(
          `matter:register:${deviceId}`,
          { err: error, device_id: deviceId },
          'registering a Matter node failed',
        );
      });
    return node;
  }

  /** Entities and the device description from the node's attributes. */
  #describe(node: TrackedNode): void {
    node.info = matterDeviceInfo(node.attributes, `Matter node ${node.nodeId}`);
    node.entities = new Map(matterEntities(node.attributes).map((e) => [e.key, e]));
    node.byPath = new Map();
    for (const entity of node.entities.values())
      for (const path of entity.paths) node.byPath.set(path, [...(node.byPath.get(path) ?? []), entity]);
  }

  #onAttribute(nodeId: bigint, path: string, value: unknown): void {
    const node = this.#nodes.get(matterDeviceId(nodeId));
    if (!node) {
      this.#reject('unknown_node', { node_id: String(nodeId) });
      return;
    }
    if (!parseAttributeKey(path)) {
      this.#reject('bad_path', { node_id: String(nodeId), path: path.slice(0, 64) });
      return;
    }
    node.attributes[path] = value;
    if (isStructurePath(path)) {
      // a new device type list or server list can mean other entities
      this.#applyNode({ node_id: node.nodeId, available: node.available, attributes: node.attributes });
      return;
    }
    const entities = node.byPath.get(path);
    if (!entities) return;
    node.ready = node.ready.then(() => {
      for (const entity of entities) this.#publish(node, entity);
    });
  }

  #publish(node: TrackedNode, matterEntity: MatterEntity): void {
    if (this.#stop.signal.aborted) return;
    const value = matterEntityValue(matterEntity);
    if (value === undefined) return;
    const entity = this.o.registry.entityFor(MATTER_PROTOCOL, node.deviceId, matterEntity.key);
    if (!entity) return;
    const fingerprint = JSON.stringify(value);
    if (node.published.get(matterEntity.key) === fingerprint) return;
    node.published.set(matterEntity.key, fingerprint);
    const source = { protocol: MATTER_PROTOCOL, device_id: node.deviceId, key: matterEntity.key };
    if (!isWinningReading(entity, source, this.o.availability.isOnline)) return;
    this.o.availability.touch(node.deviceId);
    this.o.metrics.readings.inc({ protocol: MATTER_PROTOCOL, qos: 0 });
    void this.o.state.publish({
      entity_id: entity.id,
      value,
      ts: Date.now(),
      ...(entity.unit === undefined ? {} : { unit: entity.unit }),
      source,
    });
  }

  #removeNode(deviceId: string): void {
    const node = this.#nodes.get(deviceId);
    if (!node) return;
    this.#nodes.delete(deviceId);
    this.#m.nodes.set(this.#nodes.size);
    node.ready = node.ready
      .then(async () => {
        node.online = false;
        await this.o.availability.deviceOffline(deviceId);
        await this.o.registry.removeDevice(deviceId);
        this.o.log.info({ device_id: deviceId }, 'Matter node removed');
      })
      .catch((error: unknown) => {
        this.#warn.warn(
          `matter:remove:${deviceId}`,
          { err: error, device_id: deviceId },
          'removing a Matter node failed',
        );
      });
  }

  /** Online while the server says the node is available and we are connected to it. */
  async #applyOnline(node: TrackedNode): Promise<void> {
    const online = !this.#stop.signal.aborted && this.client !== undefined && node.available;
    if (online === node.online) return;
    node.online = online;
    if (online) {
      await this.o.availability.deviceOnline({
        id: node.deviceId,
        protocol: MATTER_PROTOCOL,
        ...node.info,
        matter_node_id: String(node.nodeId),
      });
    } else {
      // a value seen again once back is still news to whoever saw it go unavailable
      node.published.clear();
      await this.o.availability.deviceOffline(node.deviceId).catch(() => undefined);
    }
  }

  async #allOffline(): Promise<void> {
    await Promise.all(
      [...this.#nodes.values()].map((node) => {
        node.ready = node.ready.then(() => this.#applyOnline(node)).catch(() => undefined);
        return node.ready;
      }),
    );
  }

  #reject(reason: MatterRejectReason, fields: Record<string, unknown>): void {
    this.#m.rejected.inc({ reason });
    this.#warn.warn(`matter:${reason}`, { reason, ...fields }, 'message from the matter server dropped');
  }
}

/** The server's answer to a failed command → our reply (CONTRACT.md §3 codes). */
function replyFor(error: unknown): CommandReply {
  if (error instanceof MatterConnectionError)
    return error.reason === 'timeout'
      ? failure('timeout', `the Matter node did not answer in time (${error.message})`)
      : failure('unavailable', `the connection to the matter server was lost (${error.message})`);
  if (error instanceof MatterApiError) {
    switch (error.code) {
      case MatterErrorCode.NodeNotExists:
      case MatterErrorCode.NodeNotReady:
      case MatterErrorCode.NodeNotResolving:
        return failure('unavailable', `Matter: ${error.details}`);
      case MatterErrorCode.InvalidCommand:
        // a server without write_attribute, or a command it does not know
        return failure('not_supported', `Matter: ${error.details}`);
      default:
        // SDKStackError: the device answered with a Matter status (UNSUPPORTED_COMMAND, CONSTRAINT_ERROR, …)
        return failure('rejected', `Matter (error ${error.code}): ${error.details}`);
    }
  }
  return failure('unavailable', `Matter: ${(error as Error).message}`);
}

function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}
