// A bus for automation tests: a real nats-server, the registry buckets filled by the
// test as the gateway would, a responder standing in for the gateway's command routing,
// and readings that resolve once the runtime has evaluated them (no sleeps).
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { connectTestBus } from '../../test/support/bus.js';
import { startNats, type TestNats } from '../../test/support/nats.js';
import { ManualClock } from '../src/clock.js';
import { AutomationRuntime, type RuntimeOptions } from '../src/runtime/runtime.js';
import type { Trace } from '../src/runtime/trace.js';

export interface TestEntity {
  id: string;
  name: string;
  platform: string;
  unit?: string;
}

export const START = Date.UTC(2025, 5, 21, 10, 0, 0);

export async function startBus(entities: TestEntity[]) {
  const nats: TestNats = await startNats();
  const nc: NatsConnection = await connectTestBus(nats.url);
  const kvm = new Kvm(nc);
  const entityKv = await kvm.create('sentinel_entities', { history: 1 });
  const stateKv = await kvm.create('sentinel_state', { history: 1 });
  for (const e of entities) {
    await entityKv.put(e.id, JSON.stringify({ ...e, device_id: 'picket-test', bindings: [] }));
  }
  const commands: { entity_id: string; value: unknown }[] = [];
  const responder = nc.subscribe('sentinel.cmd.*', {
    callback: (_e, msg) => {
      commands.push({ entity_id: msg.subject.split('.')[2]!, ...msg.json<{ value: unknown }>() });
      msg.respond(JSON.stringify({ ok: true }));
    },
  });
  await nc.flush();
  const clock = new ManualClock(START);
  const runtimes: AutomationRuntime[] = [];

  return {
    nats,
    nc,
    clock,
    commands,
    async runtime(options: Partial<RuntimeOptions> = {}) {
      const runtimeNc = await connectTestBus(nats.url);
      const runtime = await AutomationRuntime.start({ nc: runtimeNc, clock, ...options });
      runtimes.push(runtime);
      return runtime;
    },
    /** stops a runtime and closes its connection, as a process exit would */
    async stopRuntime(runtime: AutomationRuntime) {
      await runtime.stop();
      await runtime.options.nc.close();
      runtimes.splice(runtimes.indexOf(runtime), 1);
    },
    /** a reading as the gateway publishes it; resolves once `runtime` has evaluated it and its runs ended */
    async reading(runtime: AutomationRuntime, entityId: string, value: number | boolean | string | null) {
      const message = {
        entity_id: entityId,
        value,
        ts: clock.now(),
        source: { protocol: 'picket', device_id: 'picket-test', key: 'k' },
      };
      await stateKv.put(entityId, JSON.stringify(message));
      nc.publish(`sentinel.state.${entityId}`, JSON.stringify(message));
      await nc.flush(); // the server has passed it to every subscriber
      await runtime.idle();
    },
    async stop() {
      for (const r of [...runtimes]) await this.stopRuntime(r);
      responder.unsubscribe();
      await nc.close();
      await nats.stop();
    },
  };
}

export const ran = (traces: readonly Trace[]) => traces.filter((t) => t.result === 'ok');
