// The checks every request passes before a route runs, written as plain functions over
// headers so the HTTP hooks and the WebSocket upgrade of the live feed (which Fastify
// never sees) run the very same code.
import type { IncomingHttpHeaders } from 'node:http';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import type { Authenticator, Principal } from './auth.js';
import { HttpError } from './errors.js';

export const SESSION_COOKIE = 'sentinel_session';

/** Names this gateway answers to: localhost, this machine's names, and the --public-url host. */
export function allowedHostNames(publicUrl: string | undefined): Set<string> {
  const full = hostname().toLowerCase();
  const names = new Set(['localhost', full, full.split('.')[0] ?? full]);
  if (publicUrl) names.add(new URL(publicUrl).hostname.toLowerCase());
  return names;
}

/** The host name of a Host header without its port (`[::1]:8080` → `::1`). */
function hostOf(header: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(header);
  if (bracketed?.[1]) return bracketed[1];
  return header.replace(/:\d+$/, '').toLowerCase();
}

/**
 * DNS rebinding: a hostile name resolving to this gateway reaches it with that name in
 * Host. Only IP literals, localhost, our own names and the public URL's host pass.
 */
export function checkHost(headers: IncomingHttpHeaders, allowed: ReadonlySet<string>): void {
  const header = headers.host;
  if (!header) throw new HttpError('bad_host', 'the request has no Host header');
  const host = hostOf(header);
  // node's parser accepts a trailing dot; a DNS name with one is the same name
  const name = host.endsWith('.') ? host.slice(0, -1) : host;
  if (isIP(name) !== 0 || allowed.has(name)) return;
  throw new HttpError(
    'bad_host',
    `this gateway does not answer to "${host}": use its address, one of its names, or the --public-url`,
  );
}

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export interface OriginContext {
  /** https when the server speaks TLS */
  scheme: 'http' | 'https';
  /** the --public-url's origin, when configured */
  publicOrigin: string | undefined;
}

/**
 * Cross-site requests: a page elsewhere can make the browser send a POST with our
 * cookie. Browsers always send Origin (or at least Sec-Fetch-Site) then, so a request
 * showing another origin is refused. A request showing neither comes from a script;
 * it passes unless it carries the session cookie, which only a browser would send.
 * `force` applies the check to any method (the live feed's WebSocket upgrade is a GET).
 */
export function checkSameOrigin(
  method: string,
  headers: IncomingHttpHeaders,
  context: OriginContext,
  force = false,
): void {
  if (!force && !STATE_CHANGING.has(method)) return;
  const origin = headers.origin;
  if (origin !== undefined) {
    const own = headers.host ? `${context.scheme}://${headers.host.toLowerCase()}` : undefined;
    const given = origin.toLowerCase();
    if (given === own || given === context.publicOrigin) return;
    throw new HttpError('cross_site', `requests from ${origin} are not accepted: use the gateway's own page`);
  }
  const site = headers['sec-fetch-site'];
  if (site !== undefined) {
    if (site === 'same-origin' || site === 'none') return;
    throw new HttpError('cross_site', `a ${site} request is not accepted: use the gateway's own page`);
  }
  if (force) return;
  if (cookieValue(headers.cookie, SESSION_COOKIE) !== undefined && !bearerOf(headers))
    throw new HttpError(
      'cross_site',
      'a request with a session cookie must show its Origin (browsers do); scripts use a bearer token',
    );
}

/** One cookie's value from a Cookie header. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function bearerOf(headers: IncomingHttpHeaders): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(headers.authorization ?? '');
  return match?.[1];
}

/**
 * Who the request is: a bearer token when one is sent (a bad one is refused even with a
 * good cookie beside it, so a script never silently acts as the browser's user), else
 * the session cookie. Undefined when the request carries neither.
 */
export async function authenticate(
  headers: IncomingHttpHeaders,
  auth: Authenticator,
): Promise<Principal | undefined> {
  if (headers.authorization !== undefined) {
    const token = bearerOf(headers);
    if (!token) throw new HttpError('unauthenticated', 'the Authorization header is not "Bearer <token>"');
    const principal = await auth.bearer(token);
    if (!principal) throw new HttpError('unauthenticated', 'the token is unknown or revoked');
    return principal;
  }
  const cookie = cookieValue(headers.cookie, SESSION_COOKIE);
  if (cookie === undefined || cookie === '') return undefined;
  const principal = await auth.session(cookie);
  if (!principal) throw new HttpError('unauthenticated', 'the session has ended: log in again');
  return principal;
}

/** The security headers of every answer (pages and API alike). */
export const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'self'; img-src 'self' data:; style-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};
