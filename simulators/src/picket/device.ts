// A simulated picket device (CONTRACT.md §4): it measures, says hello, streams
// state messages with an increasing seq, obeys commands, and keeps reconnecting
// with backoff. The wire itself is a PicketTransport (MQTT or picket WebSocket).
import { EventEmitter } from 'node:events';
import {
  type Command,
  type CommandResult,
  type Hello,
  HelloSchema,
  type OtaProgressMessage,
  PicketIdSchema,
  type State,
} from '@sentinel/firmware';
import { z } from 'zod';
import { Backoff, type BackoffOptions } from '../backoff.js';
import { type Cancel, type Clock, systemClock } from '../clock.js';
import { type Random, systemRandom } from '../random.js';
import {
  applyCommand,
  defaultPicketEntities,
  type EntityContext,
  readAll,
  type SimulatedEntity,
} from './entities.js';
import { OtaAgent, type OtaEvent, type OtaFault, type PicketOtaOptions } from './ota.js';
import {
  ConnectFailure,
  type DeviceProblem,
  type LinkHandlers,
  type PicketLink,
  type PicketTransport,
  type QoS,
  SimulatorOptionsError,
  type TransportTuning,
} from './transport.js';
import { transportFor } from './transports.js';
import { UnackedStates } from './unacked.js';

export interface PicketDeviceOptions extends TransportTuning {
  /** the picket id ([a-z0-9][a-z0-9_-]{0,57}); its bus id is picket-<id> */
  id: string;
  /** the token `sentinel device add <id>` printed */
  token: string;
  /**
   * mqtt://host:port, ws://host:port/mqtt or ws://host:port/picket (or give `transport`);
   * a list (the nodes of a cluster) is tried in turn, starting with the one that last worked
   */
  gateway?: string | URL | readonly (string | URL)[];
  /** time between state messages (default 5000 ms) */
  intervalMs?: number;
  /** 1 (default): keep states until the gateway confirms them, resend after reconnects; 0: fire and forget */
  qos?: QoS;
  /** how many unconfirmed states are kept (default 100); the oldest goes first */
  bufferSize?: number;
  backoff?: Partial<BackoffOptions>;
  /** a connection that lasted this long counts as healthy and resets the backoff (default 10 s) */
  stableAfterMs?: number;
  /** override hello's descriptive fields (fw, chip, model, name, manufacturer) */
  hello?: Partial<Omit<Hello, 'v' | 'entities'>>;
  /** what the device has (default: temperature, humidity, relay) */
  entities?: (context: EntityContext) => SimulatedEntity[];
  random?: Random;
  clock?: Clock;
  /** use this instead of the transport the gateway URL implies */
  transport?: PicketTransport;
  /** take OTA updates (docs/ota.md): two slots, download, verification, pending-verify, rollback */
  ota?: PicketOtaOptions;
}

export type PicketDeviceStatus = 'idle' | 'connecting' | 'connected' | 'waiting' | 'stopping';

export interface PicketDeviceStats {
  /** state messages written to a connection, resends included */
  sent: number;
  /** of those, ones that had been written before */
  resent: number;
  /** states the gateway confirmed as stored */
  acked: number;
  /** commands answered (accepted or refused) */
  commands: number;
  /** readings lost because the unconfirmed buffer was full */
  dropped: number;
  /** successful connections so far */
  connects: number;
  /** states waiting for confirmation */
  unacked: number;
}

/** OTA reports kept while offline (a reboot, a power cut), sent after the next hello */
const MAX_QUEUED_REPORTS = 32;

/** The events tests and tools await; every payload is plain data. */
export type PicketDeviceEvents = {
  connecting: [{ attempt: number }];
  /** hello (and any resends) are on their way; commands are being received */
  connected: [];
  disconnected: [{ reason: string }];
  /** waiting before the next connection attempt */
  retrying: [{ attempt: number; delayMs: number }];
  problem: [DeviceProblem];
  state: [{ state: State; resend: boolean }];
  acked: [{ seq: number }];
  command: [{ command: Command; result: CommandResult }];
  /** OTA: downloads, rejections, power cuts, boots, confirmations, rollbacks */
  ota: [OtaEvent];
  stopped: [];
};

const DEFAULT_HELLO = {
  fw: '1.4.0',
  chip: 'esp32s3',
  model: 'picket-sim',
  manufacturer: 'Sentinel',
} as const;

