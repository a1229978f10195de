// Availability is its own signal, never a fake reading: a device is online while
// this node holds its connection (and it has not said "offline"); an entity is
// available while any of its bindings' devices is online. Both are published on
// change and recorded (device: sentinel_devices; entity: `available` in sentinel_state).
import type { NatsConnection } from '@nats-io/transport-node';
import { subject } from '../bus/names.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { isAvailable } from './bindings.js';
import type { DeviceDescription, Registry } from './registry.js';
import type { StatePublisher } from './state.js';

/** How often a device's last_seen is refreshed in KV while it keeps sending. */
const LAST_SEEN_REFRESH_MS = 60_000;

export class Availability {
  readonly #online = new Set<string>();
  readonly #lastSeenWritten = new Map<string, number>();
  readonly #entityAvailable = new Map<string, boolean>();
  #reconcileTimer: NodeJS.Timeout | undefined;
  /** cluster view: whether another live node holds the device (cluster/ sets it) */
  #elsewhere: (deviceId: string) => boolean = () => false;
  #handingOver = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly registry: Registry,
    private readonly state: StatePublisher,
    private readonly nodeId: string,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {}

  readonly isOnline = (deviceId: string): boolean => this.#online.has(deviceId);

  /** Online on this node or on another live node (entity availability is judged cluster-wide). */
  readonly isOnlineAnywhere = (deviceId: string): boolean =>
    this.#online.has(deviceId) || this.#elsewhere(deviceId);

  setClusterView(elsewhere: (deviceId: string) => boolean): void {
    this.#elsewhere = elsewhere;
  }

  /**
   * The node is stopping with another alive: connections that end from now on are
   * not recorded offline, the devices reconnect to the other node (which judges
   * those that do not, after its reconnect grace).
   */
  handOver(): void {
    this.#handingOver = true;
  }

  async deviceOnline(description: DeviceDescription): Promise<void> {
    const now = Date.now();
    const wasOnline = this.#online.has(description.id);
    this.log.debug({ device_id: description.id, was_online: wasOnline }, 'device online');
    this.#online.add(description.id);
    this.metrics.devicesOnline.set(this.#online.size);
    // the hello right after a connect keeps the last_seen the connect wrote: its record then
    // changes only when the device says something new (a new firmware), one write less per connect
    const written = this.#lastSeenWritten.get(description.id);
    const lastSeen =
      wasOnline && written !== undefined && now - written < LAST_SEEN_REFRESH_MS ? written : now;
    this.#lastSeenWritten.set(description.id, lastSeen);
    await this.registry.upsertDevice(
      { ...description, node_id: this.nodeId },
      { online: true, last_seen: lastSeen },
    );
    if (!wasOnline) this.#publishDevice(description.id, true, now);
    await this.refreshEntities(description.id);
  }

  async deviceOffline(deviceId: string): Promise<void> {
    if (!this.#online.delete(deviceId)) return;
    this.log.debug({ device_id: deviceId }, 'device offline');
    this.metrics.devicesOnline.set(this.#online.size);
    if (this.#handingOver) return;
    await this.#recordOffline(deviceId);
  }

  async #recordOffline(deviceId: string): Promise<void> {
    const now = Date.now();
    // a device that moved to another node meanwhile stays online
    if (!(await this.registry.markOffline(deviceId, this.nodeId, now))) return;
    this.#publishDevice(deviceId, false, now);
    await this.refreshEntities(deviceId);
  }

  /** A message arrived: keeps last_seen roughly current without a KV write per reading. */
  touch(deviceId: string): void {
    const now = Date.now();
    if (now - (this.#lastSeenWritten.get(deviceId) ?? 0) < LAST_SEEN_REFRESH_MS) return;
    this.#lastSeenWritten.set(deviceId, now);
    this.registry
      .setDevicePresence(deviceId, { online: this.isOnline(deviceId), last_seen: now })
      .catch((error) => {
        this.log.debug({ err: error, device_id: deviceId }, 'last_seen refresh failed');
      });
  }

  /** Recomputes and publishes the availability of every entity bound to the device. */
  async refreshEntities(deviceId: string): Promise<void> {
    const ts = Date.now();
    const changes: Promise<void>[] = [];
    for (const entity of this.registry.entitiesOfDevice(deviceId)) {
      const available = isAvailable(entity, this.isOnlineAnywhere);
      if (this.#entityAvailable.get(entity.id) === available) continue;
      this.#entityAvailable.set(entity.id, available);
      this.nc.publish(
        subject.entityAvailability(entity.id),
        JSON.stringify({ entity_id: entity.id, available, ts }),
      );
      changes.push(this.state.setAvailability(entity.id, available));
    }
    await Promise.all(changes);
  }

  /**
   * After a restart, devices this node held may still be marked online in KV. Those
   * that have not reconnected within the grace period are marked offline.
   */
  reconcileAfter(graceMs: number): void {
    this.#reconcileTimer = setTimeout(() => {
      for (const device of this.registry.devices()) {
        if (device.online && device.node_id === this.nodeId && !this.#online.has(device.id)) {
          this.#recordOffline(device.id).catch((error) =>
            this.log.warn({ err: error }, 'marking a stale device offline failed'),
          );
        }
      }
    }, graceMs);
    this.#reconcileTimer.unref();
  }

  stop(): void {
    clearTimeout(this.#reconcileTimer);
  }

  #publishDevice(deviceId: string, online: boolean, ts: number): void {
    this.nc.publish(
      subject.deviceAvailability(deviceId),
      JSON.stringify({ device_id: deviceId, online, ts }),
    );
  }
}
