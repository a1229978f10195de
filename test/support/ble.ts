// A real BLE proxy (@sentinel/ble-proxy) on the simulated noble bindings, hearing a
// simulated BleAir, publishing to a real nats-server: what the proxy's own tests and
// the gateway's BLE adapter tests stand on.
import { connect } from '@nats-io/transport-node';
import { BleProxy, type BleProxyOptions, createNoble } from '@sentinel/ble-proxy';
import { type BleAir, SimulatedNobleBindings } from '@sentinel/simulators';
import { pino } from 'pino';

export interface SimulatedProxyOptions extends Partial<Omit<BleProxyOptions, 'id' | 'nc' | 'noble' | 'log'>> {
  /** how long a simulated adapter reset takes */
  resetMs?: number;
}

export async function startSimulatedProxy(
  air: BleAir,
  id: string,
  natsUrl: string,
  { resetMs, ...options }: SimulatedProxyOptions = {},
) {
  const nc = await connect({ servers: natsUrl, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  const bindings = new SimulatedNobleBindings(air, {
    listenerId: id,
    ...(resetMs === undefined ? {} : { resetMs }),
  });
  const proxy = new BleProxy({
    id,
    nc,
    noble: createNoble(bindings),
    log: pino({ level: 'silent' }),
    ...options,
  });
  proxy.start();
  return {
    proxy,
    bindings,
    nc,
    /** as a SIGKILL: the radio and the connection are gone, no last status */
    async kill() {
      bindings.stop();
      await nc.close();
      await proxy.stop();
    },
    async stop() {
      await proxy.stop();
      await nc.close();
    },
  };
}

export type SimulatedProxy = Awaited<ReturnType<typeof startSimulatedProxy>>;
