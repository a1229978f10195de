// The names the rest of the platform relies on (CONTRACT.md §3), plus our extensions.
export const BUCKET = {
  entities: 'sentinel_entities',
  devices: 'sentinel_devices',
  state: 'sentinel_state',
  locks: 'sentinel_locks',
  /** extension: `<protocol>.<device_id>.<key>` → entity id, created first-writer-wins so ids never fork */
  bindings: 'sentinel_bindings',
  /** extension: picket id → hashed device token */
  credentials: 'sentinel_credentials',
  /** extension: the automations runtime's durable timers and per-automation state (the only bucket it writes) */
  automations: 'sentinel_automations',
  /** extension: OTA rollouts (the current one, written by the `ota` leader) and the CLI's requests */
  ota: 'sentinel_ota',
  /** extension: the Matter controller's fabric and nodes (matter.js storage, written by the `matter` leader) */
  matter: 'sentinel_matter',
} as const;

export const HISTORY_STREAM = 'SENTINEL_HISTORY';
/** extension: one message per entity per minute of numeric readings (model/rollup.ts), for long history ranges */
export const ROLLUP_STREAM = 'SENTINEL_ROLLUP';

/** The subject a KV put on `bucket`/`key` is published on (no JetStream domain). */
export const kvSubject = (bucket: string, key: string) => `$KV.${bucket}.${key}`;

export const subject = {
  state: (entityId: string) => `sentinel.state.${entityId}`,
  stateAll: 'sentinel.state.>',
  command: (entityId: string) => `sentinel.cmd.${entityId}`,
  commandAll: 'sentinel.cmd.*',
  deviceAvailability: (deviceId: string) => `sentinel.device.${deviceId}.availability`,
  /** extension: a command forwarded to the node that holds the device's connection */
  nodeCommand: (nodeId: string, entityId: string) => `sentinel.node.${nodeId}.cmd.${entityId}`,
  nodeCommandAll: (nodeId: string) => `sentinel.node.${nodeId}.cmd.*`,
  /** extension: an entity's availability, derived from the devices of its bindings */
  entityAvailability: (entityId: string) => `sentinel.entity.${entityId}.availability`,
  /** extension: an entity's 1-minute rollups (captured by SENTINEL_ROLLUP) */
  rollup: (entityId: string) => `sentinel.rollup.${entityId}`,
  /** one token: `sentinel.rollup.<resolution>.<id>` stays free for coarser rollups later */
  rollupAll: 'sentinel.rollup.*',
};

/** Device ids on the bus: `<protocol>-<id>`, `[a-z0-9][a-z0-9_-]{0,63}` (CONTRACT.md §3). */
export const DEVICE_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;
export const picketDeviceId = (picketId: string) => `picket-${picketId}`;
