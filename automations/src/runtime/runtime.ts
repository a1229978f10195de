// The automation runtime: one NATS connection (the automations credential), the entity
// directory and latest states, and every loaded automation with its triggers, mode and
// traces. Bus messages are handled one at a time in arrival order, so a trigger sees
// readings in the order they were published.
import { EventEmitter } from 'node:events';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Kvm } from '@nats-io/kv';
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { type Clock, systemClock } from '../clock.js';
import { parseDuration } from '../duration.js';
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
import { CHANNEL_PATTERN, type NotifyMessage, notificationSchema, notifySubject } from '../sdk/notify.js';
import { EntityDirectory } from './entities.js';
import { fileAutomationId, loadAutomationFile } from './loader.js';
import { ModeRunner } from './modes.js';
import { AutomationKv, openAutomationBucket } from './store.js';
import { type Trace, TraceLog } from './trace.js';
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

export class AutomationRuntime extends EventEmitter<RuntimeEvents> {
  readonly clock: Clock;
  readonly traces: TraceLog;
  /** messages dropped because they failed their schema, by subject kind */
  readonly rejected = { state: 0, availability: 0 };
  readonly #automations = new Map<string, Loaded>();
  readonly #states = new Map<string, { value: StateValue; ts: number }>();
  readonly #subscriptions: Subscription[] = [];
  #serial: Promise<void> = Promise.resolve();
  #runSeq = 0;
  #stopped = false;

  private constructor(
    readonly options: RuntimeOptions,
    readonly entities: EntityDirectory,
    readonly bucket: Awaited<ReturnType<typeof openAutomationBucket>>,
  ) {
    super();
    this.clock = options.clock ?? systemClock;
    this.traces = new TraceLog(options.traceLimit ?? 100);
  }

