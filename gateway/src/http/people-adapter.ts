// The real people module (gateway/src/people) as the HTTP layer sees it: an
// Authenticator and a PeopleApi. People's refusals become the HTTP layer's
// PeopleError with the same code (bad_credentials → 401, throttled → 429 with
// Retry-After, …); the HTTP layer's audit entries become audit records.
//
// Log-ins and onboarding are recorded by People itself (with the throttle's
// outcome), so the HTTP layer's entries for them are not recorded twice.
import {
  type AuditRecord,
  type People,
  PeopleError as PeopleModuleError,
  type Session,
  ThrottledError,
  UnknownUserError,
  type User,
} from '../people/index.js';
import {
  type AuditEntry,
  type AuditQuery,
  type Authenticator,
  type NewSession,
  type PeopleApi,
  PeopleError,
  type Principal,
  type Role,
  type TokenView,
  type UserView,
} from './auth.js';

/** HTTP audit actions → the audit log's (gateway/src/people/audit.ts). */
const ACTIONS: Record<string, string> = {
  'user.add': 'user_add',
  'user.remove': 'user_remove',
  'user.role': 'user_role',
  'user.unlock': 'user_unlock',
  'token.create': 'token_create',
  'token.revoke': 'token_revoke',
  'device.provision': 'device_add',
  'entity.edit': 'entity_rename',
  'entity.bindings': 'entity_rebind',
};
/** recorded by People itself, with the throttling outcome */
const RECORDED_BY_PEOPLE = new Set(['login', 'onboarding']);

/** A people refusal as the HTTP layer's error (same code); anything else passes unchanged. */
function asHttpError(error: unknown): never {
  if (error instanceof PeopleModuleError)
    throw new PeopleError(
      error.code,
      error.message,
      error instanceof ThrottledError ? error.retryAfterMs : undefined,
      { cause: error },
    );
  throw error;
}

const mapped =
  <A extends unknown[], T>(work: (...args: A) => Promise<T>) =>
  (...args: A): Promise<T> =>
    work(...args).catch(asHttpError);

const newSession = (result: { user: User; token: string; session: Session }): NewSession => ({
  cookie: result.token,
  user: result.user.name,
  role: result.user.role,
  expires: result.session.expires,
});

/** `user:<name>`, `token:<name>`, `cli`, `system` as they are; a bare name is a user. */
const actorOf = (actor: string) =>
  actor === 'anonymous'
    ? 'system'
    : /^(user|token):/.test(actor) || actor === 'cli' || actor === 'system'
      ? actor
      : `user:${actor}`;

export function peopleForHttp(people: People): { auth: Authenticator; people: PeopleApi } {
  const auth: Authenticator = {
    async session(cookieValue) {
      const principal = await people.authenticate({ sessionToken: cookieValue });
      if (principal?.kind !== 'session') return undefined;
      return {
        kind: 'session',
        id: principal.session.id,
        name: principal.user,
        role: principal.role,
        expires: principal.session.expires,
      } satisfies Principal;
    },
    async bearer(token) {
      const principal = await people.authenticate({ bearer: token });
      if (principal?.kind !== 'token') return undefined;
      return { kind: 'token', id: principal.name, name: principal.name, role: principal.role };
    },
    onRevoked(listener) {
      return people.onRevoked((event) => listener(event.id));
    },
  };

  const userView = (user: User & { failures: number; locked_until?: number | undefined }): UserView => ({
    name: user.name,
    role: user.role,
    created: user.created,
    onboarding_pending: user.onboarding_pending,
    failures: user.failures,
    ...(user.locked_until !== undefined ? { locked_until: user.locked_until } : {}),
  });
  const listing = async (name: string): Promise<UserView> => {
    const found = (await people.listUsers()).find((user) => user.name === name);
    if (!found) throw new UnknownUserError(`no user "${name}"`);
    return userView(found);
  };

  const api: PeopleApi = {
    login: mapped(async (user: string, password: string, from: string) =>
      newSession(await people.login(user, password, from)),
    ),
    logout: mapped(async (sessionId: string) => {
      await people.sessions.revoke(sessionId);
    }),
    onboarding: mapped(async (token: string) => {
      const user = await people.users.onboarding(token);
      return { user: user.name, role: user.role };
    }),
    completeOnboarding: mapped(async (token: string, password: string, from: string) =>
      newSession(await people.completeOnboarding(token, password, from)),
    ),
    users: mapped(async () => (await people.listUsers()).map(userView)),
    addUser: mapped(async (name: string, role: Role) => {
      const { user, token } = await people.users.add(name, role);
      return { user: user.name, role: user.role, onboarding_token: token };
    }),
    setRole: mapped(async (name: string, role: Role) => {
      await people.users.setRole(name, role);
      // the new role applies from the next log-in
      await people.sessions.revokeUser(name);
      return listing(name);
    }),
    unlock: mapped(async (name: string) => {
      const view = await listing(name);
      people.throttle.unlock(name);
      return { ...view, failures: 0, locked_until: undefined };
    }),
    removeUser: mapped(async (name: string) => {
      await people.users.remove(name);
      await people.sessions.revokeUser(name);
      people.throttle.unlock(name);
    }),
    tokens: mapped(
      async (): Promise<TokenView[]> =>
        (await people.tokens.list()).map((token) => ({
          name: token.name,
          role: token.role,
          created: token.created,
          ...(token.last_used !== undefined ? { last_used: token.last_used } : {}),
        })),
    ),
    createToken: mapped((role: Role, name?: string) => people.tokens.create(role, name)),
    revokeToken: mapped(async (name: string) => {
      await people.tokens.revoke(name);
    }),
    audit: mapped(async (entry: AuditEntry) => {
      if (RECORDED_BY_PEOPLE.has(entry.action)) return;
      const { code, ...detail } = (
        entry.detail && typeof entry.detail === 'object' ? entry.detail : {}
      ) as Record<string, unknown>;
      await people.audit.record({
        ts: entry.ts,
        actor: actorOf(entry.actor),
        action: (ACTIONS[entry.action] ?? entry.action.replace(/[^a-z0-9]+/g, '_')) as 'command',
        ...(entry.target !== undefined ? { target: entry.target } : {}),
        from: entry.from,
        outcome: entry.outcome === 'ok' ? 'ok' : typeof code === 'string' ? code : entry.outcome,
        ...(Object.keys(detail).length > 0 ? { detail } : {}),
      });
    }),
    auditLog: mapped(async (query: AuditQuery) => {
      const records: AuditRecord[] = await people.audit.query({
        ...(query.user !== undefined ? { actor: actorOf(query.user) } : {}),
        ...(query.entity !== undefined ? { target: query.entity } : {}),
        limit: query.limit,
        ...(query.before !== undefined ? { before: query.before } : {}),
      });
      return records.map(
        (record): AuditEntry => ({
          ts: record.ts,
          actor: record.actor,
          action: record.action,
          ...(record.target !== undefined ? { target: record.target } : {}),
          from: record.from,
          outcome: record.outcome as AuditEntry['outcome'],
          ...(record.detail !== undefined ? { detail: record.detail } : {}),
        }),
      );
    }),
  };
  return { auth, people: api };
}
