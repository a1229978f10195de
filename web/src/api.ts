// fetch with JSON both ways; errors become ApiError; a 401 sends the person to the login page.

import { ApiError, errorOf } from './errors.js';
import type { CommandReply } from './types.js';

let unauthenticated: () => void = () => {};

/** What to do when any call answers 401 (the app goes to the login page). */
export function onUnauthenticated(handler: () => void): void {
  unauthenticated = handler;
}

export interface RequestOptions {
  /** a 401 is this call's own answer (logging in, onboarding), not a reason to leave the page */
  expect401?: boolean;
  /** statuses whose JSON body is an answer, not an error (a command's 422) */
  accept?: number[];
}

export async function request<T>(
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
  path: string,
  body?: unknown,
  options: RequestOptions = {},
): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  if (response.status === 204) return undefined as T;
  const data: unknown = await response.json().catch(() => null);
  if (response.ok || options.accept?.includes(response.status)) return data as T;
  const error = errorOf(response.status, data, response.headers.get('retry-after'));
  if (response.status === 401 && !options.expect401) unauthenticated();
  throw error;
}

export const get = <T>(path: string, options?: RequestOptions) => request<T>('GET', path, undefined, options);
export const post = <T>(path: string, body?: unknown, options?: RequestOptions) =>
  request<T>('POST', path, body ?? {}, options);
export const put = <T>(path: string, body: unknown) => request<T>('PUT', path, body);
export const patch = <T>(path: string, body: unknown) => request<T>('PATCH', path, body);
export const del = (path: string) => request<void>('DELETE', path);

/** The `sentinel.cmd` reply, whether the device did it (200) or not (422). */
export function command(entityId: string, body: { value: unknown } | { action: string; value?: unknown }) {
  return post<CommandReply>(`/api/entities/${encodeURIComponent(entityId)}/command`, body, { accept: [422] });
}

export { ApiError };

/** An OTA rollout as GET /api/ota/rollout shows it (gateway/src/http/routes/ota-rollouts.ts). */
export interface RolloutView {
  id: string;
  version: string;
  status: 'running' | 'paused' | 'completed' | 'aborted';
  stage: number;
  stage_count: number;
  stage_label: string;
  canary: number;
  deadline_ms: number;
  created: number;
  updated: number;
  paused_reason?: string;
  paused_device?: string;
  counts: Record<string, number>;
  devices: {
    device: string;
    stage: number;
    state: 'pending' | 'offered' | 'booted' | 'confirmed' | 'skipped' | 'failed';
    from: string;
    percent?: number;
    reason?: string;
    updated: number;
  }[];
}

/** Pause, resume or abort the rollout (admins); a 202 says no gateway leads `ota` yet. */
export const rolloutAction = (op: 'pause' | 'resume' | 'abort') =>
  post<{ rollout: RolloutView | null } | { queued: true; message: string }>(`/api/ota/rollout/${op}`);
