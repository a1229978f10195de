// The Matter adapter (issue 12) as gateway.ts starts it with --matter-url: one adapter per
// cluster under the `matter_adapter` lock (`matter` is the controller's own, in the
// bridge). The command target stays registered with the router on every node and reaches
// the adapter only where it runs.
import type { LeaderLease, Running } from '../bus/locks.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { Availability } from '../model/availability.js';
import { LeaderCommandTarget } from '../model/leader-target.js';
import type { Registry } from '../model/registry.js';
import type { StatePublisher } from '../model/state.js';
import { MATTER_PROTOCOL, MatterAdapter } from './adapter.js';

export { parseMatterJson, stringifyMatterJson } from '@sentinel/protocol';
export { MATTER_PROTOCOL, MatterAdapter, matterDeviceId } from './adapter.js';
export { MatterApiClient, MatterApiError, MatterConnectionError } from './client.js';

/** --matter-url's comma-separated list, or undefined when it is unset. */
export function matterUrls(option: string | undefined): string[] | undefined {
  const urls = option
    ?.split(',')
    .map((url) => url.trim())
    .filter((url) => url !== '');
  return urls?.length ? urls : undefined;
}

/** The router's way to Matter entities: the adapter of this node while it leads. */
export const matterCommandTarget = () => new LeaderCommandTarget(MATTER_PROTOCOL, 'the Matter adapter');

export interface MatterAdapterStart {
  urls: readonly string[];
  target: LeaderCommandTarget;
  registry: Registry;
  state: StatePublisher;
  availability: Availability;
  metrics: Metrics;
  log: Logger;
}

export async function startMatterAdapter(o: MatterAdapterStart, lease: LeaderLease): Promise<Running> {
  const adapter = new MatterAdapter({
    urls: o.urls,
    registry: o.registry,
    state: o.state,
    availability: o.availability,
    metrics: o.metrics,
    log: o.log.child({ subsystem: 'matter_adapter', lease_revision: lease.revision }),
  });
  return o.target.run(adapter);
}
