// The Matter adapter (issue 12) as gateway.ts starts it with --matter-url: one adapter per
// cluster under the `matter_adapter` lock (`matter` is the controller's own, in the
// bridge). The command target stays registered with the router on every node and reaches
// the adapter only where it runs.
import type { LeaderLease, Running } from '../bus/locks.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { Availability } from '../model/availability.js';
import { type CommandReply, type CommandRequest, type CommandTarget, failure } from '../model/commands.js';
import type { Binding } from '../model/records.js';
import type { Registry } from '../model/registry.js';
import type { StatePublisher } from '../model/state.js';
import { MATTER_PROTOCOL, MatterAdapter } from './adapter.js';

export { MATTER_PROTOCOL, MatterAdapter, matterDeviceId } from './adapter.js';
export { MatterApiClient, MatterApiError, MatterConnectionError } from './client.js';
export { parseMatterJson, stringifyMatterJson } from './json.js';

/** --matter-url's comma-separated list, or undefined when it is unset. */
export function matterUrls(option: string | undefined): string[] | undefined {
  const urls = option
    ?.split(',')
    .map((url) => url.trim())
    .filter((url) => url !== '');
  return urls?.length ? urls : undefined;
}

/** The router's way to Matter entities: the adapter of this node while it leads. */
export class MatterCommandTarget implements CommandTarget {
  readonly protocol = MATTER_PROTOCOL;
  adapter: MatterAdapter | undefined;

  isOnline = (deviceId: string): boolean => this.adapter?.isOnline(deviceId) ?? false;

  send(binding: Binding, request: CommandRequest, timeoutMs: number): Promise<CommandReply> {
    return (
      this.adapter?.send(binding, request, timeoutMs) ??
      Promise.resolve(failure('unavailable', 'the Matter adapter does not run on this node'))
    );
  }
}

export interface MatterAdapterStart {
  urls: readonly string[];
  target: MatterCommandTarget;
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
  o.target.adapter = adapter;
  adapter.start();
  return {
    async stop() {
      if (o.target.adapter === adapter) o.target.adapter = undefined;
      await adapter.stop();
    },
  };
}
