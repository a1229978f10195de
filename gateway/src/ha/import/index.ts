// Home Assistant import (issue 14): what gateway.ts starts with --ha-url, under the
// `ha_import` leader lock so two nodes never both import. The command target stays
// registered with the router on every node and reaches the importer only where it runs
// (elsewhere the router forwards to the node holding the devices).
import { readFile } from 'node:fs/promises';
import type { LeaderLease, Running } from '../../bus/locks.js';
import type { GatewayConfig } from '../../config.js';
import type { Logger } from '../../log.js';
import type { Metrics } from '../../metrics.js';
import type { Availability } from '../../model/availability.js';
import { LeaderCommandTarget } from '../../model/leader-target.js';
import type { Registry } from '../../model/registry.js';
import type { StatePublisher } from '../../model/state.js';
import { EntityFilter } from './filter.js';
import { HA_PROTOCOL, HaImporter } from './importer.js';

export { EntityFilter } from './filter.js';
export { HA_PROTOCOL, HaImporter, haDeviceId, haGroupDeviceId } from './importer.js';
export { HA_DOMAINS, parseHaState } from './mapping.js';

export interface HaImportSettings {
  url: string;
  token: string;
  filter: EntityFilter;
}

/** The import's settings, or undefined without --ha-url. The token file is read here, so a wrong path fails the start. */
export async function haImportSettings(
  config: Pick<GatewayConfig, 'haUrl' | 'haToken' | 'haTokenFile' | 'haInclude' | 'haExclude'>,
): Promise<HaImportSettings | undefined> {
  if (!config.haUrl) return undefined;
  let token = config.haToken;
  if (token === undefined && config.haTokenFile !== undefined) {
    try {
      token = (await readFile(config.haTokenFile, 'utf8')).trim();
    } catch (error) {
      throw new Error(`--ha-token-file: cannot read ${config.haTokenFile}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }
  if (!token) throw new Error('--ha-url needs --ha-token or --ha-token-file');
  return { url: config.haUrl, token, filter: new EntityFilter(config.haInclude, config.haExclude) };
}

export interface HaImportOptions {
  settings: HaImportSettings;
  target: LeaderCommandTarget;
  registry: Registry;
  state: StatePublisher;
  availability: Availability;
  metrics: Metrics;
  log: Logger;
}

/** The router's way to Home Assistant entities: the importer of this node while it leads. */
export const haCommandTarget = () => new LeaderCommandTarget(HA_PROTOCOL, 'the Home Assistant import');

export async function startHaImport(o: HaImportOptions, lease: LeaderLease): Promise<Running> {
  const importer = new HaImporter({
    ...o.settings,
    registry: o.registry,
    state: o.state,
    availability: o.availability,
    metrics: o.metrics,
    log: o.log.child({ subsystem: 'ha_import', lease_revision: lease.revision }),
  });
  return o.target.run(importer);
}
