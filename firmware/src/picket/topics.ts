// MQTT topics of picket protocol v1 (CONTRACT.md §4). A device may only touch
// topics under its own prefix.

export const PICKET_TOPIC_ROOT = 'picket';

export type DeviceTopicKind = 'status' | 'hello' | 'state' | 'cmd' | 'cmd/result';

export const picketTopic = (id: string, kind: DeviceTopicKind): string =>
  `${PICKET_TOPIC_ROOT}/${id}/${kind}`;

/** Splits `picket/<id>/<kind>`; anything else (other roots, unknown kinds, wildcards) yields undefined. */
export function parsePicketTopic(topic: string): { id: string; kind: DeviceTopicKind } | undefined {
  const parts = topic.split('/');
  if (parts[0] !== PICKET_TOPIC_ROOT || parts.length < 3 || parts.length > 4) return undefined;
  const id = parts[1]!;
  const kind = parts.slice(2).join('/');
  switch (kind) {
    case 'status':
    case 'hello':
    case 'state':
    case 'cmd':
    case 'cmd/result':
      return { id, kind };
    default:
      return undefined;
  }
}

/** The prefix a device's own topics live under; subscriptions outside it are refused. */
export const picketTopicPrefix = (id: string): string => `${PICKET_TOPIC_ROOT}/${id}/`;
