// The records the HTTP API and the live feed carry (CONTRACT.md §3 and docs/http-api.md).

export type Role = 'admin' | 'operator' | 'viewer';
export type Value = number | boolean | string | null;

export interface Binding {
  protocol: string;
  device_id: string;
  key: string;
  priority: number;
}

export interface Entity {
  id: string;
  name: string;
  platform: string;
  device_id: string;
  device_class?: string;
  unit?: string;
  state_class?: string;
  area?: string;
  min?: number;
  max?: number;
  step?: number;
  options?: string[];
  bindings: Binding[];
}

/** A `sentinel.state` message. */
export interface StateMessage {
  entity_id: string;
  value: Value;
  ts: number;
  unit?: string;
  source?: { protocol: string; device_id: string; key: string };
}

export interface Device {
  id: string;
  protocol: string;
  name: string;
  model?: string;
  manufacturer?: string;
  sw_version?: string;
  area?: string;
  online: boolean;
  last_seen: number;
  rssi?: number;
  entities?: unknown[];
}

/** An entity as GET /api/entities and the snapshot carry it: the record plus its latest state. */
export type EntityWithState = Entity & { state?: StateMessage | null };

export type LiveMessage =
  | { type: 'snapshot'; entities: EntityWithState[]; devices: Device[] }
  | { type: 'state'; state: StateMessage }
  | { type: 'availability'; entity_id: string; available: boolean; ts: number }
  | { type: 'device'; device: Device }
  | { type: 'entity'; entity: EntityWithState }
  | { type: 'entity_removed'; entity_id: string }
  | { type: 'device_removed'; device_id: string };

export interface Session {
  user?: string;
  token?: string;
  role: Role;
  expires?: number;
}

export interface CommandReply {
  ok: boolean;
  error?: { code: string; message: string };
}

export interface HistoryResponse {
  entity_id: string;
  unit?: string;
  from: number;
  to: number;
  bucket_ms: number;
  /** [ts, min, max, mean, count] */
  points: [number, number | null, number | null, number | null, number][];
}

export interface User {
  name: string;
  role: Role;
  created: number;
  onboarding_pending: boolean;
  locked_until?: number;
  failures: number;
}

export interface ApiToken {
  name: string;
  role: Role;
  created: number;
  last_used?: number;
}

export interface AuditEntry {
  ts: number;
  actor: string;
  action: string;
  target?: string;
  from: string;
  outcome: string;
  detail?: unknown;
}
