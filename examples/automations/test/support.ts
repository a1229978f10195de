// The examples' test bench: a real nats-server and gateway, one simulated picket device
// whose readings the test sets by hand, and the automation runtime on a clock the test
// moves. The device stamps its readings with that clock, so the gateway, the history
// and the runtime all see the simulated time. No sleeps: every step awaits an event.
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { AutomationRuntime, ManualClock, type Trace } from '@sentinel/automations';
import type { EntityDescription, ReadingValue } from '@sentinel/firmware';
import { openGatewayStore } from '@sentinel/gateway/store';
import { type Clock as DeviceClock, PicketDevice, type SimulatedEntity } from '@sentinel/simulators';
import { connectTestBus } from '../../../test/support/bus.js';
import { startStack, type TestStack } from '../../../test/support/gateway.js';

export type Reading = number | boolean | string | null;

export interface BenchEntity {
  key: string;
  name: string;
  platform: EntityDescription['platform'];
  unit?: string;
  initial: Reading;
}

export interface Bench {
  stack: TestStack;
  clock: ManualClock;
  device: PicketDevice;
  /** entity ids by name, as the gateway assigned them */
  ids: Record<string, string>;
  /** current values of the device's entities (commands change them) */
  values: Record<string, Reading>;
  /** commands the device obeyed, with the clock time they arrived at */
  commands: { key: string; value: unknown; at: number }[];
  /** the runtime now running (restart() replaces it) */
  readonly runtime: AutomationRuntime;
  /**
   * Stops the runtime (runs aborted, KV writes flushed) and starts a new one on the same
   * clock and bus, as a process restart would; `between` runs while none is running (e.g.
   * to move the clock). Load the automations into the new `runtime` again.
   */
  restart(between?: () => Promise<void> | void): Promise<AutomationRuntime>;
  /** the device reports `values` (merged in) now; resolves once the runtime has evaluated them and runs ended */
  report(values: Record<string, Reading>): Promise<void>;
  /** moves the clock, firing due timers, and waits for the runs they started */
  advance(ms: number): Promise<void>;
  traces(id: string): readonly Trace[];
  stop(): Promise<void>;
}

/** the platforms the bench's device obeys commands for (the value becomes the entity's reading) */
const COMMANDABLE = new Set<EntityDescription['platform']>(['switch', 'light', 'fan']);

/** the automation clock as the simulator's clock: its own timers never fire (the test reports by hand) */
const deviceClock = (clock: ManualClock): DeviceClock => ({
  now: () => clock.now(),
  schedule: () => () => {},
});

export async function startBench(
  entities: BenchEntity[],
  start: number,
  options: { location?: { latitude: number; longitude: number } } = {},
): Promise<Bench> {
  const stack = await startStack();
  const clock = new ManualClock(start);
  const values: Record<string, Reading> = Object.fromEntries(entities.map((e) => [e.key, e.initial]));
  const commands: Bench['commands'] = [];
  const store = await openGatewayStore({ natsUrl: stack.nats.url });
  const { token } = await store.addDevice('bench');
  await store.close();
  const simulated = (e: BenchEntity): SimulatedEntity => ({
    description: {
      key: e.key,
      name: e.name,
      platform: e.platform,
      ...(e.unit ? { unit: e.unit } : {}),
    },
    read: () => values[e.key] as ReadingValue,
    ...(COMMANDABLE.has(e.platform)
      ? {
          command: (c) => {
            commands.push({ key: e.key, value: c.value, at: clock.now() });
            values[e.key] = c.value as Reading;
            return { ok: true };
          },
        }
      : {}),
  });
  const device = new PicketDevice({
    id: 'bench',
    token,
    gateway: `mqtt://127.0.0.1:${stack.gateway.mqttPort}`,
    qos: 1,
    intervalMs: 3_600_000,
    clock: deviceClock(clock),
    entities: () => entities.map(simulated),
  });
  const ids = await new Promise<Record<string, string>>((resolve, reject) => {
    // the hello registers the entities; the first state (sent on connect) is acked after they exist
    device.once('acked', () => {
      entityIds(stack.bus).then(resolve, reject);
    });
    device.start();
  });

  // every reading the device sends after this point, against every reading the gateway put on
  // the bus: a command makes the device report its new state, which must be on the bus (and
  // so, after runtime.idle(), evaluated) before the test goes on
  let sent = 0;
  let seen = 0;
  let caughtUp: (() => void) | undefined;
  /** what the bus last carried per entity */
  const lastOnBus = new Map<string, { value: unknown; ts: number }>();
  stack.bus.subscribe('sentinel.state.>', {
    callback: (_e, msg) => {
      const { entity_id, value, ts } = msg.json<{ entity_id: string; value: unknown; ts: number }>();
      lastOnBus.set(entity_id, { value, ts });
      seen++;
      if (seen >= sent) caughtUp?.();
    },
  });
  await stack.bus.flush();
  device.on('state', ({ state, resend }) => {
    if (!resend) sent += Object.keys(state.values).length;
  });
  const startRuntime = async () => {
    const nc: NatsConnection = await connectTestBus(stack.nats.url);
    const started = await AutomationRuntime.start({ nc, clock, location: options.location });
    return { runtime: started, nc };
  };
  let { runtime, nc: runtimeNc } = await startRuntime();
  const settle = async () => {
    for (;;) {
      if (seen < sent)
        await new Promise<void>((resolve) => {
          caughtUp = resolve;
        });
      await runtime.idle();
      if (seen >= sent) return;
    }
  };

  return {
    stack,
    clock,
    device,
    ids,
    values,
    commands,
    get runtime() {
      return runtime;
    },
    async restart(between) {
      await runtime.stop();
      await runtimeNc.close();
      await between?.();
      await stateWritten(stack.bus, lastOnBus);
      ({ runtime, nc: runtimeNc } = await startRuntime());
      return runtime;
    },
    async report(next) {
      Object.assign(values, next);
      device.publishState();
      await settle();
    },
    async advance(ms) {
      await clock.advance(ms);
      await settle();
    },
    traces: (id) => runtime.traces.of(id),
    async stop() {
      await runtime.stop();
      await runtimeNc.close();
      await device.stop();
      await stack.stop();
    },
  };
}

/**
 * The gateway writes sentinel_state a moment after the bus (coalesced, --state-flush): a
 * runtime started right after a reading would read the one before it. Waits until the
 * bucket holds what the bus last carried.
 */
async function stateWritten(nc: NatsConnection, lastOnBus: Map<string, { value: unknown; ts: number }>) {
  const kv = await new Kvm(nc).open('sentinel_state');
  for (const [id, last] of lastOnBus) {
    const watch = await kv.watch({ key: id });
    for await (const entry of watch) {
      if (entry.operation === 'PUT' && entry.json<{ ts: number }>().ts >= last.ts) break;
    }
    watch.stop();
  }
}

async function entityIds(nc: NatsConnection): Promise<Record<string, string>> {
  const kv = await new Kvm(nc).open('sentinel_entities');
  const ids: Record<string, string> = {};
  for await (const key of await kv.keys()) {
    const record = (await kv.get(key))?.json<{ id: string; name: string }>();
    if (record) ids[record.name] = record.id;
  }
  return ids;
}
