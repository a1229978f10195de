// People as the HTTP layer uses them: the stores started (watches on), log-in
// with throttling, authentication of a request, and every account and token
// change recorded in the audit log with who did it and from where.
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { z } from 'zod';
import { followBucket } from '../bus/mirror.js';
import { type AuditEntry, AuditLog, type AuditOptions } from './audit.js';
import type { BucketLayout } from './buckets.js';
import {
  BadCredentialsError,
  PeopleError,
  ThrottledError,
  UnknownUserError,
  UserExistsError,
} from './errors.js';
import { type Clock, type Role, RoleSchema } from './model.js';
import type { RevokedListener } from './revocation.js';
import { type Session, type SessionOptions, SessionStore } from './sessions.js';
import { LoginThrottle, type ThrottleOptions, type ThrottleState } from './throttle.js';
import { type TokenInfo, type TokenOptions, TokenStore } from './tokens.js';
import { type User, UserStore } from './users.js';

export interface PeopleOptions extends BucketLayout {
  clock?: Clock;
  sessions?: Omit<SessionOptions, 'clock'>;
  tokens?: Omit<TokenOptions, 'clock'>;
  throttle?: Omit<ThrottleOptions, 'clock'>;
  /** audit retention; given, an existing stream is brought to it */
  audit?: Pick<AuditOptions, 'maxAgeMs' | 'maxBytes'>;
}

export interface PeopleStores {
  users: UserStore;
  sessions: SessionStore;
  tokens: TokenStore;
  audit: AuditLog;
}

/** The buckets and the audit stream, opened (created when missing), nothing watched: what CLI commands need. */
export async function openPeopleStores(
  js: JetStreamClient,
  jsm: JetStreamManager,
  options: PeopleOptions = {},
): Promise<PeopleStores> {
  const clock = options.clock ?? Date.now;
  const layout = { replicas: options.replicas ?? 1 };
  const [users, sessions, tokens, audit] = await Promise.all([
    UserStore.open(js, layout, clock),
    SessionStore.open(js, layout, { ...options.sessions, clock }),
    TokenStore.open(js, layout, { ...options.tokens, clock }),
    AuditLog.open(js, jsm, { ...layout, ...options.audit, clock }),
  ]);
  return { users, sessions, tokens, audit };
}

/** Who made a request. */
export type Principal =
  | { kind: 'session'; user: string; role: Role; session: Session }
  | { kind: 'token'; name: string; role: Role };

/** The audit log's actor for a principal. */
export const actorOf = (principal: Principal) =>
  principal.kind === 'session' ? `user:${principal.user}` : `token:${principal.name}`;

/** A user as the admin page lists it: with the throttle state. */
export interface UserListing extends User, Pick<ThrottleState, 'failures' | 'locked_until'> {}

/** Who asks (an audit actor) and from which client address (or `cli`). */
export interface By {
  actor: string;
  from: string;
}

const UserRoleSchema = z.object({ role: RoleSchema });

/**
 * Account and token changes, each recorded in the audit log with its outcome:
 * what CLI commands do (actor `cli`) and what the HTTP layer's admin routes do.
 */
export class PeopleAdmin {
  readonly users: UserStore;
  readonly sessions: SessionStore;
  readonly tokens: TokenStore;
  readonly audit: AuditLog;

  constructor(stores: PeopleStores) {
    this.users = stores.users;
    this.sessions = stores.sessions;
    this.tokens = stores.tokens;
    this.audit = stores.audit;
  }

  /** A new user with an onboarding token (shown once). */
  async addUser(name: string, role: string, by: By): Promise<{ user: User; token: string }> {
    return this.recorded({ ...by, action: 'user_add', target: name, detail: { role } }, () =>
      this.users.add(name, role),
    );
  }

  /** A new user with a password (`sentinel user add --password-stdin`). */
  async addUserWithPassword(name: string, role: string, password: string, by: By): Promise<User> {
    return this.recorded({ ...by, action: 'user_add', target: name, detail: { role } }, () =>
      this.users.addWithPassword(name, role, password),
    );
  }

  /** Removes a user and ends their sessions at once (on every node: they follow the bucket). */
  async removeUser(name: string, by: By): Promise<User> {
    return this.recorded({ ...by, action: 'user_remove', target: name }, async () => {
      const user = await this.users.remove(name);
      await this.sessions.revokeUser(name);
      return user;
    });
  }

