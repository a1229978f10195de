// The rollout state machine (docs/ota.md "Rollouts"), run by the `ota` leader: a canary
// stage, then batches; the next stage starts only when every device of this one is
// back on the new version and confirmed. A device that does not come back within the
// deadline, rolls back or fails is told to roll back, and the rollout pauses naming it.
//
// Every step reads and writes the rollout record (RolloutStore), never memory alone,
// so a new leader resumes where the old one stopped. Steps are idempotent: a device
// that already runs the version is not offered it again, a device found back on the
// version after a leader change is confirmed rather than re-offered.
import type { Logger } from '../../log.js';
import type { OtaFleet, OtaProgress } from '../types.js';
import { type CatalogImage, planRollout, RolloutRefusal } from './plan.js';
import {
  type Answer,
  type DeviceRecord,
  type RequestEntry,
  type Rollout,
  RolloutRequestSchema,
} from './schema.js';
import type { RolloutStore } from './store.js';

export interface RolloutEngineOptions {
  fleet: OtaFleet;
  store: RolloutStore;
  /** the firmware catalog's images */
  catalog: () => Promise<CatalogImage[]>;
  log: Logger;
  /** counts a refused request by its code (sentinel_ota_rollout_refused_total) */
  refused?: (code: string) => void;
  /** ms since the epoch; tests move it by hand */
  now?: () => number;
  /** how often deadlines and waiting offers are looked at (default 1 s); 0: only when tick() is called */
  tickMs?: number;
}

/** Offer refusals that go away by themselves: try again on the next tick, until the deadline. */
const TRANSIENT = new Set(['offline', 'no_hello', 'not_subscribed', 'update_in_progress', 'pending_verify']);

const reasonOf = (error: unknown) => (error as { reason?: unknown }).reason;
const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

