// MQTT topics of picket protocol v1 (CONTRACT.md §4). A device may only touch
// topics under its own prefix.

export const PICKET_TOPIC_ROOT = 'picket';

export type DeviceTopicKind =
  | 'status'
  | 'hello'
  | 'state'
  | 'cmd'
  | 'cmd/result'
  /** OTA offers, confirm and rollback (gw→device) */
  | 'ota'
  /** OTA progress (device→gw) */
  | 'ota/progress';

export const picketTopic = (id: string, kind: DeviceTopicKind): string =>
  `${PICKET_TOPIC_ROOT}/${id}/${kind}`;

/** The prefix a device's own topics live under; subscriptions outside it are refused. */
export const picketTopicPrefix = (id: string): string => `${PICKET_TOPIC_ROOT}/${id}/`;
