// The automation runtime: one NATS connection (the automations credential), the entity
// directory and latest states, and every loaded automation with its triggers, mode and
// traces. Bus messages are handled one at a time in arrival order, so a trigger sees
// readings in the order they were published: synchronously in the NATS callback while
// every trigger answers synchronously (the hot path: no promise per message), behind a
// queue only while a trigger's work is asynchronous (loading its durable state).
// Files run in sandbox workers, each a runtime of this class for its group (`worker`
// hooks set) with its own connection: this one supervises them (isolation/sandbox.ts).
import { EventEmitter, setMaxListeners } from 'node:events';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type KV, Kvm } from '@nats-io/kv';
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { type Clock, type ClockJump, systemClock } from '../clock.js';
import { type Duration, parseDuration } from '../duration.js';
import {
  type AutomationContext,
  type CommandReply,
  type Condition,
  type EntityRef,
  type StateValue,
  type TriggerEvent,
  type ValidDefinition,
  validateDefinition,
} from '../sdk/define.js';
import {
  CHANNEL_PATTERN,
  type NotificationInput,
  type NotifyMessage,
  notificationSchema,
  notifySubject,
} from '../sdk/notify.js';
import { EntityDirectory } from './entities.js';
import type { WorkerConnection } from './isolation/protocol.js';
import { SANDBOX_DEFAULTS, type SandboxOptions, SandboxPool } from './isolation/sandbox.js';
import { compileAutomationFile, fileAutomationId, loadAutomationFile } from './loader.js';
import { ModeRunner } from './modes.js';
import { AutomationKv, openAutomationBucket, type TriggerStateFence } from './store.js';
import { MAX_TRACE_ACTIONS, type Trace, TraceLog } from './trace.js';
import { STORED_TRACES, TraceStore } from './trace-store.js';
import { type ActiveTrigger, createTrigger } from './triggers/index.js';
import {
  BUCKET,
  commandReplySchema,
  entityAvailabilitySchema,
  type StateMessage,
  SUBJECT,
  stateMessageSchema,
} from './wire.js';

export interface RuntimeOptions {
  nc: NatsConnection;
  clock?: Clock;
  /** for sun triggers */
  location?: { latitude: number; longitude: number };
  /** traces kept in memory per automation */
  traceLimit?: number;
  commandTimeoutMs?: number;
  log?: (line: string, data?: Record<string, unknown>) => void;
  /**
   * Files (loadFile, loadDirectory) run in sandbox workers with these limits (defaults:
   * SANDBOX_DEFAULTS); false runs them in this thread, as `add()` always does (tests, replay).
   */
  isolation?: Partial<Omit<SandboxOptions, 'liveClock' | 'now'>> | false;
  /** the last traces kept in KV per automation for the CLI and UI (default 20; 0: none) */
  storedTraces?: number;
  /** trigger-state writes only while this runtime holds the leader lease (the CLI's) */
  fence?: TriggerStateFence;
  /** how sandbox workers connect: the servers and credential of `nc` (default: its server, no credential) */
  connection?: WorkerConnection;
  /** set by a sandbox worker for the runtime of its group */
  worker?: WorkerHooks;
}

/** What a runtime inside a sandbox worker tells, and asks, the runtime's thread. */
export interface WorkerHooks {
  /** the automation's code runs from now until the end of this task (names the culprit of a loop) */
  enter(automationId: string): void;
  /** runs of the automation in flight went up or down by `delta` */
  runs(automationId: string, delta: 1 | -1): void;
  /** the latest state of an entity no trigger here watches (the runtime's thread has them all) */
  stateOf(entityId: string): StateValue | undefined;
}

/** ctx calls a run may have pending at once: beyond these the call throws */
export interface RunLimits {
  maxTimers: number;
  maxCalls: number;
}

export interface RuntimeEvents {
  /** a bus message was fully evaluated by every trigger */
  state: [StateMessage];
  trace: [Trace];
}

interface Loaded {
  definition: ValidDefinition;
  triggers: ActiveTrigger[];
  runner: ModeRunner<TriggerEvent>;
  kv: AutomationKv;
}

/** how long a trace waits to be published with the others of its burst */
const TRACE_BATCH_MS = 50;

/** bad readings reported per automation and entity at most this often (a flood is counted, not traced each) */
const WARNING_INTERVAL_MS = 60_000;

