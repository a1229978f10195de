// One root matter.js Environment per node. matter.js keeps process-wide services (mDNS
// above all) on the root environment, so a device and a controller sharing a process
// (tests, demos) would otherwise share one mDNS cache and one storage location.
import { Crypto, Entropy, Environment, Network, VariableService } from '@matter/main';
import { memoryStorage, type NodeStorage } from './storage.js';

export interface EnvironmentOptions {
  /** where the node keeps its state; memory (forgotten on stop) when omitted */
  readonly storage?: NodeStorage;
  /**
   * Keep mDNS on the loopback interface. Devices then advertise nowhere (matter.js sends
   * no mDNS on `lo`), and a controller reaches them only by the address it is given.
   */
  readonly loopbackOnly?: boolean;
}

export function isolatedEnvironment(name: string, options: EnvironmentOptions = {}): Environment {
  const platform = Environment.default;
  const env = new Environment(name);
  env.set(Network, platform.get(Network));
  env.set(Crypto, platform.get(Crypto));
  env.set(Entropy, platform.get(Entropy));
  const vars = new VariableService(env);
  env.set(VariableService, vars);
  if (options.loopbackOnly) vars.set('mdns.networkInterface', 'lo');
  (options.storage ?? memoryStorage()).install(env);
  return env;
}
