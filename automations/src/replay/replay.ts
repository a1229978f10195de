// `sentinel automations replay`: runs one automation over a stretch of recorded readings
// on a simulated clock and reports what it would have done and when. The runtime runs
// unchanged, but against a private nats-server (sandbox.ts) that holds a copy of the
// registry and the readings, and answers every command with {ok:true}: nothing reaches
// the real bus, no device is commanded, no notification is delivered.
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { fileAutomationId, loadAutomationFile } from '../runtime/loader.js';
import { AutomationRuntime } from '../runtime/runtime.js';
import type { Trace } from '../runtime/trace.js';
import { BUCKET, type StateMessage, SUBJECT, stateMessageSchema } from '../runtime/wire.js';
import { Activity } from './activity.js';
import { ReplayClock } from './clock.js';
import { type Sandbox, startSandbox } from './sandbox.js';

/** An entity record as the registry stores it (at least id, name, platform). */
export interface ReplayEntity {
  id: string;
  name: string;
  platform: string;
  [field: string]: unknown;
}

export interface ReplayOptions {
  /** the automation's file (TypeScript or JavaScript) */
  file: string;
  from: number;
  to: number;
  entities: readonly ReplayEntity[];
  /** each entity's latest reading before `from`: what the runtime finds in sentinel_state at start */
  initial?: readonly StateMessage[];
  /** the readings from `from` to `to`, in the order they were recorded */
  readings: AsyncIterable<StateMessage> | Iterable<StateMessage>;
  /** for sun triggers */
  location?: { latitude: number; longitude: number };
  /** each finished run (and each firing that did not run), as it happens */
  onTrace?: (trace: Trace) => void;
  /** every so many readings (for progress on long replays) */
  onProgress?: (readings: number, clock: number) => void;
  /**
   * real time a run may take to finish or reach ctx.sleep before the replay moves on
   * without it (a run waiting on something that never comes)
   */
  settleTimeoutMs?: number;
  /** a started sandbox to use (tests); otherwise one is started and stopped */
  sandbox?: Sandbox;
}

export interface ReplayResult {
  /** the automation's id, undefined when it failed to load (see loadError) */
  automationId?: string;
  loadError?: string;
  traces: Trace[];
  /** readings fed to the automation */
  readings: number;
  /** readings left out because they are not state messages */
  invalid?: number;
  /** commands it sent (answered {ok:true}, never delivered) */
  commands: number;
  /** times a run neither finished nor waited on the clock within settleTimeoutMs */
  unsettled: number;
}

const PROGRESS_EVERY = 10_000;

export async function replayAutomation(options: ReplayOptions): Promise<ReplayResult> {
  if (!(options.to > options.from)) throw new Error('the replay range is empty: --to must be after --from');
  const sandbox = options.sandbox ?? (await startSandbox());
  const connections: NatsConnection[] = [];
  let runtime: AutomationRuntime | undefined;
  try {
    const admin = await sandbox.connect('sentinel-replay');
    connections.push(admin);
    const kvm = new Kvm(admin);
    const [entities, state] = await Promise.all([
      kvm.create(BUCKET.entities, { history: 1 }),
      kvm.create(BUCKET.state, { history: 1 }),
      kvm.create(BUCKET.automations, { history: 1 }),
    ]);
    for (const e of options.entities) await entities.put(e.id, JSON.stringify(e));
    for (const s of options.initial ?? []) await state.put(s.entity_id, JSON.stringify(s));
    let commands = 0;
    // stands in for the gateway: every command "succeeds", so the automation carries on as it would have
    admin.subscribe(SUBJECT.command('*'), {
      callback: (_e, msg) => {
        commands++;
        msg.respond(JSON.stringify({ ok: true }));
      },
    });
    await admin.flush();

    const clock = new ReplayClock(options.from);
    const runtimeNc = await sandbox.connect('sentinel-replay-runtime');
    connections.push(runtimeNc);
    runtime = await AutomationRuntime.start({ nc: runtimeNc, clock, location: options.location });
    const traces: Trace[] = [];
    runtime.on('trace', (trace) => {
      traces.push(trace);
      options.onTrace?.(trace);
    });
    let evaluated = 0;
    let waiting: { count: number; resolve: () => void } | undefined;
    runtime.on('state', () => {
      evaluated++;
      if (waiting && evaluated >= waiting.count) waiting.resolve();
    });

    const activity = new Activity();
    const settleTimeoutMs = options.settleTimeoutMs ?? 10_000;
    let unsettled = 0;
    /** returns once every run has finished or waits on the clock */
    const settle = async () => {
      const deadline = Date.now() + settleTimeoutMs;
      for (;;) {
        // callbacks queued by what just happened (a sleep ending, a queued run starting) run first
        await new Promise((resolve) => setImmediate(resolve));
        if (activity.quiet) {
          await new Promise((resolve) => setImmediate(resolve));
          if (activity.quiet) return;
          continue;
        }
        const left = deadline - Date.now();
        if (left <= 0) {
          unsettled++;
          return;
        }
        await activity.change(left);
      }
    };

    let exported: unknown;
    try {
      exported = await loadAutomationFile(options.file, () => {});
    } catch (error) {
      return { loadError: (error as Error).message, traces, readings: 0, commands, unsettled };
    }
    const automationId = await runtime.add(activity.instrument(exported), fileAutomationId(options.file));
    await settle();
    if (automationId === undefined) {
      const failed = traces.find((t) => t.result === 'load_error');
      return { loadError: failed?.error ?? 'failed to load', traces, readings: 0, commands, unsettled };
    }

    let count = 0;
    let invalid = 0;
    for await (const stored of options.readings) {
      // the runtime would drop a malformed reading without a word; count it here instead
      const parsed = stateMessageSchema.safeParse(stored);
      if (!parsed.success) {
        invalid++;
        continue;
      }
      const reading = parsed.data;
      if (reading.ts < options.from || reading.ts > options.to) continue;
      await clock.advanceTo(reading.ts, settle);
      count++;
      const done = new Promise<void>((resolve) => {
        waiting = { count, resolve };
        if (evaluated >= count) resolve();
      });
      admin.publish(`sentinel.state.${reading.entity_id}`, JSON.stringify(reading));
      await done;
      await settle();
      if (count % PROGRESS_EVERY === 0) options.onProgress?.(count, clock.now());
    }
    await clock.advanceTo(options.to, settle);
    await runtime.stop(); // runs still waiting on the clock end as `aborted`
    runtime = undefined;
    return { automationId, traces, readings: count, invalid, commands, unsettled };
  } finally {
    await runtime?.stop().catch(() => {});
    for (const nc of connections) await nc.close().catch(() => {});
    if (!options.sandbox) await sandbox.stop();
  }
}
