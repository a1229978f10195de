// The Home Assistant publisher (CONTRACT.md §7): keeps Home Assistant's broker in step
// with the entity model. Discovery configs follow the registry, states follow
// sentinel.state.>, availability follows sentinel.device.<id>.availability and the
// gateway's own connection (its will), and commands Home Assistant publishes go
// through sentinel.cmd.<entity_id> like anyone's. One runs per cluster, under the
// `ha` leader lock; everything is republished on every (re)connect and whenever
// Home Assistant says it is back online, because either side may have lost what was
// retained.
import type { KV } from '@nats-io/kv';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { haPlatform, haStatePayload } from '@sentinel/devices';
import mqtt, { type MqttClient } from 'mqtt';
import { followBucket } from '../bus/mirror.js';
import { subject } from '../bus/names.js';
import { type Logger, ThrottledLog } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { EntityRecord } from '../model/records.js';
import type { Registry } from '../model/registry.js';
import { HaCommands } from './commands.js';
import type { HaConnection } from './connection.js';
import { type DeviceConfig, deviceConfig, gatewayConfig, type HaOrigin } from './discovery.js';
import { ConfigEchoes } from './echoes.js';
import { HA_PROTOCOL } from './import/importer.js';
import { AvailabilityMessageSchema, OurConfigSchema, StateMessageSchema } from './schemas.js';
import { GATEWAY_DEVICE_ID, haTopic, parseConfigTopic } from './topics.js';

export interface HaPublisherOptions {
  nc: NatsConnection;
  stateKv: KV;
  registry: Registry;
  connection: HaConnection;
  discoveryPrefix: string;
  origin: HaOrigin;
  commandTimeoutMs: number;
  metrics: Metrics;
  log: Logger;
}

interface Latest {
  value: unknown;
  ts: number;
}

/** What was last published for a device, to publish only changes and to clear a removed one. */
interface Published {
  payload: string;
  /** entity id → its state topic */
  states: Map<string, string>;
}

export class HaPublisher {
  readonly #latest = new Map<string, Latest>();
  readonly #online = new Map<string, boolean>();
  readonly #published = new Map<string, Published>();
  readonly #dirty = new Set<string>();
  readonly #subscriptions: Subscription[] = [];
  #unlisten: () => void = () => {};
  #flushScheduled = false;
  #stopping = false;
  readonly #client: MqttClient;
  readonly #commands: HaCommands;
  readonly #throttled: ThrottledLog;
  readonly #echoes = new ConfigEchoes();