export class AutomationRuntime extends EventEmitter<RuntimeEvents> {
  readonly clock: Clock;
  readonly traces: TraceLog;
  /** messages dropped because they failed their schema, by subject kind */
  readonly rejected = { state: 0, availability: 0 };
  readonly #automations = new Map<string, Loaded>();
  readonly #states = new Map<string, { value: StateValue; ts: number }>();
  readonly #subscriptions: Subscription[] = [];
  /** in a sandbox worker: one subscription per watched entity (not every reading of the bus) */
  readonly #stateSubscriptions = new Map<string, Subscription>();
  #stateKv: KV | undefined;
  /** readings kept unparsed by subject while nothing here evaluates them (see #onBusState) */
  readonly #unparsed = new Map<string, Uint8Array>();
  readonly #limits: RunLimits;
  readonly #sandbox: SandboxPool | undefined;
  readonly #stored: TraceStore | undefined;
  /** last warning per `<automation>/<entity>`, and how many were held back since */
  readonly #warned = new Map<string, { at: number; held: number }>();
  /** the dispatch queue while asynchronous work is in it; undefined when idle */
  #serial: Promise<void> | undefined;
  /** triggers by the entity they watch (rebuilt when automations come and go) */
  #watchers = new Map<string, { id: string; trigger: ActiveTrigger }[]>();
  #runSeq = 0;
  #stopped = false;
  #outgoingTraces: [subject: string, json: string][] = [];
  #traceTimer: NodeJS.Timeout | undefined;
  readonly #unwatchClock: (() => void) | undefined;