const TuningSchema = z.object({
  intervalMs: z.number().int().min(10, 'intervalMs must be at least 10'),
  bufferSize: z.number().int().min(1, 'bufferSize must be at least 1'),
  stableAfterMs: z.number().min(0),
  token: z.string().min(1, 'token must not be empty'),
});

export class PicketDevice extends EventEmitter<PicketDeviceEvents> {
  readonly id: string;
  readonly qos: QoS;
  readonly intervalMs: number;
  readonly transport: PicketTransport;

  readonly #clock: Clock;
  readonly #entities: SimulatedEntity[];
  readonly #backoff: Backoff;
  readonly #unacked: UnackedStates;
  readonly #stableAfterMs: number;
  /** seqs already written once, so a later write counts as a resend */
  readonly #written = new Set<number>();
  readonly #stats = { sent: 0, resent: 0, acked: 0, commands: 0, connects: 0 };

  #nextSeq = 0;
  #status: PicketDeviceStatus = 'idle';
  #running = false;
  #loop: Promise<void> | undefined;
  #link: PicketLink | undefined;
  /** ends the current connection from our side (stop) */
  #hangUp: ((reason: string) => void) | undefined;
  #abortConnect: AbortController | undefined;
  #cancelTick: Cancel | undefined;
  #cancelWait: (() => void) | undefined;
  #values: Record<string, State['values'][string]> = {};
  readonly #hello: Hello;
  readonly #ota: OtaAgent | undefined;
  readonly #otaReports: OtaProgressMessage[] = [];
  /** a reboot under way: offline until `off` passes, then `onBoot` */
  #restart: { until: Promise<void>; cancel: () => void; onBoot: () => void } | undefined;

  constructor(options: PicketDeviceOptions) {
    super();
    const id = PicketIdSchema.safeParse(options.id);
    if (!id.success)
      throw new SimulatorOptionsError(`device id "${options.id}": ${id.error.issues[0]?.message}`);
    const tuning = TuningSchema.safeParse({
      intervalMs: options.intervalMs ?? 5000,
      bufferSize: options.bufferSize ?? 100,
      stableAfterMs: options.stableAfterMs ?? 10_000,
      token: options.token,
    });
    if (!tuning.success) throw new SimulatorOptionsError(`${options.id}: ${tuning.error.issues[0]?.message}`);

    this.id = options.id;
    this.qos = options.qos ?? 1;
    this.intervalMs = tuning.data.intervalMs;
    this.#stableAfterMs = tuning.data.stableAfterMs;
    this.#clock = options.clock ?? systemClock;
    const random = options.random ?? systemRandom;
    this.#entities = (options.entities ?? defaultPicketEntities)({ random, clock: this.#clock });
    this.#backoff = new Backoff(options.backoff, random);
    this.#unacked = new UnackedStates(tuning.data.bufferSize);

    const hello = HelloSchema.safeParse({
      v: 1,
      ...DEFAULT_HELLO,
      name: options.id,
      ...options.hello,
      entities: this.#entities.map((e) => e.description),
    });
    if (!hello.success)
      throw new SimulatorOptionsError(`${options.id}: invalid hello: ${z.prettifyError(hello.error)}`);
    this.#hello = hello.data;
    if (options.ota) {
      this.#ota = new OtaAgent(
        {
          id: options.id,
          chip: hello.data.chip,
          token: options.token,
          clock: this.#clock,
          report: (progress) => this.#reportOta(progress),
          restart: (offMs, onBoot) => this.#reboot(offMs, onBoot),
          event: (event) => this.emit('ota', event),
        },
        hello.data.fw,
        options.ota,
      );
    }