  private constructor(private readonly o: HaPublisherOptions) {
    this.#throttled = new ThrottledLog(o.log);
    this.#client = mqtt.connect(o.connection.url, { ...o.connection.options, manualConnect: true });
    this.#commands = new HaCommands({
      nc: o.nc,
      registry: o.registry,
      timeoutMs: o.commandTimeoutMs,
      metrics: o.metrics,
      log: this.#throttled,
      restoreState: (entity) => this.#publishState(entity),
    });
  }

  static async start(o: HaPublisherOptions): Promise<HaPublisher> {
    const publisher = new HaPublisher(o);
    try {
      await publisher.#follow();
    } catch (error) {
      await publisher.stop();
      throw error;
    }
    publisher.#connect();
    return publisher;
  }

  /** The NATS side: states and availability (subscribed before the snapshot, so nothing falls between) and the registry. */
  async #follow(): Promise<void> {
    const { nc, registry } = this.o;
    this.#subscriptions.push(
      nc.subscribe(subject.stateAll, {
        callback: (error, msg) => {
          if (error) return;
          const parsed = StateMessageSchema.safeParse(safeJson(msg.data));
          if (!parsed.success) return;
          this.#onState(parsed.data.entity_id, { value: parsed.data.value, ts: parsed.data.ts });
        },
      }),
      nc.subscribe(subject.deviceAvailability('*'), {
        callback: (error, msg) => {
          if (error) return;
          const parsed = AvailabilityMessageSchema.safeParse(safeJson(msg.data));
          if (!parsed.success) return;
          this.#onAvailability(parsed.data.device_id, parsed.data.online);
        },
      }),
    );
    await nc.flush();
    // the latest states as stored, once: from here on sentinel.state.> is fresher
    const stopFollowing = await followBucket(this.o.stateKv, (entry) => {
      const parsed = StateMessageSchema.safeParse(entry.value);
      if (entry.operation === 'PUT' && parsed.success)
        this.#remember(parsed.data.entity_id, { value: parsed.data.value, ts: parsed.data.ts });
    });
    stopFollowing();
    for (const device of registry.devices()) this.#online.set(device.id, device.online);
    this.#unlisten = registry.onChange((change) => {
      if (change.kind === 'device') {
        if (change.record && !this.#online.has(change.id)) this.#online.set(change.id, change.record.online);
        this.#markDirty(change.id);
        return;
      }
      // an entity may have moved between devices: both configs change
      for (const [deviceId, published] of this.#published)
        if (published.states.has(change.id)) this.#markDirty(deviceId);
      if (change.record) this.#markDirty(change.record.device_id);
    });
  }

  #connect(): void {
    const client = this.#client;
    client.on('connect', () => {
      this.o.log.info({ url: redact(this.o.connection.url) }, 'connected to the Home Assistant broker');
      void this.#onConnect().catch((error: unknown) => {
        this.o.log.warn({ err: error }, 'publishing to the Home Assistant broker failed');
      });
    });
    client.on('message', (topic, payload, packet) => this.#onMessage(topic, payload, packet.retain));
    client.on('error', (error) => {
      this.#throttled.warn(
        `ha-mqtt:${error.message}`,
        { err: error },
        'Home Assistant broker connection error',
      );
    });
    client.on('offline', () => this.o.log.info('Home Assistant broker unreachable; reconnecting'));
    client.connect();
  }

  async #onConnect(): Promise<void> {
    const prefix = this.o.discoveryPrefix;
    this.#echoes.clear();
    await this.#client.subscribeAsync(
      Object.fromEntries(
        [
          haTopic.haStatus(prefix),
          haTopic.gatewayStatus,
          haTopic.configFilter(prefix),
          ...haTopic.commandFilters,
        ].map((topic) => [topic, { qos: 1 as const }]),
      ),
    );
    await this.#publishAll();
  }

  /** Everything, as on a first start: the broker or Home Assistant may have forgotten what was retained. */
  async #publishAll(): Promise<void> {
    if (this.#stopping || !this.#client.connected) return;
    const client = this.#client;
    const sends: Promise<unknown>[] = [
      client.publishAsync(haTopic.gatewayStatus, 'online', { qos: 1, retain: true }),
      this.#publishConfig(GATEWAY_DEVICE_ID, gatewayConfig(this.o.origin)),
    ];
    this.#published.clear();
    for (const device of this.o.registry.devices()) {
      sends.push(this.#syncDevice(device.id, true));
    }
    await Promise.all(sends);
  }

  #markDirty(deviceId: string): void {
    if (deviceId === GATEWAY_DEVICE_ID) return;
    this.#dirty.add(deviceId);
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    // a hello changes a device and its entities in one burst: one config for all of it
    setImmediate(() => {
      this.#flushScheduled = false;
      const devices = [...this.#dirty];
      this.#dirty.clear();
      if (!this.#client.connected || this.#stopping) return; // the next connect publishes everything
      for (const deviceId of devices) {
        this.#syncDevice(deviceId, false).catch((error: unknown) => {
          this.o.log.warn({ err: error, device_id: deviceId }, 'publishing a discovery config failed');
        });
      }
    });
  }

  /** Publishes a device's config when it changed (or `force`), its availability and states; clears a removed one. */
  async #syncDevice(deviceId: string, force: boolean): Promise<void> {
    const { config, entities } = this.#configFor(deviceId);
    const previous = this.#published.get(deviceId);
    if (!config) {
      if (previous) await this.#clear(deviceId, previous);
      return;
    }
    const payload = JSON.stringify(config);
    if (!force && previous?.payload === payload) return;
    const states = new Map(Object.keys(config.cmps).map((id) => [id, haTopic.state(deviceId, id)]));
    this.#published.set(deviceId, { payload, states });
    const client = this.#client;
    const sends: Promise<unknown>[] = [
      // availability and states first: Home Assistant reads them as it creates the entities
      client.publishAsync(
        haTopic.deviceAvailability(deviceId),
        this.#online.get(deviceId) ? 'online' : 'offline',
        {
          qos: 1,
          retain: true,
        },
      ),
    ];
    for (const entity of entities) {
      if (states.has(entity.id) && (force || !previous?.states.has(entity.id))) {
        const sent = this.#publishState(entity);
        if (sent) sends.push(sent);
      }
    }
    // entities that left this device: their retained states go too
    for (const [id, topic] of previous?.states ?? [])
      if (!states.has(id)) sends.push(client.publishAsync(topic, '', { qos: 1, retain: true }));
    sends.push(this.#publishConfig(deviceId, config, payload));
    await Promise.all(sends);
  }

  /** What the registry says a device's config is now; undefined when it has none to export. */
  #configFor(deviceId: string): { config: DeviceConfig | undefined; entities: EntityRecord[] } {
    if (deviceId === GATEWAY_DEVICE_ID) return { config: gatewayConfig(this.o.origin), entities: [] };
    const known = this.o.registry.device(deviceId);
    // what came from Home Assistant is not handed back to it: it would show there twice
    const device = known?.protocol === HA_PROTOCOL ? undefined : known;
    const entities = device ? this.o.registry.entities().filter((e) => e.device_id === deviceId) : [];
    return { config: device && deviceConfig(device, entities, this.o.origin), entities };
  }

  async #publishConfig(deviceId: string, config: DeviceConfig, payload = JSON.stringify(config)) {
    this.o.metrics.haConfigs.inc();
    const topic = haTopic.config(this.o.discoveryPrefix, deviceId);
    this.#echoes.sent(topic, payload);
    await this.#client.publishAsync(topic, payload, {
      qos: 1,
      retain: true,
    });
  }

  /** A removed device: an empty retained config removes it from Home Assistant, and nothing of it stays retained. */
  async #clear(deviceId: string, previous: Published): Promise<void> {
    this.#published.delete(deviceId);
    this.#online.delete(deviceId);
    this.o.metrics.haConfigs.inc();
    const client = this.#client;
    const empty = { qos: 1 as const, retain: true };
    const topic = haTopic.config(this.o.discoveryPrefix, deviceId);
    this.#echoes.sent(topic, '');
    await Promise.all([
      client.publishAsync(topic, '', empty),
      client.publishAsync(haTopic.deviceAvailability(deviceId), '', empty),
      ...[...previous.states.values()].map((topic) => client.publishAsync(topic, '', empty)),
    ]);
    this.o.log.info({ device_id: deviceId }, 'Home Assistant discovery config removed');
  }

  #onState(entityId: string, latest: Latest): void {
    if (!this.#remember(entityId, latest)) return;
    const entity = this.o.registry.entity(entityId);
    if (entity && this.#published.get(entity.device_id)?.states.has(entityId))
      void this.#publishState(entity);
  }

  /** Keeps the newer of two states (the stored snapshot may arrive after a fresher reading). */
  #remember(entityId: string, latest: Latest): boolean {
    const known = this.#latest.get(entityId);
    if (known && known.ts > latest.ts) return false;
    this.#latest.set(entityId, latest);
    return true;
  }

  /** Publishes the latest known state of an entity (also what a failed command restores). */
  #publishState(entity: EntityRecord): Promise<unknown> | undefined {
    const latest = this.#latest.get(entity.id);
    const mapping = haPlatform(entity.platform);
    if (!latest || !mapping || !this.#client.connected || this.#stopping) return undefined;
    const payload = haStatePayload(entity.platform, latest.value);
    if (payload === undefined) return undefined;
    return this.#client
      .publishAsync(haTopic.state(entity.device_id, entity.id), payload, {
        qos: 0,
        retain: mapping.retainState,
      })
      .catch((error: unknown) => {
        this.o.log.debug({ err: error, entity_id: entity.id }, 'state publish to Home Assistant failed');
      });
  }

  #onAvailability(deviceId: string, online: boolean): void {
    this.#online.set(deviceId, online);
    if (!this.#published.has(deviceId) || !this.#client.connected || this.#stopping) return;
    this.#client
      .publishAsync(haTopic.deviceAvailability(deviceId), online ? 'online' : 'offline', {
        qos: 1,
        retain: true,
      })
      .catch((error: unknown) => {
        this.o.log.debug(
          { err: error, device_id: deviceId },
          'availability publish to Home Assistant failed',
        );
      });
  }

  #onMessage(topic: string, payload: Buffer, retained: boolean): void {
    if (this.#stopping) return;
    if (topic === haTopic.haStatus(this.o.discoveryPrefix)) {
      // Home Assistant's birth message: it (re)started and wants every config again
      if (payload.toString() === 'online') {
        this.o.log.info('Home Assistant is online; republishing discovery');
        this.#publishAll().catch((error: unknown) => {
          this.o.log.warn({ err: error }, 'republishing to Home Assistant failed');
        });
      }
      return;
    }
    if (topic === haTopic.gatewayStatus) {
      // another node's will (or its clean stop) can land after this node said online
      if (payload.toString() !== 'online' && !retained) {
        void this.#client
          .publishAsync(haTopic.gatewayStatus, 'online', { qos: 1, retain: true })
          .catch(() => {});
      }
      return;
    }
    const configOf = parseConfigTopic(this.o.discoveryPrefix, topic);
    if (configOf !== undefined) {
      this.#onConfig(configOf, topic, payload.toString('utf8'), retained);
      return;
    }
    this.#commands.handle(topic, payload);
  }

  /**
   * A discovery config on the broker. Our own come back (echoes). A retained one of ours
   * for a device that no longer has one was left by a gateway that was not running when
   * the device went: cleared. Anyone else writing on one of our devices' topics would
   * change or remove the device in Home Assistant: counted, logged, and ours put back.
   * Other integrations' configs are none of our business.
   */
  #onConfig(deviceId: string, topic: string, text: string, retained: boolean): void {
    if (this.#echoes.isEcho(topic, text)) return;
    const { config } = this.#configFor(deviceId);
    if (retained) {
      // from before this connection; every current config is being published again anyway
      if (!config && text !== '' && this.#isOurs(deviceId, text)) {
        this.o.log.info({ device_id: deviceId }, 'stale Home Assistant config of a removed device cleared');
        this.#echoes.sent(topic, '');
        this.o.metrics.haConfigs.inc();
        const empty = { qos: 1 as const, retain: true };
        Promise.all([
          this.#client.publishAsync(topic, '', empty),
          this.#client.publishAsync(haTopic.deviceAvailability(deviceId), '', empty),
        ]).catch((error: unknown) => {
          this.o.log.debug({ err: error, device_id: deviceId }, 'clearing a stale config failed');
        });
      }
      return;
    }
    if (!config) return;
    this.o.metrics.haRejected.inc({ reason: 'foreign_discovery' });
    this.#throttled.warn(
      `ha-reject:foreign_discovery:${deviceId}`,
      { topic, reason: 'foreign_discovery', bytes: Buffer.byteLength(text) },
      'someone else wrote the discovery config of one of our devices; ours is published again',
    );
    if (this.#stopping || !this.#client.connected) return;
    this.#publishConfig(deviceId, config).catch((error: unknown) => {
      this.o.log.warn({ err: error, device_id: deviceId }, 'publishing a discovery config failed');
    });
  }

  /** Whether a config names our origin and this device: one a gateway of ours published. */
  #isOurs(deviceId: string, text: string): boolean {
    const parsed = OurConfigSchema.safeParse(safeJsonText(text));
    return (
      parsed.success &&
      parsed.data.o.name === this.o.origin.name &&
      parsed.data.dev.identifiers.includes(deviceId)
    );
  }

  /** Says `offline` itself (a clean stop sends no will), then disconnects. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#unlisten();
    for (const subscription of this.#subscriptions) subscription.unsubscribe();
    const client = this.#client;
    if (client.connected) {
      await Promise.race([
        client.publishAsync(haTopic.gatewayStatus, 'offline', { qos: 1, retain: true }).catch(() => {}),
        new Promise((resolve) => setTimeout(resolve, 1000).unref()),
      ]);
    }
    // commands under way get their NATS replies (within the stop budget); their
    // outcome no longer reaches Home Assistant from this node
    await Promise.race([
      this.#commands.settled(),
      new Promise((resolve) => setTimeout(resolve, 1000).unref()),
    ]);
    await client.endAsync(true).catch(() => {});
  }
}

function safeJson(data: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(data));
  } catch {
    return undefined;
  }
}

function safeJsonText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The broker URL without a password someone put in it. */
function redact(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}
