// TESTS ONLY: an in-memory stand-in for the people module (gateway/src/people), so the
// HTTP layer's routes and guards are tested through a real gateway before the real
// module is wired in. It keeps the PeopleApi/Authenticator contract (errors, revocation
// events) but none of the real module's storage, hashing or throttling policy.
import { randomBytes } from 'node:crypto';
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
} from '../src/http/auth.js';

interface User {
  name: string;
  role: Role;
  created: number;
  password: string | undefined;
  onboarding: string | undefined;
  failures: number;
}

const SESSION_MS = 3600_000;
const MAX_FAILURES = 5;

export class TestPeople implements Authenticator, PeopleApi {
  readonly accounts = new Map<string, User>();
  readonly sessions = new Map<string, { id: string; user: string; expires: number }>();
  readonly apiTokens = new Map<string, { name: string; role: Role; created: number }>();
  readonly auditEntries: AuditEntry[] = [];
  readonly #listeners = new Set<(id: string) => void>();

  /** A user with a password, for tests that log in. */
  addUserWithPassword(name: string, role: Role, password: string): void {
    this.accounts.set(name, {
      name,
      role,
      created: Date.now(),
      password,
      onboarding: undefined,
      failures: 0,
    });
  }

  /** A session cookie value for a user made on the spot (no login round trip). */
  cookieFor(role: Role, name = `${role}-user`): string {
    if (!this.accounts.has(name)) this.addUserWithPassword(name, role, 'correct horse battery');
    return this.#open(name).cookie;
  }

  /** An API token made on the spot. */
  tokenFor(role: Role, name = `${role}-token`): string {
    const token = randomBytes(16).toString('hex');
    this.apiTokens.set(token, { name, role, created: Date.now() });
    return token;
  }

  #open(user: string): NewSession {
    const cookie = randomBytes(16).toString('hex');
    const expires = Date.now() + SESSION_MS;
    this.sessions.set(cookie, { id: `s-${cookie.slice(0, 8)}`, user, expires });
    const role = this.accounts.get(user)?.role ?? 'viewer';
    return { cookie, user, role, expires };
  }

  #revoke(id: string): void {
    for (const listener of this.#listeners) listener(id);
  }

  // Authenticator

  async session(cookieValue: string): Promise<Principal | undefined> {
    const session = this.sessions.get(cookieValue);
    const user = session && this.accounts.get(session.user);
    if (!session || !user || session.expires < Date.now()) return undefined;
    return { kind: 'session', id: session.id, name: user.name, role: user.role, expires: session.expires };
  }

  async bearer(token: string): Promise<Principal | undefined> {
    const known = this.apiTokens.get(token);
    return known && { kind: 'token', id: known.name, name: known.name, role: known.role };
  }

  onRevoked(listener: (id: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  // PeopleApi

  async login(name: string, password: string): Promise<NewSession> {
    const user = this.accounts.get(name);
    if (user && user.failures >= MAX_FAILURES)
      throw new PeopleError('throttled', 'too many attempts', 30_000);
    if (!user || user.password !== password) {
      if (user) user.failures++;
      throw new PeopleError('bad_credentials', 'wrong user or password');
    }
    user.failures = 0;
    return this.#open(name);
  }

  async logout(sessionId: string): Promise<void> {
    for (const [cookie, session] of this.sessions) if (session.id === sessionId) this.sessions.delete(cookie);
    this.#revoke(sessionId);
  }

  async onboarding(token: string): Promise<{ user: string; role: Role }> {
    const user = [...this.accounts.values()].find((u) => u.onboarding === token);
    if (!user) throw new PeopleError('gone', 'this link was used or never existed');
    return { user: user.name, role: user.role };
  }

  async completeOnboarding(token: string, password: string): Promise<NewSession> {
    const user = [...this.accounts.values()].find((u) => u.onboarding === token);
    if (!user) throw new PeopleError('gone', 'this link was used or never existed');
    user.password = password;
    user.onboarding = undefined;
    return this.#open(user.name);
  }

  #view(user: User): UserView {
    return {
      name: user.name,
      role: user.role,
      created: user.created,
      onboarding_pending: user.onboarding !== undefined,
      failures: user.failures,
    };
  }

  #user(name: string): User {
    const user = this.accounts.get(name);
    if (!user) throw new PeopleError('not_found', `no user ${name}`);
    return user;
  }

  async users(): Promise<UserView[]> {
    return [...this.accounts.values()].map((u) => this.#view(u));
  }

  async addUser(name: string, role: Role) {
    if (this.accounts.has(name)) throw new PeopleError('conflict', `${name} exists`);
    const onboarding_token = randomBytes(16).toString('hex');
    this.accounts.set(name, {
      name,
      role,
      created: Date.now(),
      password: undefined,
      onboarding: onboarding_token,
      failures: 0,
    });
    return { user: name, role, onboarding_token };
  }

  async setRole(name: string, role: Role): Promise<UserView> {
    const user = this.#user(name);
    user.role = role;
    return this.#view(user);
  }

  async unlock(name: string): Promise<UserView> {
    const user = this.#user(name);
    user.failures = 0;
    return this.#view(user);
  }

  async removeUser(name: string): Promise<void> {
    const user = this.#user(name);
    const admins = [...this.accounts.values()].filter((u) => u.role === 'admin');
    if (user.role === 'admin' && admins.length === 1)
      throw new PeopleError('conflict', 'the last admin stays');
    this.accounts.delete(name);
    for (const [cookie, session] of this.sessions) {
      if (session.user !== name) continue;
      this.sessions.delete(cookie);
      this.#revoke(session.id);
    }
  }

  async tokens(): Promise<TokenView[]> {
    return [...this.apiTokens.values()];
  }

  async createToken(role: Role, name = `token-${this.apiTokens.size + 1}`) {
    if ([...this.apiTokens.values()].some((t) => t.name === name))
      throw new PeopleError('conflict', `${name} exists`);
    const token = this.tokenFor(role, name);
    return { name, role, token };
  }

  async revokeToken(name: string): Promise<void> {
    const entry = [...this.apiTokens.entries()].find(([, t]) => t.name === name);
    if (!entry) throw new PeopleError('not_found', `no token ${name}`);
    this.apiTokens.delete(entry[0]);
    this.#revoke(name);
  }

  async audit(entry: AuditEntry): Promise<void> {
    this.auditEntries.push(entry);
  }

  async auditLog(query: AuditQuery): Promise<AuditEntry[]> {
    return this.auditEntries
      .filter((e) => (query.user ? e.actor === query.user : true))
      .filter((e) => (query.entity ? e.target === query.entity : true))
      .filter((e) => (query.before ? e.ts < query.before : true))
      .reverse()
      .slice(0, query.limit);
  }
}
