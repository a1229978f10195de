// The topics on Home Assistant's broker (CONTRACT.md §7): discovery under its prefix,
// our states, availability and command topics under `sentinel/<device_id>/…`.
import { DEVICE_ID_PATTERN } from '../bus/names.js';

const BASE = 'sentinel';

/** Home Assistant's device-based discovery id of the gateway itself (not a `<protocol>-…` id, so it never meets one). */
export const GATEWAY_DEVICE_ID = 'sentinel-gateway';

export const haTopic = {
  /** retained `online` while a gateway publishes, `offline` (its will, or a clean stop) otherwise */
  gatewayStatus: `${BASE}/gateway/status`,
  deviceAvailability: (deviceId: string) => `${BASE}/${deviceId}/availability`,
  state: (deviceId: string, entityId: string) => `${BASE}/${deviceId}/${entityId}/state`,
  command: (deviceId: string, entityId: string) => `${BASE}/${deviceId}/${entityId}/set`,
  position: (deviceId: string, entityId: string) => `${BASE}/${deviceId}/${entityId}/position/set`,
  commandFilters: [`${BASE}/+/+/set`, `${BASE}/+/+/position/set`],
  config: (prefix: string, deviceId: string) => `${prefix}/device/${deviceId}/config`,
  /** every device-based discovery config: ours come back, and anyone else's on our devices is noticed */
  configFilter: (prefix: string) => `${prefix}/device/+/config`,
  /** Home Assistant's birth and will */
  haStatus: (prefix: string) => `${prefix}/status`,
};

export interface CommandTopic {
  deviceId: string;
  entityId: string;
  kind: 'command' | 'position';
}

/** The entity a command topic addresses; undefined for any other topic. */
export function parseCommandTopic(topic: string): CommandTopic | undefined {
  const levels = topic.split('/');
  if (levels[0] !== BASE || levels.length < 4) return undefined;
  const [, deviceId, entityId, ...rest] = levels as [string, string, string, ...string[]];
  if (!DEVICE_ID_PATTERN.test(deviceId) || !/^[^#+]{1,128}$/.test(entityId)) return undefined;
  const tail = rest.join('/');
  if (tail === 'set') return { deviceId, entityId, kind: 'command' };
  if (tail === 'position/set') return { deviceId, entityId, kind: 'position' };
  return undefined;
}

/** The device id of a device-based discovery topic under `prefix`; undefined for any other topic. */
export function parseConfigTopic(prefix: string, topic: string): string | undefined {
  if (!topic.startsWith(`${prefix}/device/`) || !topic.endsWith('/config')) return undefined;
  const deviceId = topic.slice(`${prefix}/device/`.length, -'/config'.length);
  return deviceId !== '' && !deviceId.includes('/') ? deviceId : undefined;
}