  /** Changes a role; the user's sessions end, so the new role applies from the next log-in. */
  async setRole(name: string, role: string, by: By): Promise<User> {
    return this.recorded({ ...by, action: 'user_role', target: name, detail: { role } }, async () => {
      const user = await this.users.setRole(name, role);
      await this.sessions.revokeUser(name);
      return user;
    });
  }

  async createToken(role: string, name: string | undefined, by: By) {
    return this.recorded(
      { ...by, action: 'token_create', ...(name ? { target: name } : {}), detail: { role } },
      () => this.tokens.create(role, name),
    );
  }

  async revokeToken(name: string, by: By): Promise<TokenInfo> {
    return this.recorded({ ...by, action: 'token_revoke', target: name }, () => this.tokens.revoke(name));
  }

  /** Runs `work` and records its outcome: `ok`, or the error's code (then rethrows). */
  protected async recorded<T>(entry: Omit<AuditEntry, 'outcome'>, work: () => Promise<T>): Promise<T> {
    let result: T;
    try {
      result = await work();
    } catch (error) {
      const code = error instanceof PeopleError ? error.code : 'error';
      // the original error is what the caller needs to hear
      await this.audit.record({ ...entry, outcome: code }).catch(() => undefined);
      throw error;
    }
    // a token created under a generated name: the record names it
    const target = entry.target ?? (result as { name?: unknown }).name;
    await this.audit.record({ ...entry, ...(typeof target === 'string' ? { target } : {}), outcome: 'ok' });
    return result;
  }
}

/** Everything the gateway needs: the admin operations, plus log-in, throttling and authentication. */
export class People extends PeopleAdmin {
  readonly throttle: LoginThrottle;
  /** name → role, current through a watch: authenticating a session costs no round trip */
  readonly #roles = new Map<string, Role>();
  #stopUsers: (() => void) | undefined;

  private constructor(stores: PeopleStores, clock: Clock, throttle: Omit<ThrottleOptions, 'clock'> = {}) {
    super(stores);
    this.throttle = new LoginThrottle({ ...throttle, clock });
  }

