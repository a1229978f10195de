// Every refusal the HTTP API gives is one JSON shape, {"error":{"code","message"}}, with
// a code per status (docs/http-api.md), and is counted by code: a client can branch on
// the code, a person reads the message, and an operator sees the rate in /metrics.
import { z } from 'zod';

export const ERROR_STATUS = {
  bad_request: 400,
  unauthenticated: 401,
  bad_credentials: 401,
  forbidden: 403,
  cross_site: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  gone: 410,
  too_large: 413,
  unsupported_media_type: 415,
  bad_host: 421,
  unprocessable: 422,
  throttled: 429,
  internal: 500,
} as const;
export type ErrorCode = keyof typeof ERROR_STATUS;

export const ErrorBodySchema = z.object({
  error: z.object({ code: z.string(), message: z.string() }),
});
export type ErrorBody = z.infer<typeof ErrorBodySchema>;

/** A refusal with its code; thrown from hooks and handlers, answered by the error handler. */
export class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** extra response headers (Retry-After) */
    readonly headers: Record<string, string> = {},
    options?: ErrorOptions,
  ) {
    super(message, options);
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }

  body(): ErrorBody {
    return { error: { code: this.code, message: this.message } };
  }
}

/** The error responses a route may give, for its schema (and so the OpenAPI document). */
export const errorResponses = (...codes: ErrorCode[]) =>
  Object.fromEntries(codes.map((code) => [ERROR_STATUS[code], ErrorBodySchema]));