  private constructor(
    readonly options: RuntimeOptions,
    readonly entities: EntityDirectory,
    readonly bucket: Awaited<ReturnType<typeof openAutomationBucket>>,
  ) {
    super();
    this.clock = options.clock ?? systemClock;
    this.traces = new TraceLog(options.traceLimit ?? 100);
    const sandbox: SandboxOptions = { ...SANDBOX_DEFAULTS, ...(options.isolation || {}) };
    this.#limits = sandbox;
    const stored = options.storedTraces ?? STORED_TRACES;
    if (options.isolation !== false && !options.worker) {
      const { fence } = options;
      this.#sandbox = new SandboxPool(sandbox, {
        connection: options.connection ?? { servers: [options.nc.getServer()] },
        clock: this.clock,
        liveClock: this.clock === systemClock,
        ...(options.location ? { location: options.location } : {}),
        ...(options.commandTimeoutMs !== undefined ? { commandTimeoutMs: options.commandTimeoutMs } : {}),
        storedTraces: stored,
        forwardTraces: this.traces.limit > 0,
        ...(fence ? { fence: (key, state) => fence.put(bucket, key, state) } : {}),
        // asked by a worker about an entity its triggers do not watch
        stateOf: async (entityId) => this.#latestState(entityId),
        log: (line, data) => this.#log(line, data),
        forwarded: (trace) => this.#keep(trace),
        report: (automationId, fields) => this.#record(this.#trace(automationId, fields)),
      });
    }
    if (stored > 0)
      this.#stored = new TraceStore(bucket, stored, (error) =>
        this.#log('trace not stored', { error: messageOf(error) }),
      );
    entities.onRemove = (entity) => this.#enqueue(() => this.#onEntityRemoved(entity));
    this.#unwatchClock = this.clock.onJump?.((jump) => this.#enqueue(() => this.#onClockJump(jump)));
  }

  /**
   * A step of the wall clock, reported to each automation that the clock drives. Its
   * triggers need nothing more: a time trigger passed by a step forward fires once
   * (late), not once per missed occurrence, and one that fired before a step back waits
   * for its next occurrence rather than firing again.
   */
  #onClockJump({ from, to }: ClockJump): void {
    const by = describeSpan(Math.abs(to - from));
    const reason =
      to > from
        ? `the clock jumped forward by ${by} (from ${new Date(from).toISOString()} to ${new Date(to).toISOString()}): time triggers due in between fire once now, pending for timers and sleeps due by then end now`
        : `the clock stepped back by ${by} (from ${new Date(from).toISOString()} to ${new Date(to).toISOString()}): time triggers that already fired do not fire again; pending for timers and sleeps end ${by} later than they would have`;
    for (const [id, loaded] of this.#automations) {
      if (loaded.definition.triggers.some(clockDriven))
        this.#record(this.#trace(id, { result: 'warning', error: reason }));
    }
  }

  /** sandbox workers running automation code now */
  get workers(): number {
    return this.#sandbox?.workers ?? 0;
  }

  static async start(options: RuntimeOptions): Promise<AutomationRuntime> {
    const { nc } = options;
    const kvm = new Kvm(nc);
    const entities = await EntityDirectory.open(await kvm.open(BUCKET.entities));
    const runtime = new AutomationRuntime(options, entities, await openAutomationBucket(nc));
    runtime.#subscriptions.push(
      nc.subscribe(SUBJECT.entityAvailabilityAll, {
        callback: (_e, msg) => runtime.#enqueue(() => runtime.#onAvailability(msg)),
      }),
    );
    runtime.#stateKv = await kvm.open(BUCKET.state);
    // a sandbox worker reads the states of the entities its triggers watch (#watchState)
    if (options.worker) return runtime;
    // subscribe before reading the state bucket, so no reading falls between the two
    runtime.#subscriptions.push(
      nc.subscribe(SUBJECT.stateAll, { callback: (_e, msg) => runtime.#onBusState(msg) }),
    );
    await nc.flush();
    for await (const key of await runtime.#stateKv.keys())
      runtime.#remember(key, await runtime.#readState(key));
    return runtime;
  }

  /**
   * A reading on the bus. While every automation runs in a sandbox worker (each subscribed
   * to what it watches) and nobody listens here, it is only kept, unparsed, for a worker's
   * question about an entity it does not watch: this thread does no work per reading.
   */
  #onBusState(msg: Msg): void {
    if (this.#sandbox && this.#automations.size === 0 && this.listenerCount('state') === 0) {
      this.#unparsed.set(msg.subject, msg.data.slice()); // a copy: the view holds the socket's chunk
      return;
    }
    this.#enqueue(() => this.#onState(msg));
  }

  /** the latest state known here, a reading kept unparsed included */
  #latestState(entityId: string): StateValue | undefined {
    const subject = `sentinel.state.${entityId}`;
    const raw = this.#unparsed.get(subject);
    if (raw) {
      this.#unparsed.delete(subject);
      this.#remember(
        entityId,
        stateRecord(() => JSON.parse(new TextDecoder().decode(raw)), entityId),
      );
    }
    return this.#states.get(entityId)?.value;
  }

  /** keeps a state unless a newer one is known */
  #remember(entityId: string, state: { value: StateValue; ts: number } | undefined): void {
    const known = this.#states.get(entityId);
    if (state && (!known || known.ts <= state.ts)) this.#states.set(entityId, state);
  }

  /** the entity's record in the state bucket, if it has a valid one */
  async #readState(entityId: string): Promise<{ value: StateValue; ts: number } | undefined> {
    const entry = await this.#stateKv!.get(entityId).catch(() => null);
    return entry?.operation === 'PUT' ? stateRecord(() => entry.json(), entityId) : undefined;
  }

  /**
   * In a sandbox worker: subscribes to the entity's readings, then reads its latest state
   * (the newer of the two wins), before a trigger on it starts.
   */
  async #watchState(entityId: string): Promise<void> {
    if (this.#stateSubscriptions.has(entityId)) return;
    this.#stateSubscriptions.set(
      entityId,
      this.options.nc.subscribe(`sentinel.state.${entityId}`, {
        callback: (_e, msg) => this.#enqueue(() => this.#onState(msg)),
      }),
    );
    await this.options.nc.flush();
    this.#remember(entityId, await this.#readState(entityId));
  }

  /** the latest state of an entity: here, or (in a worker, for one no trigger here watches) the runtime thread's */
  #stateOf(entityId: string): StateValue | undefined {
    const hooks = this.options.worker;
    if (!hooks) return this.#latestState(entityId);
    if (!this.#stateSubscriptions.has(entityId)) return hooks.stateOf(entityId);
    return this.#states.get(entityId)?.value;
  }

  #log(line: string, data?: Record<string, unknown>): void {
    this.options.log?.(line, data);
  }

  /** runs `work` now when nothing is queued (and queues what comes after it if it goes async) */
  #enqueue(work: () => Promise<void> | void): void {
    if (this.#serial) {
      this.#queue(this.#serial.then(work));
      return;
    }
    try {
      const pending = work();
      if (pending) this.#queue(pending);
    } catch (error) {
      this.#log('dispatch failed', { error: String(error) });
    }
  }

  #queue(work: Promise<void>): void {
    const serial: Promise<void> = work
      .catch((error) => this.#log('dispatch failed', { error: String(error) }))
      .then(() => {
        if (this.#serial === serial) this.#serial = undefined;
      });
    this.#serial = serial;
  }

  #reindex(): void {
    this.#watchers.clear();
    for (const [id, loaded] of this.#automations)
      for (const trigger of loaded.triggers) {
        if (trigger.entityId === undefined) continue;
        const list = this.#watchers.get(trigger.entityId) ?? [];
        list.push({ id, trigger });
        this.#watchers.set(trigger.entityId, list);
      }
    for (const [entityId, subscription] of this.#stateSubscriptions) {
      if (this.#watchers.has(entityId)) continue;
      subscription.unsubscribe();
      this.#stateSubscriptions.delete(entityId);
      this.#states.delete(entityId);
    }
  }

  #onState(msg: Msg): Promise<void> | void {
    let parsed: ReturnType<typeof stateMessageSchema.safeParse>;
    try {
      parsed = stateMessageSchema.safeParse(msg.json());
    } catch {
      parsed = stateMessageSchema.safeParse(undefined);
    }
    if (!parsed.success || msg.subject !== `sentinel.state.${parsed.data.entity_id}`) {
      this.rejected.state++;
      const entityId = msg.subject.slice('sentinel.state.'.length);
      const issue = parsed.success
        ? `entity_id "${parsed.data.entity_id}" does not match the subject`
        : parsed.error.issues.map((i) => `${i.path.join('.') || '(message)'}: ${i.message}`).join('; ');
      this.#warnWatchers(entityId, `ignored a bad reading on ${msg.subject}: ${issue}`);
      return;
    }
    const message = parsed.data;
    this.#states.set(message.entity_id, { value: message.value, ts: message.ts });
    const pending = this.#eachTrigger(message.entity_id, (t) => t.onState?.(message.value, message.ts));
    if (!pending) {
      this.emit('state', message);
      return;
    }
    return pending.then(() => {
      this.emit('state', message);
    });
  }

  #onAvailability(msg: Msg): Promise<void> | void {
    let parsed: ReturnType<typeof entityAvailabilitySchema.safeParse>;
    try {
      parsed = entityAvailabilitySchema.safeParse(msg.json());
    } catch {
      parsed = entityAvailabilitySchema.safeParse(undefined);
    }
    if (!parsed.success) {
      this.rejected.availability++;
      return;
    }
    const { entity_id, available } = parsed.data;
    return this.#eachTrigger(entity_id, (t) => t.onAvailability?.(available));
  }

  /** a warning trace for each automation watching the entity; `limited`: at most once a minute each */
  #warnWatchers(entityId: string, reason: string, limited = true): void {
    const now = Date.now();
    for (const [id, loaded] of this.#automations) {
      if (!loaded.triggers.some((t) => t.entityId === entityId)) continue;
      if (!limited) {
        this.#record(this.#trace(id, { result: 'warning', error: reason }));
        continue;
      }
      const key = `${id}/${entityId}`;
      const last = this.#warned.get(key);
      if (last && now - last.at < WARNING_INTERVAL_MS) {
        last.held++;
        continue;
      }
      const held = last?.held ? ` (and ${last.held} more since the last report)` : '';
      this.#warned.set(key, { at: now, held: 0 });
      this.#record(this.#trace(id, { result: 'warning', error: reason + held }));
    }
  }

  /** an entity removed from the registry while watched: its triggers see it as unavailable */
  async #onEntityRemoved(entity: { id: string; name: string }): Promise<void> {
    this.#states.delete(entity.id);
    this.#warnWatchers(
      entity.id,
      `entity ${entity.id} ("${entity.name}") was removed from the registry while watched; its triggers treat it as unavailable`,
      false, // once per removal: not held back behind a flood of bad readings
    );
    await this.#eachTrigger(entity.id, (t) =>
      t.onAvailability ? t.onAvailability(false) : t.onState?.(null, this.clock.now()),
    );
  }

  /**
   * Tells each trigger watching the entity, in order; synchronous while they answer
   * synchronously. A trigger that throws is recorded against its automation; the
   * others still see the message.
   */
  #eachTrigger(
    entityId: string,
    call: (t: ActiveTrigger) => unknown,
    watchers = this.#watchers.get(entityId),
    from = 0,
  ): Promise<void> | void {
    if (!watchers) return;
    for (let i = from; i < watchers.length; i++) {
      const { id, trigger } = watchers[i]!;
      if (!this.#automations.has(id)) continue; // disabled meanwhile
      let result: unknown;
      try {
        result = call(trigger);
      } catch (error) {
        this.#triggerFailed(id, error);
        continue;
      }
      if (result instanceof Promise)
        return result
          .catch((error) => this.#triggerFailed(id, error))
          .then(() => this.#eachTrigger(entityId, call, watchers, i + 1));
    }
  }

  #triggerFailed(id: string, error: unknown): void {
    this.#record(this.#trace(id, { result: 'error', error: `trigger failed: ${messageOf(error)}` }));
  }

  /** Loads every .ts/.js file of a directory; each failure is a load_error trace, never a throw. */
  async loadDirectory(dir: string): Promise<string[]> {
    const files = (await readdir(dir))
      .filter((f) => /\.(ts|js|mts|mjs)$/.test(f) && !f.endsWith('.d.ts'))
      .sort();
    const ids: string[] = [];
    for (const f of files) {
      const id = await this.loadFile(join(dir, f));
      if (id) ids.push(id);
    }
    return ids;
  }

  /** The automation's id once it runs, or undefined when it failed (see its load_error trace). */
  async loadFile(file: string): Promise<string | undefined> {
    const fallbackId = fileAutomationId(file);
    const failed = (error: unknown) => {
      this.#record(this.#trace(fallbackId, { result: 'load_error', error: messageOf(error) }));
      return undefined;
    };
    if (!this.#sandbox) {
      let exported: unknown;
      try {
        exported = await loadAutomationFile(file, (line) => this.#log(line, { file }));
      } catch (error) {
        return failed(error);
      }
      return this.add(exported, fallbackId);
    }
    let code: string;
    try {
      code = await compileAutomationFile(file);
    } catch (error) {
      return failed(error);
    }
    const result = await this.#sandbox.load(file, fallbackId, code, [...this.#automations.keys()]);
    if ('error' in result) return failed(result.error);
    return result.id;
  }

  /** Adds a definition (e.g. from defineAutomation); `fallbackId` names its trace if it has no valid id. */
  async add(exported: unknown, fallbackId = 'automation'): Promise<string | undefined> {
    let definition: ValidDefinition;
    try {
      definition = validateDefinition(exported);
    } catch (error) {
      this.#record(this.#trace(fallbackId, { result: 'load_error', error: messageOf(error) }));
      return undefined;
    }
    return this.#install(definition);
  }

  async #install(definition: ValidDefinition): Promise<string | undefined> {
    const { id } = definition;
    if (this.#automations.has(id) || this.#sandbox?.has(id)) {
      this.#record(
        this.#trace(id, { result: 'load_error', error: `an automation with id "${id}" is already loaded` }),
      );
      return undefined;
    }
    const kv = new AutomationKv(this.bucket, id, this.options.fence);
    const runner = new ModeRunner<TriggerEvent>(
      definition.mode,
      definition.max,
      (event, signal) => this.#execute(definition, kv, event, signal),
      (event, reason) => this.#record(this.#trace(id, { trigger: event, result: 'skipped', error: reason })),
    );
    const triggers: ActiveTrigger[] = [];
    const loaded: Loaded = { definition, triggers, runner, kv };
    try {
      definition.triggers.forEach((trigger, index) => {
        triggers.push(
          createTrigger(trigger, (ref) => this.entities.resolve(ref), {
            clock: this.clock,
            location: this.options.location,
            load: () => kv.triggerState(index),
            save: (state) => kv.saveTriggerState(index, state),
            fire: (firing) => {
              if (this.#stopped || !this.#automations.has(id)) return;
              runner.submit({ ...firing, index, kind: trigger.kind, ts: this.clock.now() });
            },
          }),
        );
      });
      // registered before start so readings that arrive while triggers start are not lost;
      // the serial queue keeps them behind this load
      await new Promise<void>((resolve, reject) => {
        this.#enqueue(async () => {
          try {
            this.#automations.set(id, loaded);
            this.#reindex();
            for (const t of triggers) {
              if (t.entityId && this.options.worker) await this.#watchState(t.entityId);
              await t.start(t.entityId ? this.#stateOf(t.entityId) : undefined);
            }
            resolve();
          } catch (error) {
            reject(error);
          }
        });
      });
    } catch (error) {
      for (const t of triggers) t.stop();
      this.#automations.delete(id);
      this.#reindex();
      this.#record(this.#trace(id, { result: 'load_error', error: messageOf(error) }));
      return undefined;
    }
    return id;
  }

  /** every automation running: in this thread and in sandbox workers */
  get automationIds(): string[] {
    return [...this.#automations.keys(), ...(this.#sandbox?.ids ?? [])];
  }

  #trace(automationId: string, fields: Partial<Trace> & Pick<Trace, 'result'>): Trace {
    const now = this.clock.now();
    return {
      automation_id: automationId,
      run_id: `${automationId}-${++this.#runSeq}`,
      started: now,
      finished: now,
      conditions: [],
      actions: [],
      ...fields,
    };
  }

  #record(trace: Trace): void {
    const json = JSON.stringify(trace); // once, for the subject and the store
    this.#stored?.save(trace, json);
    this.#outgoingTraces.push([SUBJECT.trace(trace.automation_id), json]);
    this.#traceTimer ??= setTimeout(this.#publishTraces, TRACE_BATCH_MS).unref();
    this.#keep(trace);
  }

  /**
   * Publishes the traces of the last TRACE_BATCH_MS together: one socket write for the runs
   * of a burst rather than one each beside each command (still one message per run).
   */
  readonly #publishTraces = () => {
    this.#traceTimer = undefined;
    const batch = this.#outgoingTraces;
    this.#outgoingTraces = [];
    for (const [subject, json] of batch) {
      try {
        this.options.nc.publish(subject, json);
      } catch (error) {
        this.#log('trace not published', { error: messageOf(error) });
      }
    }
  };

  /** a trace in memory and to listeners (a sandbox worker's traces come here already published) */
  #keep(trace: Trace): void {
    this.traces.record(trace);
    if (trace.result === 'load_error') this.#log('automation failed to load', { ...trace });
    this.emit('trace', trace);
  }

  async #execute(
    definition: ValidDefinition,
    kv: AutomationKv,
    trigger: TriggerEvent,
    signal: AbortSignal,
  ): Promise<void> {
    const { id } = definition;
    const hooks = this.options.worker;
    const trace: Trace = { ...this.#trace(id, { result: 'ok', trigger }), finished: undefined };
    // ends with the run: sleeps and calls it left behind are cancelled, not leaked
    const scope = new RunScope(signal);
    const ctx: AutomationContext = {
      automationId: id,
      trigger,
      signal,
      now: () => this.clock.now(),
      entity: (ref: EntityRef) => this.entities.resolve(ref),
      state: (ref: EntityRef) => this.#stateOf(this.entities.resolve(ref).id),
      ...this.#services(id, kv, scope, trace),
    };
    hooks?.runs(id, 1);
    try {
      for (const [index, condition] of definition.conditions.entries()) {
        const { name, check } = conditionParts(condition, index);
        try {
          hooks?.enter(id);
          const result = (await check(ctx)) === true;
          trace.conditions.push({ index, name, result });
          if (!result) {
            trace.result = 'conditions_failed';
            return;
          }
        } catch (error) {
          trace.conditions.push({ index, name, result: false, error: messageOf(error) });
          trace.result = 'error';
          trace.error = `condition ${name} threw: ${messageOf(error)}`;
          return;
        }
      }
      hooks?.enter(id);
      await definition.run(ctx);
      if (signal.aborted) throw signal.reason;
    } catch (error) {
      trace.result = signal.aborted ? 'aborted' : 'error';
      trace.error = signal.aborted ? messageOf(signal.reason) : messageOf(error);
    } finally {
      hooks?.runs(id, -1);
      scope.end();
      trace.finished = this.clock.now();
      this.#record(trace);
    }
  }

  /**
   * What a run does through the runtime, each step recorded in its trace. A call beyond
   * the run's limits throws at once (not a rejection: a loop that drops its promises
   * still stops there). In a sandbox worker, the automation is marked as running again
   * before a call's answer reaches its code.
   */
  #services(
    automationId: string,
    kv: AutomationKv,
    scope: RunScope,
    trace: Trace,
  ): Pick<AutomationContext, 'command' | 'notify' | 'sleep' | 'store' | 'log'> {
    const { nc } = this.options;
    const hooks = this.options.worker;
    const { maxTimers, maxCalls } = this.#limits;
    let timers = 0;
    let calls = 0;
    /** counted while in flight; its answer resumes the automation's code */
    const call = <T>(work: () => Promise<T>): Promise<T> => {
      if (scope.over) return Promise.reject(scope.reason);
      if (calls >= maxCalls) throw new Error(`too many calls in flight (limit ${maxCalls} per run)`);
      calls++;
      const settle = () => {
        calls--;
        hooks?.enter(automationId);
      };
      return work().then(
        (value) => {
          settle();
          return value;
        },
        (error) => {
          settle();
          throw error;
        },
      );
    };
    const act = (action: Trace['actions'][number]) => {
      if (trace.actions.length < MAX_TRACE_ACTIONS) trace.actions.push(action);
      else trace.truncated = true;
    };
    const store = kv.dataStore();
    return {
      command: (ref: EntityRef, value: StateValue, opts?: { action?: string }) =>
        call(async () => {
          const entity = this.entities.resolve(ref);
          const request = opts?.action !== undefined ? { action: opts.action, value } : { value };
          let reply: CommandReply;
          try {
            const msg = await nc.request(SUBJECT.command(entity.id), JSON.stringify(request), {
              timeout: this.options.commandTimeoutMs ?? 10_000,
            });
            const parsed = commandReplySchema.safeParse(msg.json());
            reply = parsed.success
              ? parsed.data
              : { ok: false, error: { code: 'invalid', message: 'malformed reply from the gateway' } };
          } catch (error) {
            reply = { ok: false, error: { code: requestErrorCode(error), message: messageOf(error) } };
          }
          act({ kind: 'command', entity_id: entity.id, value, ts: this.clock.now(), reply });
          return reply;
        }),
      notify: (channel: string, input: NotificationInput) =>
        call(async () => {
          if (!CHANNEL_PATTERN.test(channel)) throw new Error(`notify channel must match ${CHANNEL_PATTERN}`);
          const parsed = notificationSchema.safeParse(input);
          if (!parsed.success) {
            const issue = parsed.error.issues[0]!;
            throw new Error(`invalid notification: ${issue.path.join('.')}: ${issue.message}`);
          }
          const message: NotifyMessage = {
            channel,
            automation_id: automationId,
            ts: this.clock.now(),
            notification: parsed.data,
          };
          nc.publish(notifySubject(channel), JSON.stringify(message));
          act({ kind: 'notify', channel, title: parsed.data.title, ts: message.ts });
        }),
      sleep: (duration: Duration) => {
        if (scope.over) return Promise.reject(scope.reason);
        if (timers >= maxTimers) throw new Error(`too many pending sleeps (limit ${maxTimers} per run)`);
        const ms = parseDuration(duration);
        timers++;
        return new Promise<void>((resolve, reject) => {
          const signal = scope.signal;
          const timer = this.clock.at(this.clock.now() + ms, () => {
            timers--;
            signal.removeEventListener('abort', onAbort);
            hooks?.enter(automationId);
            resolve();
          });
          const onAbort = () => {
            timers--;
            timer.cancel();
            // a sleep still pending when its run has returned was not awaited: it just never
            // ends (rejecting it would be an unhandled rejection in the automation's code)
            if (!scope.finished) reject(signal.reason);
          };
          signal.addEventListener('abort', onAbort, { once: true });
        });
      },
      store: {
        get: (key) => call(() => store.get(key)),
        set: (key, value) => call(() => store.set(key, value)),
        delete: (key) => call(() => store.delete(key)),
      },
      log: (message: string, data?: Record<string, unknown>) => {
        act({ kind: 'log', message: String(message), ...(data ? { data } : {}), ts: this.clock.now() });
      },
    };
  }

  /** resolves once every received message is evaluated and every run has finished (in the workers too) */
  async idle(): Promise<void> {
    // what was published before this call has reached this connection's subscriptions
    await this.options.nc.flush();
    for (;;) {
      const serial = this.#serial;
      await serial;
      await Promise.all([...this.#automations.values()].map((a) => a.runner.idle()));
      if (serial === this.#serial) break;
    }
    await this.#sandbox?.idle();
  }

  /** Stops triggers and runs (aborting those in progress) and waits for pending KV writes. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#unwatchClock?.();
    for (const sub of [...this.#subscriptions, ...this.#stateSubscriptions.values()]) sub.unsubscribe();
    await this.#serial;
    for (const loaded of this.#automations.values()) {
      for (const t of loaded.triggers) t.stop();
      loaded.runner.abortAll('the runtime is stopping');
    }
    await Promise.all([...this.#automations.values()].map((a) => a.runner.idle()));
    await Promise.all([...this.#automations.values()].map((a) => a.kv.flush()));
    await this.#sandbox?.stop();
    clearTimeout(this.#traceTimer);
    this.#publishTraces();
    await this.#stored?.flush();
    this.entities.stop();
  }
}

/**
 * What a run's calls answer to: its runner's signal (restart, stop) and the end of the
 * run, after which the sleeps and calls it left behind are cancelled, not leaked. The
 * controller a pending sleep listens on is made only for a run that sleeps: most runs
 * do not, and a controller, a listener and an Error per run were garbage on the path of
 * every reading.
 */
class RunScope {
  #ended = false;
  #local: AbortController | undefined;
  #unforward: (() => void) | undefined;

  constructor(readonly outer: AbortSignal) {}

  /** calls are refused: the run was aborted or has finished */
  get over(): boolean {
    return this.outer.aborted || this.#ended;
  }

  /** the run has returned: what it left behind is cancelled */
  get finished(): boolean {
    return this.#ended;
  }

  get reason(): unknown {
    return this.outer.aborted ? this.outer.reason : new Error('the run has finished');
  }

  /** aborted with the run's signal or when the run finishes (made on first use) */
  get signal(): AbortSignal {
    if (!this.#local) {
      const local = new AbortController();
      setMaxListeners(0, local.signal); // one listener per pending sleep, up to the sandbox's limit
      if (this.over) local.abort(this.reason);
      else {
        const forward = () => local.abort(this.outer.reason);
        this.outer.addEventListener('abort', forward, { once: true });
        this.#unforward = () => this.outer.removeEventListener('abort', forward);
      }
      this.#local = local;
    }
    return this.#local.signal;
  }

  end(): void {
    this.#ended = true;
    this.#unforward?.();
    this.#local?.abort(new Error('the run has finished'));
  }
}

/** a state message of the entity (from KV or kept unparsed), if `read` gives a valid one */
function stateRecord(read: () => unknown, entityId: string): { value: StateValue; ts: number } | undefined {
  let parsed: ReturnType<typeof stateMessageSchema.safeParse>;
  try {
    parsed = stateMessageSchema.safeParse(read());
  } catch {
    return undefined;
  }
  if (!parsed.success || parsed.data.entity_id !== entityId) return undefined;
  return { value: parsed.data.value, ts: parsed.data.ts };
}

/** a trigger the clock drives: its firing moves when the clock steps */
const clockDriven = (t: ValidDefinition['triggers'][number]) =>
  ['time', 'cron', 'sun', 'sun_elevation', 'derivative'].includes(t.kind) ||
  (t.kind === 'threshold' && !!t.for);

function describeSpan(ms: number): string {
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h} h ${m} min` : m > 0 ? `${m} min ${s % 60} s` : `${s} s`;
}

function conditionParts(condition: Condition, index: number) {
  return typeof condition === 'function'
    ? { name: condition.name || `#${index}`, check: condition }
    : { name: condition.name, check: condition.check };
}

/**
 * A request that failed: `forbidden` when the credential does not allow the subject
 * (the server's permissions violation), `unavailable` when nobody answers, else `timeout`.
 */
function requestErrorCode(error: unknown): string {
  const text = `${messageOf(error)} ${messageOf((error as { cause?: unknown })?.cause ?? '')}`;
  if (/permissions? violation/i.test(text)) return 'forbidden';
  if (/503|no responders/i.test(text)) return 'unavailable';
  return 'timeout';
}

function messageOf(error: unknown): string {
  if (error && typeof error === 'object' && 'message' in error) return String(error.message);
  return String(error);
}