  /** Opens and follows everything (the gateway). `stop()` ends the watches. */
  static async start(
    js: JetStreamClient,
    jsm: JetStreamManager,
    options: PeopleOptions = {},
  ): Promise<People> {
    const stores = await openPeopleStores(js, jsm, options);
    const people = new People(stores, options.clock ?? Date.now, options.throttle);
    people.#stopUsers = await followBucket(stores.users.kv, ({ key, value }) => {
      const parsed = UserRoleSchema.safeParse(value);
      if (parsed.success) people.#roles.set(key, parsed.data.role);
      else people.#roles.delete(key);
    });
    await Promise.all([stores.sessions.start(), stores.tokens.start()]);
    return people;
  }

  stop(): void {
    this.#stopUsers?.();
    this.sessions.stop();
    this.tokens.stop();
  }

  /** Sessions and tokens that end, on any node: close the WebSockets opened with them. */
  onRevoked(listener: RevokedListener): () => void {
    const offSessions = this.sessions.onRevoked(listener);
    const offTokens = this.tokens.onRevoked(listener);
    return () => {
      offSessions();
      offTokens();
    };
  }

  /**
   * Checks a password and opens a session. ThrottledError while this client (or
   * the account) is backing off — the password is then not even looked at;
   * BadCredentialsError for an unknown user or a wrong password alike.
   */
  async login(
    name: string,
    password: string,
    from: string,
  ): Promise<{ user: User; token: string; session: Session }> {
    const waitMs = this.throttle.attempt(name, from);
    if (waitMs > 0) {
      await this.#audit(
        { actor: 'system', action: 'login_failed', target: name, from, outcome: 'throttled' },
        name,
      );
      throw new ThrottledError(waitMs);
    }
    const user = await this.users.verify(name, password);
    if (!user) {
      await this.#audit(
        { actor: 'system', action: 'login_failed', target: name, from, outcome: 'bad_credentials' },
        name,
      );
      throw new BadCredentialsError('wrong user name or password');
    }
    this.throttle.success(name, from);
    const { token, session } = await this.sessions.create(user.name);
    await this.audit.record({
      actor: `user:${user.name}`,
      action: 'login',
      target: user.name,
      from,
      outcome: 'ok',
    });
    return { user, token, session };
  }

  /** Sets the password from an onboarding link and opens a session for the new user. */
  async completeOnboarding(
    onboardingToken: string,
    password: string,
    from: string,
  ): Promise<{ user: User; token: string; session: Session }> {
    const user = await this.users.setPasswordFromOnboarding(onboardingToken, password);
    const { token, session } = await this.sessions.create(user.name);
    await this.audit.record({
      actor: `user:${user.name}`,
      action: 'onboarding',
      target: user.name,
      from,
      outcome: 'ok',
    });
    return { user, token, session };
  }

  async logout(principal: Principal, from: string): Promise<void> {
    if (principal.kind !== 'session') return;
    await this.sessions.revoke(principal.session.id);
    await this.audit.record({
      actor: actorOf(principal),
      action: 'logout',
      target: principal.user,
      from,
      outcome: 'ok',
    });
  }

  /**
   * Who a request is: a session cookie's value or a bearer token (an API token;
   * `sen_…`). Undefined when neither is valid. A session's role is the user's
   * role now (from memory), not the one at log-in.
   */
  async authenticate(credentials: {
    sessionToken?: string;
    bearer?: string;
  }): Promise<Principal | undefined> {
    if (credentials.bearer !== undefined) {
      const token = this.tokens.validate(credentials.bearer);
      return token && { kind: 'token', name: token.name, role: token.role };
    }
    if (credentials.sessionToken === undefined) return undefined;
    const session = await this.sessions.validate(credentials.sessionToken);
    const role = session && this.#roles.get(session.user);
    return session && role ? { kind: 'session', user: session.user, role, session } : undefined;
  }

  /** Removes a user, ends their sessions at once and forgets their throttling. */
  override async removeUser(name: string, by: By): Promise<User> {
    const user = await super.removeUser(name, by);
    this.throttle.unlock(name);
    return user;
  }

  /** Clears a user's throttling (the admin's unlock). */
  async unlock(name: string, by: By): Promise<UserListing> {
    return this.recorded({ ...by, action: 'user_unlock', target: name }, async () => {
      const user = await this.users.get(name);
      if (!user) throw new UnknownUserError(`no user "${name}"`);
      this.throttle.unlock(name);
      return this.#listing(user);
    });
  }

  async listUsers(): Promise<UserListing[]> {
    return (await this.users.list()).map((user) => this.#listing(user));
  }

  #listing(user: User): UserListing {
    const { failures, locked_until } = this.throttle.state(user.name);
    return { ...user, failures, ...(locked_until !== undefined ? { locked_until } : {}) };
  }

  /** A failed log-in is recorded; an invalid name as typed is not a valid target, so it is left out. */
  async #audit(entry: AuditEntry, name: string): Promise<void> {
    const target = /^[a-z0-9][a-z0-9._-]{0,63}$/.test(name) ? name : undefined;
    const { target: _, ...rest } = entry;
    await this.audit.record({ ...rest, ...(target ? { target } : {}) }).catch(() => undefined);
  }
}

/** The account a first start makes when nobody can log in yet. */
export const FIRST_ADMIN = 'admin';

/**
 * First start, and every start until someone has set a password: an admin pending
 * onboarding (`admin`, made when no admin exists) and a fresh one-time token for it,
 * so the link the gateway prints is always the one that works (the previous one stops
 * working). Undefined once any user has a password: then nothing is made or printed.
 */
export async function firstStartOnboarding(
  admin: PeopleAdmin,
): Promise<{ user: string; token: string } | undefined> {
  const users = await admin.users.list();
  if (users.some((user) => !user.onboarding_pending)) return undefined;
  const pending = users.find((user) => user.role === 'admin');
  if (!pending) {
    // a pending non-admin under that name: nothing to take over (an admin adds one with the CLI)
    if (users.some((user) => user.name === FIRST_ADMIN)) return undefined;
    try {
      const { user, token } = await admin.addUser(FIRST_ADMIN, 'admin', { actor: 'system', from: 'system' });
      return { user: user.name, token };
    } catch (error) {
      // another node made it at the same moment: take it over below
      if (!(error instanceof UserExistsError)) throw error;
    }
  }
  const { user, token } = await admin.users.reissueOnboarding(pending?.name ?? FIRST_ADMIN);
  return { user: user.name, token };
}
