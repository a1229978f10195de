// The registry writer's single-writer job (held under the `registry` leader lock):
// judging, cluster-wide, the devices of a node that died. They stay online for the
// reconnect grace, in which they may reconnect to another node (which then writes
// its own node_id); those still held by the dead node afterwards are marked
// offline with a fenced write, so a leader that lost its lease cannot mark offline
// a device the new leader has judged (or that came back).
//
// What is not behind the lock, and why: entity ids are claimed first-writer-wins in
// sentinel_bindings and entity records are written compare-and-set, so both nodes
// may create and update entities; each node records its own devices.
import type { Bus } from '../bus/bus.js';
import { fencedUpdate, type LeaderLease, StaleLeaseError } from '../bus/locks.js';
import { subject } from '../bus/names.js';
import type { Logger } from '../log.js';
import type { Availability } from '../model/availability.js';
import { DeviceRecordSchema } from '../model/records.js';
import type { Registry } from '../model/registry.js';
import type { NodeLiveness } from './nodes.js';

export class AvailabilityJudge {
  /** device id → when this leader first saw its node dead */
  readonly #orphanedSince = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> = Promise.resolve();

  constructor(
    private readonly o: {
      bus: Bus;
      lease: LeaderLease;
      registry: Registry;
      availability: Availability;
      liveness: NodeLiveness;
      reconnectGraceMs: number;
      pollMs: number;
      log: Logger;
    },
  ) {}

  start(): void {
    this.#timer = setInterval(() => {
      this.#running = this.#running
        .then(() => this.#sweep())
        .catch((error: unknown) => {
          if (error instanceof StaleLeaseError) return; // the lock's own loop stops us
          this.o.log.warn({ err: error }, 'judging orphaned devices failed');
        });
    }, this.o.pollMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#running;
  }

  async #sweep(): Promise<void> {
    const now = performance.now();
    const seen = new Set<string>();
    for (const device of this.o.registry.devices()) {
      const node = device.node_id;
      if (!device.online || typeof node !== 'string' || !this.o.liveness.isDead(node)) continue;
      seen.add(device.id);
      const since = this.#orphanedSince.get(device.id) ?? now;
      this.#orphanedSince.set(device.id, since);
      if (now - since < this.o.reconnectGraceMs) continue;
      if (this.o.lease.signal.aborted) return;
      await this.#markOffline(device.id, node);
    }
    for (const id of this.#orphanedSince.keys()) if (!seen.has(id)) this.#orphanedSince.delete(id);
  }

  async #markOffline(deviceId: string, deadNode: string): Promise<void> {
    const ts = Date.now();
    let written = false;
    await fencedUpdate(
      this.o.bus.kv.locks,
      this.o.lease,
      this.o.bus.kv.devices,
      deviceId,
      (current) => {
        // it reconnected somewhere meanwhile: nothing to judge
        if (current?.online !== true || current.node_id !== deadNode) return undefined;
        written = true;
        return { ...current, online: false, last_seen: ts };
      },
      (value) => DeviceRecordSchema.safeParse(value).data,
    );
    this.#orphanedSince.delete(deviceId);
    if (!written) return;
    this.o.log.info({ device_id: deviceId, node: deadNode }, 'device of a dead node marked offline');
    this.o.bus.nc.publish(
      subject.deviceAvailability(deviceId),
      JSON.stringify({ device_id: deviceId, online: false, ts }),
    );
    await this.o.availability.refreshEntities(deviceId);
  }
}