    if (!options.transport && options.gateway === undefined) {
      throw new SimulatorOptionsError(
        `${options.id}: say where the gateway is (gateway) or how to reach it (transport)`,
      );
    }
    this.transport =
      options.transport ??
      transportFor(options.gateway!, { id: options.id, token: options.token }, this.qos, {
        connectTimeoutMs: options.connectTimeoutMs,
        keepaliveSeconds: options.keepaliveSeconds,
        closeTimeoutMs: options.closeTimeoutMs,
      });
  }

  /** The hello of the next connection: the running slot's version, and what OTA needs to know. */
  get hello(): Hello {
    const ota = this.#ota;
    if (!ota) return this.#hello;
    const pending = ota.pendingOffer;
    return {
      ...this.#hello,
      fw: ota.version,
      ota_slot_size: ota.slotSize,
      ...(ota.signedOta ? { signed_ota: true } : {}),
      ...(pending ? { ota_pending: pending } : {}),
    };
  }

  /** OTA: the running slot, its version, and the offer it runs unconfirmed (undefined without `ota`) */
  get ota(): { slot: number; version: string; pending: string | undefined } | undefined {
    const ota = this.#ota;
    return ota && { slot: ota.runningSlot, version: ota.version, pending: ota.pendingOffer };
  }

  /** OTA: arms a fault for the next update (corrupted download, power cut, no reconnect, crash at boot). */
  injectOtaFault(fault: OtaFault): void {
    if (!this.#ota) throw new SimulatorOptionsError(`${this.id}: OTA faults need the ota option`);
    this.#ota.inject(fault);
  }

  get status(): PicketDeviceStatus {
    return this.#status;
  }

  get stats(): PicketDeviceStats {
    return { ...this.#stats, dropped: this.#unacked.dropped, unacked: this.#unacked.size };
  }

  /** the values of the latest state message */
  get values(): Readonly<State['values']> {
    return this.#values;
  }

  /** Starts connecting (and retrying) in the background; await events to follow it. */
  start(): void {
    if (this.#running) return;
    if (this.#loop)
      throw new SimulatorOptionsError(`${this.id}: start() while the previous stop() is still running`);
    this.#running = true;
    this.#scheduleTick();
    this.#loop = this.#run().finally(() => {
      this.#loop = undefined;
    });
  }

  /** Goes offline cleanly (MQTT: `offline` then DISCONNECT; WebSocket: close) and stops every timer. */
  async stop(): Promise<void> {
    if (!this.#running) return this.#loop;
    this.#running = false;
    this.#status = 'stopping';
    this.#cancelTick?.();
    this.#cancelTick = undefined;
    this.#abortConnect?.abort();
    this.#cancelWait?.();
    this.#restart?.cancel();
    this.#ota?.stop();
    this.#hangUp?.('stopped');
    await this.#loop;
    this.#status = 'idle';
    this.emit('stopped');
  }

  /** Takes a reading and sends it now (also what the interval timer does). */
  publishState(): State | undefined {
    const values = readAll(this.#entities, this.#clock.now());
    this.#values = values;
    // QoS 0 while offline: the reading would go nowhere, so it never becomes a state message
    if (!this.#link && !this.transport.confirmsStates) return undefined;
    const state: State = { seq: this.#nextSeq++, ts: this.#clock.now(), values };
    if (this.transport.confirmsStates) {
      const dropped = this.#unacked.add(state);
      if (dropped) {
        this.#written.delete(dropped.seq);
        this.#problem({
          code: 'reading_dropped',
          seq: dropped.seq,
          message: `${this.id}: ${this.#unacked.capacity} readings await confirmation; forgot seq ${dropped.seq}`,
        });
      }
    }
    if (this.#link) this.#write(this.#link, state);
    return state;
  }

  async #run(): Promise<void> {
    while (this.#running) {
      // a reboot: offline for a while, then the boot (which may reboot again: a crash, a rollback)
      while (this.#restart && this.#running) {
        const restart = this.#restart;
        this.#status = 'waiting';
        await restart.until;
        if (this.#restart === restart) this.#restart = undefined;
        if (this.#running) restart.onBoot();
      }
      if (!this.#running) break;
      const outcome = await this.#connectOnce();
      if (!this.#running) break;
      if (this.#restart) {
        this.#backoff.reset();
        continue;
      }
      if (outcome === 'held') this.#backoff.reset();
      const attempt = this.#backoff.attempt + 1;
      const delayMs = this.#backoff.next();
      this.#status = 'waiting';
      this.emit('retrying', { attempt, delayMs });
      await this.#wait(delayMs);
    }
  }

  /** One connection from attempt to loss: 'failed' (never connected), 'brief' or 'held' (lasted stableAfterMs). */
  async #connectOnce(): Promise<'failed' | 'brief' | 'held'> {
    this.#status = 'connecting';
    this.emit('connecting', { attempt: this.#backoff.attempt + 1 });
    let link: PicketLink | undefined;
    // a command can arrive before connect() has returned the link; it waits here for it
    const early: Command[] = [];
    let lost: ((reason: string) => void) | undefined;
    const closed = new Promise<string>((resolve) => {
      lost = resolve;
    });
    const handlers: LinkHandlers = {
      onCommand: (command) => (link ? this.#obey(link, command) : early.push(command)),
      onAck: (seq) => this.#acked(seq),
      onProblem: (problem) => this.#problem(problem),
      onClose: (reason) => lost?.(reason),
      onOta: (message) => this.#ota?.handle(message),
    };

    const abort = new AbortController();
    this.#abortConnect = abort;
    try {
      link = await this.transport.connect(handlers, abort.signal);
    } catch (error) {
      if (this.#running) this.#problem(connectProblem(error));
      return 'failed';
    } finally {
      this.#abortConnect = undefined;
    }
    if (!this.#running || this.#restart) {
      await link.close();
      return 'failed';
    }

    const connectedAt = this.#clock.now();
    this.#link = link;
    this.#hangUp = (reason) => lost?.(reason);
    this.#stats.connects++;
    this.#status = 'connected';
    link.sendHello(this.hello);
    for (const state of this.#unacked.pending()) this.#write(link, state);
    for (const report of this.#otaReports.splice(0)) link.sendOtaProgress?.(report);
    this.#ota?.connected();
    this.emit('connected');
    for (const command of early) this.#obey(link, command);
    // a fresh reading at once, then the regular rhythm from here
    this.publishState();
    this.#scheduleTick();

    const reason = await closed;
    this.#link = undefined;
    this.#hangUp = undefined;
    if (reason === 'stopped' || reason === 'rebooting') await link.close();
    this.emit('disconnected', { reason });
    return this.#clock.now() - connectedAt >= this.#stableAfterMs ? 'held' : 'brief';
  }

  #write(link: PicketLink, state: State): void {
    const resend = this.#written.has(state.seq);
    if (this.transport.confirmsStates) this.#written.add(state.seq);
    link.sendState(state);
    this.#stats.sent++;
    if (resend) this.#stats.resent++;
    this.emit('state', { state, resend });
  }

  #obey(link: PicketLink, command: Command): void {
    const outcome = applyCommand(this.#entities, command);
    const result: CommandResult = outcome.ok
      ? { cid: command.cid, ok: true }
      : { cid: command.cid, ok: false, error: outcome.error };
    link.sendResult(result);
    this.#stats.commands++;
    this.emit('command', { command, result });
    // the gateway learns the new value right away, not at the next tick
    if (outcome.ok) this.publishState();
  }

  #reportOta(progress: OtaProgressMessage): void {
    const link = this.#link;
    if (link?.sendOtaProgress) {
      link.sendOtaProgress(progress);
      return;
    }
    this.#otaReports.push(progress);
    if (this.#otaReports.length > MAX_QUEUED_REPORTS) this.#otaReports.shift();
  }

  /** esp_restart(): the connection drops now, the device is back after `offMs` and boots. */
  #reboot(offMs: number, onBoot: () => void): void {
    this.#restart?.cancel();
    let cancel: () => void = () => {};
    const until = new Promise<void>((resolve) => {
      const stopTimer = this.#clock.schedule(offMs, resolve);
      cancel = () => {
        stopTimer();
        resolve();
      };
    });
    this.#restart = { until, cancel, onBoot };
    this.#hangUp?.('rebooting');
    // waiting out a backoff: the reboot starts at once
    this.#cancelWait?.();
  }

  #acked(seq: number): void {
    if (!this.#unacked.ack(seq)) return;
    this.#written.delete(seq);
    this.#stats.acked++;
    this.emit('acked', { seq });
  }

  #problem(problem: DeviceProblem): void {
    this.emit('problem', problem);
  }

  #scheduleTick(): void {
    this.#cancelTick?.();
    this.#cancelTick = this.#clock.schedule(this.intervalMs, () => {
      if (!this.#running) return;
      this.publishState();
      this.#scheduleTick();
    });
  }

  #wait(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const cancel = this.#clock.schedule(ms, done);
      function done() {
        cancel();
        resolve();
      }
      this.#cancelWait = done;
    }).finally(() => {
      this.#cancelWait = undefined;
    });
  }
}

function connectProblem(error: unknown): DeviceProblem {
  if (error instanceof ConnectFailure) return error.problem;
  return { code: 'unreachable', message: error instanceof Error ? error.message : String(error) };
}