  static async start(options: RuntimeOptions): Promise<AutomationRuntime> {
    const { nc } = options;
    const kvm = new Kvm(nc);
    const entities = await EntityDirectory.open(await kvm.open(BUCKET.entities));
    const runtime = new AutomationRuntime(options, entities, await openAutomationBucket(nc));
    // subscribe before reading the state bucket, so no reading falls between the two
    runtime.#subscriptions.push(
      nc.subscribe(SUBJECT.stateAll, {
        callback: (_e, msg) => runtime.#enqueue(() => runtime.#onState(msg)),
      }),
      nc.subscribe(SUBJECT.entityAvailabilityAll, {
        callback: (_e, msg) => runtime.#enqueue(() => runtime.#onAvailability(msg)),
      }),
    );
    await nc.flush();
    await runtime.#loadStates(kvm);
    return runtime;
  }

  async #loadStates(kvm: Kvm): Promise<void> {
    const kv = await kvm.open(BUCKET.state);
    for await (const key of await kv.keys()) {
      const entry = await kv.get(key);
      if (entry?.operation !== 'PUT') continue;
      const parsed = stateMessageSchema.safeParse(entry.json());
      if (!parsed.success) continue;
      const known = this.#states.get(parsed.data.entity_id);
      if (!known || known.ts < parsed.data.ts) {
        this.#states.set(parsed.data.entity_id, { value: parsed.data.value, ts: parsed.data.ts });
      }
    }
  }

  #log(line: string, data?: Record<string, unknown>): void {
    this.options.log?.(line, data);
  }

  #enqueue(work: () => Promise<void>): void {
    this.#serial = this.#serial
      .then(work)
      .catch((error) => this.#log('dispatch failed', { error: String(error) }));
  }

  async #onState(msg: Msg): Promise<void> {
    let parsed: ReturnType<typeof stateMessageSchema.safeParse>;
    try {
      parsed = stateMessageSchema.safeParse(msg.json());
    } catch {
      parsed = stateMessageSchema.safeParse(undefined);
    }
    if (!parsed.success || msg.subject !== `sentinel.state.${parsed.data.entity_id}`) {
      this.rejected.state++;
      return;
    }
    const message = parsed.data;
    this.#states.set(message.entity_id, { value: message.value, ts: message.ts });
    await this.#eachTrigger(message.entity_id, (t) => t.onState?.(message.value, message.ts));
    this.emit('state', message);
  }

  async #onAvailability(msg: Msg): Promise<void> {
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
    await this.#eachTrigger(entity_id, (t) => t.onAvailability?.(available));
  }

  /** a trigger that throws is recorded against its automation; the others still see the message */
  async #eachTrigger(entityId: string, call: (t: ActiveTrigger) => unknown): Promise<void> {
    for (const [id, loaded] of this.#automations) {
      for (const trigger of loaded.triggers) {
        if (trigger.entityId !== entityId) continue;
        try {
          await call(trigger);
        } catch (error) {
          this.#record(this.#trace(id, { result: 'error', error: `trigger failed: ${messageOf(error)}` }));
        }
      }
    }
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
    let exported: unknown;
    try {
      exported = await loadAutomationFile(file, (line) => this.#log(line, { file }));
    } catch (error) {
      this.#record(this.#trace(fileAutomationId(file), { result: 'load_error', error: messageOf(error) }));
      return undefined;
    }
    return this.add(exported, fileAutomationId(file));
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
    const { id } = definition;
    if (this.#automations.has(id)) {
      this.#record(
        this.#trace(id, { result: 'load_error', error: `an automation with id "${id}" is already loaded` }),
      );
      return undefined;
    }
    const kv = new AutomationKv(this.bucket, id);
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
            for (const t of triggers)
              await t.start(t.entityId ? this.#states.get(t.entityId)?.value : undefined);
            resolve();
          } catch (error) {
            reject(error);
          }
        });
      });
    } catch (error) {
      for (const t of triggers) t.stop();
      this.#automations.delete(id);
      this.#record(this.#trace(id, { result: 'load_error', error: messageOf(error) }));
      return undefined;
    }
    return id;
  }

  get automationIds(): string[] {
    return [...this.#automations.keys()];
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
    this.traces.record(trace);
    if (trace.result === 'load_error') this.#log('automation failed to load', { ...trace });
    try {
      this.options.nc.publish(SUBJECT.trace(trace.automation_id), JSON.stringify(trace));
    } catch (error) {
      this.#log('trace not published', { error: messageOf(error) });
    }
    this.emit('trace', trace);
  }

  async #execute(
    definition: ValidDefinition,
    kv: AutomationKv,
    trigger: TriggerEvent,
    signal: AbortSignal,
  ): Promise<void> {
    const trace: Trace = { ...this.#trace(definition.id, { result: 'ok', trigger }), finished: undefined };
    const ctx = this.#context(definition.id, kv, trigger, signal, trace);
    try {
      for (const [index, condition] of definition.conditions.entries()) {
        const { name, check } = conditionParts(condition, index);
        try {
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
      await definition.run(ctx);
      if (signal.aborted) throw signal.reason;
    } catch (error) {
      trace.result = signal.aborted ? 'aborted' : 'error';
      trace.error = signal.aborted ? messageOf(signal.reason) : messageOf(error);
    } finally {
      trace.finished = this.clock.now();
      this.#record(trace);
    }
  }

  #context(
    automationId: string,
    kv: AutomationKv,
    trigger: TriggerEvent,
    signal: AbortSignal,
    trace: Trace,
  ): AutomationContext {
    const { nc } = this.options;
    const alive = () => {
      if (signal.aborted) throw signal.reason;
    };
    return {
      automationId,
      trigger,
      signal,
      now: () => this.clock.now(),
      entity: (ref: EntityRef) => this.entities.resolve(ref),
      state: (ref: EntityRef) => this.#states.get(this.entities.resolve(ref).id)?.value,
      command: async (ref, value, opts) => {
        alive();
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
          const code = /503|no responders/i.test(messageOf(error)) ? 'unavailable' : 'timeout';
          reply = { ok: false, error: { code, message: messageOf(error) } };
        }
        trace.actions.push({ kind: 'command', entity_id: entity.id, value, ts: this.clock.now(), reply });
        return reply;
      },
      notify: async (channel, input) => {
        alive();
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
        trace.actions.push({ kind: 'notify', channel, title: parsed.data.title, ts: message.ts });
      },
      sleep: (duration) =>
        new Promise<void>((resolve, reject) => {
          alive();
          const timer = this.clock.at(this.clock.now() + parseDuration(duration), () => {
            signal.removeEventListener('abort', onAbort);
            resolve();
          });
          const onAbort = () => {
            timer.cancel();
            reject(signal.reason);
          };
          signal.addEventListener('abort', onAbort, { once: true });
        }),
      store: kv.dataStore(),
      log: (message, data) => {
        trace.actions.push({ kind: 'log', message, ...(data ? { data } : {}), ts: this.clock.now() });
      },
    };
  }

  /** resolves once every received message is evaluated and every run has finished */
  async idle(): Promise<void> {
    for (;;) {
      const serial = this.#serial;
      await serial;
      await Promise.all([...this.#automations.values()].map((a) => a.runner.idle()));
      if (serial === this.#serial) return;
    }
  }

  /** Stops triggers and runs (aborting those in progress) and waits for pending KV writes. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const sub of this.#subscriptions) sub.unsubscribe();
    await this.#serial;
    for (const loaded of this.#automations.values()) {
      for (const t of loaded.triggers) t.stop();
      loaded.runner.abortAll('the runtime is stopping');
    }
    await Promise.all([...this.#automations.values()].map((a) => a.runner.idle()));
    await Promise.all([...this.#automations.values()].map((a) => a.kv.flush()));
    this.entities.stop();
  }
}

function conditionParts(condition: Condition, index: number) {
  return typeof condition === 'function'
    ? { name: condition.name || `#${index}`, check: condition }
    : { name: condition.name, check: condition.check };
}

function messageOf(error: unknown): string {
  if (error && typeof error === 'object' && 'message' in error) return String(error.message);
  return String(error);
}
