// API errors and the sentences a person reads about them. Pure.

import type { Role } from './types.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** seconds, from Retry-After (429) */
    readonly retryAfter?: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The `{"error":{"code","message"}}` body every error carries, as far as it is there. */
export function errorOf(status: number, body: unknown, retryAfter?: string | null): ApiError {
  const e = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  const code = typeof e?.code === 'string' ? e.code : `http_${status}`;
  const message = typeof e?.message === 'string' ? e.message : `the gateway answered ${status}`;
  const seconds = retryAfter ? Number.parseInt(retryAfter, 10) : Number.NaN;
  return new ApiError(status, code, message, Number.isFinite(seconds) ? seconds : undefined);
}

/**
 * What to tell the person. `doing` completes "Your role (viewer) cannot …", e.g. "command entities".
 */
export function describe(error: unknown, role: Role | undefined, doing: string): string {
  if (error instanceof ApiError) {
    switch (error.code) {
      case 'forbidden':
        return `Your role (${role ?? 'unknown'}) cannot ${doing}.`;
      case 'throttled':
        return `Too many attempts, try again in ${error.retryAfter ?? 60} s.`;
      case 'cross_site':
        return 'The gateway refused a request that did not come from its own page. Reload the page and try again.';
      case 'unauthenticated':
        return 'Your session has ended. Log in again.';
      default:
        return `Could not ${doing}: ${error.message}`;
    }
  }
  if (error instanceof TypeError) return `Could not ${doing}: the gateway is not answering.`;
  return `Could not ${doing}: ${error instanceof Error ? error.message : String(error)}`;
}
