// The picket adapter: turns picket protocol v1 messages (CONTRACT.md §4), from
// either transport, into the entity model, and entity commands into device
// commands. Every bad message is dropped with a specific reason and a counter;
// the connection and every other device carry on.
import { createHash, randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import {
  type Command,
  type CommandResult,
  CommandResultSchema,
  type Hello,
  HelloSchema,
  type OtaProgressMessage,
  OtaProgressMessageSchema,
  type Platform,
  type ReadingValue,
  StateSchema,
  StatusSchema,
} from '@sentinel/firmware';
import type { z } from 'zod';
import type { ResendFilter } from '../cluster/resend-filter.js';
import type { ThrottledLog } from '../log.js';
import type { Metrics, RejectReason } from '../metrics.js';
import type { Availability } from '../model/availability.js';
import { isWinningReading } from '../model/bindings.js';
import { type CommandReply, type CommandRequest, type CommandTarget, failure } from '../model/commands.js';
import type { Binding } from '../model/records.js';
import type { Registry } from '../model/registry.js';
import type { StatePublisher } from '../model/state.js';
import { TokenBucket } from './rate.js';
import type { PicketSession } from './session.js';

export type PicketMessageKind = 'hello' | 'state' | 'status' | 'cmd/result' | 'ota/progress';

/**
 * What OTA (gateway/src/ota/fleet.ts) learns from devices: every registered hello (the
 * version a device runs tells whether it came back on the new image) and every progress
 * report, which it answers with an Outcome (an offer it never made is refused).
 */
export interface PicketOtaHandler {
  hello(session: PicketSession, hello: Hello): void;
  progress(session: PicketSession, progress: OtaProgressMessage): Outcome;
}

/**
 * What became of a message. `stored` is the seq of a state message that is done
 * with: its valid values stored (durably, when asked). A device may forget it,
 * even if some of its values were refused — they would be refused again.
 */
export type Outcome = ({ ok: true } | { ok: false; reason: RejectReason; message: string }) & {
  stored?: number;
};

/** `frame`: a picket WebSocket frame, one JSON object whose `type` names the message. */
export type PicketInput = PicketMessageKind | 'frame';

/** WebSocket frame types (CONTRACT.md §4); a Map, so `constructor` is not one */
const FRAME_KINDS = new Map<unknown, Exclude<PicketMessageKind, 'status'>>([
  ['hello', 'hello'],
  ['state', 'state'],
  ['cmd_result', 'cmd/result'],
  ['ota_progress', 'ota/progress'],
]);

const PROTOCOL = 'picket';
const ok: Outcome = { ok: true };

/** Which reading values each platform accepts (a wrong type is dropped as invalid_value). */
const READING_TYPES: Record<Platform, readonly ('number' | 'boolean' | 'string')[]> = {
  sensor: ['number', 'string'],
  binary_sensor: ['boolean'],
  switch: ['boolean'],
  light: ['boolean', 'number'],
  number: ['number'],
  button: ['boolean', 'string'],
  event: ['string'],
  text: ['string'],
  climate: ['number', 'string'],
  cover: ['number', 'string'],
  lock: ['boolean', 'string'],
  fan: ['boolean', 'number'],
  select: ['string'],
};

export interface PicketAdapterOptions {
  registry: Registry;
  state: StatePublisher;
  availability: Availability;
  metrics: Metrics;
  log: ThrottledLog;
  maxMessageBytes: number;
  deviceRate: number;
  deviceBurst: number;
  /** looks resent readings up in SENTINEL_HISTORY, so one stored by another node is not published again */
  resends?: ResendFilter;
}

interface PendingCommand {
  deviceId: string;
  settle(reply: CommandReply): void;
}

export class PicketAdapter implements CommandTarget {
  readonly protocol = PROTOCOL;
  readonly #sessions = new Map<string, PicketSession>();
  readonly #buckets = new WeakMap<PicketSession, TokenBucket>();
  /** a hello being registered, per session: readings wait for it (a device pipelines hello and state) */
  readonly #hellos = new WeakMap<PicketSession, Promise<Outcome>>();
  readonly #pending = new Map<string, PendingCommand>();
  #ota: PicketOtaHandler | undefined;

  readonly #readingsFast;
  readonly #readingsDurable;
  readonly #throttled;

  constructor(private readonly o: PicketAdapterOptions) {
    this.#readingsFast = o.metrics.readings.labels(PROTOCOL, '0');
    this.#readingsDurable = o.metrics.readings.labels(PROTOCOL, '1');
    this.#throttled = o.metrics.throttled.labels(PROTOCOL);
  }

  readonly isOnline = (deviceId: string): boolean => this.o.availability.isOnline(deviceId);

  /** A device connected and authenticated. A second connection with the same id replaces the first. */
  async open(session: PicketSession): Promise<void> {
    const previous = this.#sessions.get(session.picketId);
    this.#sessions.set(session.picketId, session);
    this.#buckets.set(session, new TokenBucket(this.o.deviceRate, this.o.deviceBurst));
    this.o.resends?.opened(session);
    if (previous && previous !== session) previous.close('replaced by a new connection');
    await this.o.availability.deviceOnline(this.#describe(session.deviceId));
  }

  /** The connection ended (socket closed, keepalive lost, replaced, revoked). */
  async closed(session: PicketSession): Promise<void> {
    if (this.#sessions.get(session.picketId) !== session) return; // a replaced connection
    this.#sessions.delete(session.picketId);
    // commands under way stay pending until their deadline: a device that applied
    // one and reconnects (or replies from a new connection) still confirms it
    await this.o.availability.deviceOffline(session.deviceId);
  }

  /** Answers every command still waiting for a device (the gateway is stopping). */
  failPending(reason: string): void {
    for (const pending of this.#pending.values()) pending.settle(failure('unavailable', reason));
    this.#pending.clear();
  }

  /** The device's credentials were revoked: end its connection now. */
  revoke(picketId: string): void {
    this.#sessions.get(picketId)?.close('credentials revoked');
  }

  sessions(): PicketSession[] {
    return [...this.#sessions.values()];
  }

  /** The live connection of a picket device on this node. */
  session(picketId: string): PicketSession | undefined {
    return this.#sessions.get(picketId);
  }

  /** OTA follows hellos and progress reports from here on. */
  handleOta(handler: PicketOtaHandler): void {
    this.#ota = handler;
  }

  /**
   * Handles one message from a device. The result is there when the message is
   * fully processed; for a durable state message that means stored in JetStream (so
   * the transport may acknowledge it). It is a promise only when something had to
   * wait (storage, a throttled device, a hello being registered): most readings
   * take no promise at all. Bad input is an Outcome, never a rejection.
   */
  receive(
    session: PicketSession,
    kind: PicketInput,
    payload: Buffer,
    durable: boolean,
  ): Outcome | Promise<Outcome> {
    const wait = this.#buckets.get(session)?.take() ?? 0;
    if (wait > 0) {
      this.#throttled.inc();
      return delay(wait).then(() => this.#receive(session, kind, payload, durable));
    }
    return this.#receive(session, kind, payload, durable);
  }

  #receive(
    session: PicketSession,
    input: PicketInput,
    payload: Buffer,
    durable: boolean,
  ): Outcome | Promise<Outcome> {
    if (payload.length > this.o.maxMessageBytes) {
      return this.reject(
        session,
        'oversized',
        `${input} of ${payload.length} bytes is over the limit of ${this.o.maxMessageBytes}`,
      );
    }
    this.o.availability.touch(session.deviceId);
    if (input === 'status') return this.#status(session, payload.toString().trim());
    let body: unknown;
    try {
      body = JSON.parse(payload.toString());
    } catch {
      return this.reject(session, 'malformed_json', `${input} is not valid JSON`);
    }
    const type = input === 'frame' ? (body as { type?: unknown } | null)?.type : undefined;
    const kind = input === 'frame' ? FRAME_KINDS.get(type) : input;
    if (!kind) {
      return this.reject(
        session,
        'schema_invalid',
        `frame type must be hello, state, cmd_result or ota_progress (got ${JSON.stringify(type)})`,
      );
    }
    if (kind === 'hello') {
      const registered = this.#hello(session, body);
      this.#hellos.set(session, registered);
      void registered.finally(() => {
        if (this.#hellos.get(session) === registered) this.#hellos.delete(session);
      });
      return registered;
    }
    const hello = this.#hellos.get(session);
    if (hello) return hello.then(() => this.#afterHello(session, kind, body, durable, payload));
    return this.#afterHello(session, kind, body, durable, payload);
  }

  #afterHello(
    session: PicketSession,
    kind: 'state' | 'cmd/result' | 'ota/progress',
    body: unknown,
    durable: boolean,
    raw: Buffer,
  ) {
    if (kind === 'state') return this.#state(session, body, durable, raw);
    return kind === 'cmd/result' ? this.#commandResult(session, body) : this.#otaProgress(session, body);
  }

  #otaProgress(session: PicketSession, body: unknown): Outcome {
    // (a WebSocket frame's `type` is stripped like any unknown key)
    const progress = OtaProgressMessageSchema.safeParse(body);
    if (!progress.success)
      return this.reject(session, 'schema_invalid', `ota/progress: ${describeIssue(progress.error)}`);
    if (!this.#ota)
      return this.reject(
        session,
        'unknown_offer',
        `ota/progress: this gateway made no offer ${progress.data.offer}`,
      );
    return this.#ota.progress(session, progress.data);
  }

  /** Counts and logs a dropped message, and tells the device where its transport can. */
  reject(session: PicketSession, reason: RejectReason, message: string, seq?: number): Outcome {
    this.o.metrics.rejected.inc({ protocol: PROTOCOL, reason });
    this.o.log.warn(`${session.deviceId}:${reason}`, { device_id: session.deviceId, reason }, message);
    session.reportRejected(reason, message, seq);
    return { ok: false, reason, message };
  }

  async #status(session: PicketSession, text: string): Promise<Outcome> {
    const status = StatusSchema.safeParse(text);
    if (!status.success)
      return this.reject(session, 'schema_invalid', 'status must be "online" or "offline"');
    if (this.#sessions.get(session.picketId) !== session) return ok; // the will of a replaced connection
    if (status.data === 'online') await this.o.availability.deviceOnline(this.#describe(session.deviceId));
    else await this.o.availability.deviceOffline(session.deviceId);
    return ok;
  }

  async #hello(session: PicketSession, body: unknown): Promise<Outcome> {
    const hello = HelloSchema.safeParse(body);
    if (!hello.success) return this.reject(session, 'schema_invalid', `hello: ${describeIssue(hello.error)}`);
    const { name, model, manufacturer, fw, chip, entities } = hello.data;
    const deviceName = name ?? this.o.registry.device(session.deviceId)?.name ?? session.deviceId;
    // entities first, the device record last: whoever sees the new record finds its entities in place
    await this.o.registry.ensureEntities(PROTOCOL, session.deviceId, deviceName, entities);
    await this.o.availability.deviceOnline({
      ...this.#describe(session.deviceId),
      name: deviceName,
      model,
      manufacturer,
      sw_version: fw,
      chip,
    });
    await this.o.availability.refreshEntities(session.deviceId);
    this.#ota?.hello(session, hello.data);
    return ok;
  }

  #state(session: PicketSession, body: unknown, durable: boolean, raw: Buffer): Outcome | Promise<Outcome> {
    const parsed = StateSchema.safeParse(body);
    if (!parsed.success) {
      const seq = (body as { seq?: unknown } | null)?.seq;
      return this.reject(
        session,
        'schema_invalid',
        `state: ${describeIssue(parsed.error)}`,
        typeof seq === 'number' ? seq : undefined,
      );
    }
    const reading = parsed.data;
    const resends = this.o.resends;
    if (!durable || reading.ts === undefined || !resends?.mayBeResend(session, reading.ts)) {
      return this.#publishState(session, reading, durable, raw);
    }
    const ts = reading.ts;
    return Promise.all(
      Object.keys(reading.values).map(async (key) => {
        const entity = this.o.registry.entityFor(PROTOCOL, session.deviceId, key);
        const known =
          entity &&
          (await resends.isStored(session, {
            deviceId: session.deviceId,
            entityId: entity.id,
            seq: reading.seq,
            key,
            ts,
          }));
        return known ? key : undefined;
      }),
    ).then((keys) =>
      this.#publishState(session, reading, durable, raw, new Set(keys.filter((k) => k !== undefined))),
    );
  }

  #publishState(
    session: PicketSession,
    reading: z.infer<typeof StateSchema>,
    durable: boolean,
    raw: Buffer,
    /** keys of a resent reading that is stored already (acknowledged, not published again) */
    storedKeys?: ReadonlySet<string>,
  ): Outcome | Promise<Outcome> {
    const { seq, values } = reading;
    const ts = reading.ts ?? Date.now();
    const digest = durable ? createHash('sha1').update(raw).digest('base64url').slice(0, 12) : '';
    const stored: Promise<void>[] = [];
    let outcome: Outcome = ok;
    for (const key in values) {
      if (storedKeys?.has(key)) continue;
      const value = values[key]!;
      const entity = this.o.registry.entityFor(PROTOCOL, session.deviceId, key);
      if (!entity) {
        outcome = this.reject(
          session,
          'unknown_entity_key',
          `state: "${key}" was not declared in a hello`,
          seq,
        );
        continue;
      }
      if (!acceptsReading(entity.platform, value)) {
        outcome = this.reject(
          session,
          'invalid_value',
          `state: ${JSON.stringify(value)} is not a ${entity.platform} value`,
          seq,
        );
        continue;
      }
      const source = { protocol: PROTOCOL, device_id: session.deviceId, key };
      if (!isWinningReading(entity, source, this.isOnline)) continue;
      const message = {
        entity_id: entity.id,
        value,
        ts,
        ...(entity.unit === undefined ? {} : { unit: entity.unit }),
        source,
      };
      const published = this.o.state.publish(
        message,
        durable
          ? { msgId: `${session.deviceId}:${seq}:${key}:${digest}`, abandoned: () => session.ended }
          : undefined,
      );
      if (published) stored.push(published);
    }
    const done: Outcome = outcome.ok ? { ok: true, stored: seq } : { ...outcome, stored: seq };
    if (stored.length === 0) {
      this.#readingsFast.inc();
      return done;
    }
    return Promise.all(stored).then(() => {
      this.#readingsDurable.inc();
      return done;
    });
  }

  #commandResult(session: PicketSession, body: unknown): Outcome {
    const result = CommandResultSchema.safeParse(body);
    if (!result.success)
      return this.reject(session, 'schema_invalid', `cmd/result: ${describeIssue(result.error)}`);
    const pending = this.#pending.get(result.data.cid);
    if (!pending || pending.deviceId !== session.deviceId) {
      return this.reject(session, 'unknown_command_id', `cmd/result for unknown cid ${result.data.cid}`);
    }
    this.#pending.delete(result.data.cid);
    pending.settle(replyFor(result.data));
    return ok;
  }

  async send(binding: Binding, request: CommandRequest, timeoutMs: number): Promise<CommandReply> {
    const session = this.#sessions.get(binding.device_id.slice(`${PROTOCOL}-`.length));
    if (!session) return failure('unavailable', `${binding.device_id} is not connected`);
    const command: Command = { cid: randomUUID(), key: binding.key };
    if (request.value !== undefined) command.value = request.value;
    if (request.action !== undefined) command.action = request.action;
    return new Promise<CommandReply>((resolve) => {
      const timer = setTimeout(() => {
        this.#pending.delete(command.cid);
        resolve(failure('timeout', `${binding.device_id} did not confirm within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(command.cid, {
        deviceId: binding.device_id,
        settle: (reply) => {
          clearTimeout(timer);
          resolve(reply);
        },
      });
      if (!session.deliverCommand(command)) {
        this.#pending
          .get(command.cid)
          ?.settle(failure('unavailable', `${binding.device_id} is not subscribed to its command topic`));
        this.#pending.delete(command.cid);
      }
    });
  }

  #describe(deviceId: string) {
    const known = this.o.registry.device(deviceId);
    return { id: deviceId, protocol: PROTOCOL, name: known?.name ?? deviceId };
  }
}

function acceptsReading(platform: Platform, value: ReadingValue): boolean {
  return value === null || READING_TYPES[platform].includes(typeof value as 'number' | 'boolean' | 'string');
}

function replyFor(result: CommandResult): CommandReply {
  return result.ok ? { ok: true } : failure('rejected', result.error ?? 'the device refused the command');
}

function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0]!;
  return issue.path.length > 0 ? `${issue.path.join('.')}: ${issue.message}` : issue.message;
}