export function formatMs(ms: number): string {
  if (ms % 3600_000 === 0) return `${ms / 3600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

export class RolloutEngine {
  readonly #now: () => number;
  readonly #log: Logger;
  #queue: Promise<unknown> = Promise.resolve();
  #stops: Array<() => void> = [];
  /**
   * Devices whose progress may have been lost with an earlier leader (offered or booted
   * when it stopped): looked at on every tick until seen back, since a device that
   * confirmed meanwhile never reports it again. Left only once that is stored (#settled).
   */
  readonly #recheck = new Set<string>();
  /** rechecked devices whose new state goes into the record with this step's save */
  readonly #settled = new Set<string>();
  /** download percentages reported since the last tick, by `<device>/<offer>` */
  readonly #percent = new Map<string, number>();
  /** devices whose confirm could not be sent yet */
  readonly #confirmOwed = new Set<string>();
  /** progress reports waiting for their turn (#serial) */
  #reports: OtaProgress[] = [];
  #stopped = false;

  constructor(private readonly o: RolloutEngineOptions) {
    this.#now = o.now ?? Date.now;
    this.#log = o.log.child({ subsystem: 'ota' });
  }

  async start(): Promise<void> {
    // progress first: nothing a device reports from here on is missed
    this.#stops.push(
      this.o.fleet.onProgress((progress) => {
        // reports that arrive while the engine is busy are handled together, with one
        // read and one write of the record (fifty devices booting at once: one save, not fifty)
        this.#reports.push(progress);
        if (this.#reports.length === 1) void this.#serial(() => this.#progress(this.#reports.splice(0)));
      }),
    );
    const rollout = await this.o.store.load();
    if (rollout && (rollout.status === 'running' || rollout.status === 'paused')) {
      for (const [id, device] of Object.entries(rollout.devices))
        if (device.state === 'offered' || device.state === 'booted') this.#recheck.add(id);
      this.#log.info(
        { rollout: rollout.id, version: rollout.version, status: rollout.status, stage: rollout.stage },
        'resuming the OTA rollout',
      );
    }
    this.#stops.push(
      await this.o.store.requests((id, entry) => void this.#serial(() => this.#request(id, entry))),
    );
    await this.tick();
    if (this.o.tickMs !== 0) {
      const timer = setInterval(() => void this.tick(), this.o.tickMs ?? 1000);
      this.#stops.push(() => clearInterval(timer));
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const stop of this.#stops) stop();
    this.#stops = [];
    await this.idle();
  }

  /** Looks at deadlines and offers to make; resolves once done. */
  tick(): Promise<void> {
    return this.#serial(() => this.#step());
  }

  /** Resolves once everything queued so far has run. */
  async idle(): Promise<void> {
    for (;;) {
      const queue = this.#queue;
      await queue;
      if (queue === this.#queue) return;
    }
  }

  /** One thing at a time: progress, requests and ticks all read-modify-write the record. */
  #serial(work: () => Promise<void>): Promise<void> {
    const next = this.#queue.then(async () => {
      if (this.#stopped) return;
      try {
        await work();
      } catch (error) {
        this.#log.error({ err: error }, 'OTA rollout step failed; retrying on the next tick');
      }
    });
    this.#queue = next;
    return next;
  }

  // ---- requests from the CLI ----

  async #request(id: string, entry: RequestEntry): Promise<void> {
    const answer = await this.#decide(entry).catch((error: unknown): Answer => {
      if (error instanceof RolloutRefusal) return { ok: false, code: error.code, message: error.message };
      throw error;
    });
    if (!answer.ok) {
      this.#log.warn({ request: id, code: answer.code }, `OTA request refused: ${answer.message}`);
      this.o.refused?.(answer.code);
    }
    await this.o.store.answer(id, answer, this.#now());
    if (answer.ok) await this.#step();
  }

  async #decide(entry: RequestEntry): Promise<Answer> {
    const parsed = RolloutRequestSchema.safeParse(entry.request);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new RolloutRefusal(
        'bad_request',
        `bad request: ${issue ? `${issue.path.join('.') || 'request'}: ${issue.message}` : 'not a request'}`,
      );
    }
    const request = parsed.data;
    const current = await this.o.store.load();
    const active = current && (current.status === 'running' || current.status === 'paused');
    const now = this.#now();
    if (request.op === 'start') {
      if (active)
        throw new RolloutRefusal(
          'rollout_active',
          `rollout ${current.id} of ${current.version} is ${current.status}; abort it first (\`sentinel ota abort\`)`,
        );
      const rollout = await planRollout(request, this.o.fleet, await this.o.catalog(), now);
      await this.o.store.save(rollout);
      this.#recheck.clear();
      this.#log.info(
        {
          rollout: rollout.id,
          version: rollout.version,
          stages: rollout.stages.length,
          devices: Object.keys(rollout.devices).length,
        },
        'OTA rollout started',
      );
      return { ok: true, rollout: rollout.id, status: rollout.status };
    }
    if (!current || !active)
      throw new RolloutRefusal(
        'no_rollout',
        `no rollout is running or paused${current ? ` (the last one is ${current.status})` : ''}`,
      );
    if (request.op === 'pause') {
      if (current.status === 'running') {
        current.status = 'paused';
        current.paused_reason = 'paused by request';
        delete current.paused_device;
      }
    } else if (request.op === 'resume') {
      current.status = 'running';
      // the time paused does not count against devices still waiting for their offer
      for (const device of Object.values(current.devices))
        if (device.state === 'pending') delete device.started;
      delete current.paused_reason;
      delete current.paused_device;
    } else {
      current.status = 'aborted';
      for (const [id, device] of Object.entries(current.devices)) {
        if (device.state !== 'offered' && device.state !== 'booted') continue;
        await this.#tellRollback(id, device, 'the rollout was aborted');
        Object.assign(device, { state: 'failed', reason: 'the rollout was aborted', updated: now });
      }
    }
    current.updated = now;
    await this.o.store.save(current);
    this.#log.info({ rollout: current.id, op: request.op }, `OTA rollout ${current.status}`);
    return { ok: true, rollout: current.id, status: current.status };
  }

  // ---- what devices report ----

  async #progress(reports: OtaProgress[]): Promise<void> {
    let rollout: Rollout | undefined;
    let changed = false;
    const now = this.#now();
    for (const progress of reports) {
      if (progress.state === 'downloading') {
        // the most frequent report, and one that changes no state: no KV read for it
        this.#percent.set(`${progress.device}/${progress.offer}`, progress.percent);
        continue;
      }
      if (progress.state === 'verifying' || progress.state === 'rebooting') continue;
      rollout ??= await this.o.store.load();
      if (!rollout || (rollout.status !== 'running' && rollout.status !== 'paused')) return;
      if (await this.#report(rollout, progress, now)) changed = true;
    }
    if (!rollout || !changed) return;
    this.#advance(rollout, now);
    rollout.updated = now;
    await this.o.store.save(rollout);
  }

  /** What one report changes in the record; true when it changed something. */
  async #report(rollout: Rollout, progress: OtaProgress, now: number): Promise<boolean> {
    const device = rollout.devices[progress.device];
    if (!device || device.offer !== progress.offer) return false; // not ours: another rollout, or a hand-made offer
    if (device.state !== 'offered' && device.state !== 'booted') return false;
    if (progress.state === 'booted') {
      if (progress.version !== rollout.version) return false;
      this.#recheck.delete(progress.device);
      Object.assign(device, { state: 'booted', percent: 100, updated: now });
      await this.#confirm(progress.device, device);
    } else if (progress.state === 'confirmed') {
      this.#recheck.delete(progress.device);
      this.#confirmOwed.delete(progress.device);
      Object.assign(device, { state: 'confirmed', updated: now });
      delete device.reason;
    } else if (progress.state === 'rolled_back') {
      this.#fail(rollout, progress.device, device, `rolled back to ${progress.version}: ${progress.reason}`);
    } else if (progress.state === 'failed') {
      await this.#tellRollback(progress.device, device, progress.reason);
      this.#fail(rollout, progress.device, device, `failed: ${progress.reason}`);
    } else return false;
    return true;
  }

  // ---- the periodic step ----

  async #step(): Promise<void> {
    const rollout = await this.o.store.load();
    if (!rollout || (rollout.status !== 'running' && rollout.status !== 'paused')) return;
    const now = this.#now();
    const before = JSON.stringify(rollout);
    this.#settled.clear();
    for (const [key, percent] of this.#percent) {
      const [id, offer] = key.split('/') as [string, string];
      const device = rollout.devices[id];
      // only the current offer's: a late report of an older one says nothing
      if (device?.state === 'offered' && device.offer === offer) device.percent = percent;
    }
    this.#percent.clear();
    let stage = rollout.stage;
    for (;;) {
      await this.#stepStage(rollout, now);
      this.#advance(rollout, now);
      // a stage whose devices all ran the version already passes at once
      if (rollout.stage === stage || rollout.status !== 'running') break;
      stage = rollout.stage;
    }
    if (JSON.stringify(rollout) !== before) {
      rollout.updated = now;
      await this.o.store.save(rollout);
    }
    // only now: a save that failed leaves them to be looked at again on the next tick
    for (const id of this.#settled) this.#recheck.delete(id);
    this.#settled.clear();
  }

  async #stepStage(rollout: Rollout, now: number): Promise<void> {
    const ids = rollout.stages[rollout.stage] ?? [];
    const deadline = rollout.deadline_ms;
    let fleet: Map<string, { fw: string; online: boolean }> | undefined;
    const look = async (id: string) => {
      fleet ??= new Map((await this.o.fleet.devices()).map((d) => [d.device, d]));
      return fleet.get(id);
    };
    for (const id of ids) {
      const device = rollout.devices[id]!;
      if (this.#recheck.has(id) && (device.state === 'offered' || device.state === 'booted')) {
        // offered by an earlier leader: its progress may have been lost in between
        const seen = await look(id);
        if (seen?.online && seen.fw === rollout.version) {
          await this.#confirmBack(id, device, now);
          continue;
        }
        // its offer may have died with the node that made it: offer again (the same image,
        // under a new offer; a device found on the version by then is not offered it)
        if (device.state === 'offered') {
          device.state = 'pending';
          this.#settled.add(id);
        }
        // booted before the leader changed and not back yet (the gateway restarted, the
        // device reconnects later): looked at again on the next tick, until the deadline
        continue;
      }
      if (this.#recheck.has(id)) this.#settled.add(id); // failed, or aborted meanwhile
      if (device.state === 'booted' && this.#confirmOwed.has(id)) await this.#confirm(id, device);
    }
    // a batch's offers go out together: its devices download at once
    if (rollout.status === 'running') {
      const pending = ids.filter((id) => rollout.devices[id]!.state === 'pending');
      if (pending.length > 0) await look(pending[0]!);
      await Promise.all(
        pending.map((id) => {
          const device = rollout.devices[id]!;
          device.started ??= now;
          return this.#offer(rollout, id, device, now, look);
        }),
      );
    }
    for (const id of ids) {
      const device = rollout.devices[id]!;
      // a paused rollout does not offer, so a device waiting for its offer does not fail meanwhile
      const waiting = device.state === 'pending' && rollout.status === 'running';
      if (
        (waiting || device.state === 'offered' || device.state === 'booted') &&
        device.started !== undefined &&
        now - device.started > deadline
      ) {
        const why =
          device.state === 'pending'
            ? `could not be offered ${rollout.version} within the deadline (${formatMs(deadline)})${device.reason ? `: ${device.reason}` : ''}`
            : `did not come back on ${rollout.version} within the deadline (${formatMs(deadline)})`;
        await this.#tellRollback(id, device, why);
        this.#fail(rollout, id, device, why);
      }
    }
  }

  async #offer(
    rollout: Rollout,
    id: string,
    device: DeviceRecord,
    now: number,
    look: (id: string) => Promise<{ fw: string; online: boolean } | undefined>,
  ): Promise<void> {
    const seen = await look(id);
    if (seen?.fw === rollout.version) {
      // idempotent: never offered (so never downloaded) twice
      if (device.offer) {
        // offered before and back on the version: what became of its offer is not known
        this.#recheck.add(id);
        await this.#confirmBack(id, device, now);
      } else
        Object.assign(device, { state: 'skipped', reason: `already runs ${rollout.version}`, updated: now });
      return;
    }
    try {
      const offer = await this.o.fleet.offer(id, device.image, {
        allowDowngrade: rollout.allow_downgrade,
        credentialTtlMs: rollout.deadline_ms,
      });
      // the deadline counts from the offer (from the first try while it could not be made)
      Object.assign(device, { state: 'offered', offer, percent: 0, started: now, updated: now });
      delete device.reason;
      this.#log.info(
        { rollout: rollout.id, device: id, offer, version: rollout.version },
        'OTA rollout offered',
      );
    } catch (error) {
      const reason = reasonOf(error);
      if (reason === 'already_installed') {
        Object.assign(device, { state: 'skipped', reason: `already runs ${rollout.version}`, updated: now });
      } else if (typeof reason === 'string' && TRANSIENT.has(reason)) {
        device.reason = messageOf(error); // tried again on the next tick
      } else {
        this.#fail(rollout, id, device, `refused: ${messageOf(error)}`);
      }
    }
  }

  /**
   * A device found back on the version whose progress was lost: confirmed once the confirm
   * reached it. It may have confirmed the image before the leader changed, and a device
   * does not report that a second time; until the confirm can be sent (the device not
   * connected to any node yet) it stays booted and rechecked.
   */
  async #confirmBack(id: string, device: DeviceRecord, now: number): Promise<void> {
    Object.assign(device, { state: 'booted', updated: now });
    await this.#confirm(id, device);
    if (this.#confirmOwed.has(id)) return;
    Object.assign(device, { state: 'confirmed', updated: now });
    this.#settled.add(id);
  }

  async #confirm(id: string, device: DeviceRecord): Promise<void> {
    if (!device.offer) return;
    try {
      await this.o.fleet.confirm(id, device.offer);
      this.#confirmOwed.delete(id);
    } catch (error) {
      this.#confirmOwed.add(id);
      this.#log.warn({ device: id, offer: device.offer, err: messageOf(error) }, 'OTA confirm not sent yet');
    }
  }

  async #tellRollback(id: string, device: DeviceRecord, reason: string): Promise<void> {
    if (!device.offer) return;
    await this.o.fleet.rollback(id, device.offer, reason).catch((error: unknown) => {
      // a device that never comes back rolls back by itself: it was never confirmed
      this.#log.warn({ device: id, offer: device.offer, err: messageOf(error) }, 'OTA rollback not sent');
    });
  }

  /** A device failed: recorded, and the rollout pauses on the first failure, naming it. */
  #fail(rollout: Rollout, id: string, device: DeviceRecord, reason: string): void {
    Object.assign(device, { state: 'failed', reason, updated: this.#now() });
    this.#confirmOwed.delete(id);
    this.#log.warn({ rollout: rollout.id, device: id, reason }, 'OTA rollout: device failed');
    if (rollout.status === 'running') {
      rollout.status = 'paused';
      rollout.paused_device = id;
      rollout.paused_reason = `${id} ${reason}`;
      this.#log.warn({ rollout: rollout.id, device: id }, 'OTA rollout paused on the first failure');
    }
  }

  /** The next stage once every device of this one is done (a failed one only counts after a resume). */
  #advance(rollout: Rollout, now: number): void {
    if (rollout.status !== 'running') return;
    const ids = rollout.stages[rollout.stage] ?? [];
    const done = ids.every((id) => {
      const state = rollout.devices[id]!.state;
      return state === 'confirmed' || state === 'skipped' || state === 'failed';
    });
    if (!done) return;
    rollout.stage += 1;
    if (rollout.stage >= rollout.stages.length) {
      rollout.stage = rollout.stages.length;
      rollout.status = 'completed';
      this.#log.info({ rollout: rollout.id, version: rollout.version }, 'OTA rollout completed');
    }
    rollout.updated = now;
  }
}
