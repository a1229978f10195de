// What the HTTP layer needs from the people module: who a request is (Authenticator)
// and the account operations behind the people routes (PeopleApi). The HTTP layer
// owns nothing here; the people module implements both and the gateway passes them in.

export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** What a route declares in `config.role`: the least role it needs, or `public` (login, onboarding, the app's files). */
export type RouteRole = Role | 'public';

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

/** Roles are ordered: an admin may do what an operator may, an operator what a viewer may. */
export const roleAllows = (held: Role, needed: Role): boolean => RANK[held] >= RANK[needed];

export interface Principal {
  kind: 'session' | 'token';
  /** what a revocation names: the session's hash or the token's name */
  id: string;
  /** the user's or the token's name */
  name: string;
  role: Role;
  /** when a session ends (GET /api/session shows it); tokens do not expire */
  expires?: number;
}

export interface Authenticator {
  /** the principal of a `sentinel_session` cookie value, or undefined when unknown, expired or revoked */
  session(cookieValue: string): Promise<Principal | undefined>;
  /** the principal of an `Authorization: Bearer` token */
  bearer(token: string): Promise<Principal | undefined>;
  /** called with a Principal.id the moment it stops being valid (logout, revocation, removal); returns unsubscribe */
  onRevoked(listener: (id: string) => void): () => void;
}

export interface NewSession {
  /** the cookie value (sent once, in Set-Cookie) */
  cookie: string;
  user: string;
  role: Role;
  /** absolute expiry, ms since the epoch (the cookie's Max-Age) */
  expires: number;
}

export interface UserView {
  name: string;
  role: Role;
  created: number;
  onboarding_pending: boolean;
  locked_until?: number | undefined;
  failures: number;
}

export interface TokenView {
  name: string;
  role: Role;
  created: number;
  last_used?: number | undefined;
}

export interface AuditEntry {
  ts: number;
  /** user or token name; `anonymous` before login */
  actor: string;
  action: string;
  target?: string | undefined;
  /** the client address */
  from: string;
  outcome: 'ok' | 'refused' | 'failed';
  detail?: unknown;
}

export interface AuditQuery {
  user?: string | undefined;
  entity?: string | undefined;
  limit: number;
  /** only entries older than this (ms), for paging */
  before?: number | undefined;
}

export type PeopleErrorCode =
  | 'bad_credentials'
  | 'throttled'
  | 'not_found'
  | 'conflict'
  | 'gone'
  | 'bad_request';

/** A refusal the people module explains; the HTTP layer maps the code to a status. */
export class PeopleError extends Error {
  override name = 'PeopleError';
  constructor(
    readonly code: PeopleErrorCode,
    message: string,
    /** with `throttled`: when to try again */
    readonly retryAfterMs?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * The account operations behind the people routes. Methods reject with PeopleError
 * for a refusal a person should see; anything else is a fault (500). They do not
 * audit: the HTTP layer records every call with who, from where and the outcome.
 */
export interface PeopleApi {
  /** checks a password, throttled per account and per client address; rejects bad_credentials or throttled */
  login(user: string, password: string, from: string): Promise<NewSession>;
  /** revokes a session by its Principal.id (Authenticator.onRevoked fires) */
  logout(sessionId: string): Promise<void>;
  /** who an unused onboarding token is for; rejects gone when used or unknown */
  onboarding(token: string): Promise<{ user: string; role: Role }>;
  /** sets the password (rejects bad_request when too weak, gone when used) and opens a session */
  completeOnboarding(token: string, password: string, from: string): Promise<NewSession>;
  users(): Promise<UserView[]>;
  /** rejects conflict when the name is taken; answers the one-time onboarding token */
  addUser(name: string, role: Role): Promise<{ user: string; role: Role; onboarding_token: string }>;
  /** rejects not_found; conflict when it would leave no admin */
  setRole(name: string, role: Role): Promise<UserView>;
  /** clears the login throttling of an account; rejects not_found */
  unlock(name: string): Promise<UserView>;
  /** ends the user's sessions at once; rejects not_found, conflict for the last admin */
  removeUser(name: string): Promise<void>;
  tokens(): Promise<TokenView[]>;
  /** rejects conflict when the name is taken; the token is shown once */
  createToken(role: Role, name?: string): Promise<{ name: string; role: Role; token: string }>;
  /** rejects not_found; connections using it close at once (onRevoked) */
  revokeToken(name: string): Promise<void>;
  audit(entry: AuditEntry): Promise<void>;
  /** newest first */
  auditLog(query: AuditQuery): Promise<AuditEntry[]>;
}
