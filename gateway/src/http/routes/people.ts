// People: logging in and out, onboarding links, users, API tokens and the audit log,
// through the PeopleApi the people module implements. Every change is audited here,
// with who did it and from which address.

import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { type AuditEntry, type NewSession, PeopleError } from '../auth.js';
import { errorResponses, HttpError } from '../errors.js';
import { SESSION_COOKIE } from '../guards.js';
import type { RouteDeps } from '../options.js';
import { RoleSchema } from '../schemas.js';

const UserNameSchema = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/i, '1–64 letters, digits, . _ or -');
const TokenNameSchema = UserNameSchema;
const PasswordSchema = z.string().min(10, 'a password has at least 10 characters').max(1024);
const SessionAnswer = z.object({ user: z.string(), role: RoleSchema });
const UserSchema = z.object({
  name: z.string(),
  role: RoleSchema,
  created: z.number(),
  onboarding_pending: z.boolean(),
  locked_until: z.number().optional(),
  failures: z.number().int(),
});
const TokenSchema = z.object({
  name: z.string(),
  role: RoleSchema,
  created: z.number(),
  last_used: z.number().optional(),
});
const AuditEntrySchema = z.object({
  ts: z.number(),
  actor: z.string(),
  action: z.string(),
  target: z.string().optional(),
  from: z.string(),
  outcome: z.string(),
  detail: z.unknown().optional(),
});
const NameParams = z.object({ name: z.string().min(1).max(64) });

export const peopleRoutes: FastifyPluginAsyncZod<RouteDeps> = async (app, o) => {
  const setCookie = (reply: FastifyReply, value: string, maxAgeS: number) =>
    reply.header(
      'set-cookie',
      `${SESSION_COOKIE}=${value}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${maxAgeS}${o.secureCookie ? '; Secure' : ''}`,
    );
  const startSession = (reply: FastifyReply, session: NewSession) =>
    setCookie(reply, session.cookie, Math.max(0, Math.floor((session.expires - Date.now()) / 1000)));

  /** Records what a person did; a refusal the people module gave is recorded and passed on. */
  async function audited<T>(
    request: FastifyRequest,
    entry: Pick<AuditEntry, 'action'> & Partial<Pick<AuditEntry, 'target' | 'detail' | 'actor'>>,
    work: () => Promise<T>,
  ): Promise<T> {
    const base = { ts: Date.now(), ...o.audit(request), ...entry };
    try {
      const result = await work();
      await o.people.audit({ ...base, outcome: 'ok' });
      return result;
    } catch (error) {
      if (error instanceof PeopleError)
        await o.people.audit({
          ...base,
          outcome: 'refused',
          detail: { ...asObject(entry.detail), code: error.code },
        });
      throw error;
    }
  }

  app.post(
    '/api/session',
    {
      schema: {
        summary: 'log in: a session cookie (HttpOnly, SameSite=Strict)',
        body: z.strictObject({ user: z.string().min(1).max(64), password: z.string().min(1).max(1024) }),
        response: { 200: SessionAnswer, ...errorResponses('bad_credentials', 'throttled') },
      },
      config: { role: 'public' },
    },
    async (request, reply) => {
      const { user, password } = request.body;
      const session = await audited(request, { action: 'login', actor: user }, () =>
        o.people.login(user, password, request.ip),
      );
      startSession(reply, session);
      return { user: session.user, role: session.role };
    },
  );

  app.get(
    '/api/session',
    {
      schema: {
        summary: 'who is logged in (a token answers with its name)',
        response: {
          200: z.union([
            z.object({ user: z.string(), role: RoleSchema, expires: z.number().optional() }),
            z.object({ token: z.string(), role: RoleSchema }),
          ]),
        },
      },
      config: { role: 'viewer' },
    },
    async (request) => {
      const principal = request.principal;
      if (!principal) throw new HttpError('unauthenticated', 'not logged in');
      return principal.kind === 'token'
        ? { token: principal.name, role: principal.role }
        : { user: principal.name, role: principal.role, expires: principal.expires };
    },
  );

  app.delete(
    '/api/session',
    {
      schema: { summary: 'log out: the session is revoked on the server', response: { 204: z.null() } },
      config: { role: 'viewer' },
    },
    async (request, reply) => {
      const principal = request.principal;
      if (principal?.kind !== 'session')
        throw new HttpError(
          'bad_request',
          'a token is not a session: revoke it with DELETE /api/tokens/<name>',
        );
      await audited(request, { action: 'logout' }, () => o.people.logout(principal.id));
      setCookie(reply, '', 0);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/api/onboarding/:token',
    {
      schema: {
        summary: 'whom a one-time onboarding link is for',
        params: z.object({ token: z.string().min(1).max(128) }),
        response: { 200: SessionAnswer, ...errorResponses('gone') },
      },
      config: { role: 'public' },
    },
    async (request) => o.people.onboarding(request.params.token),
  );

  app.post(
    '/api/onboarding',
    {
      schema: {
        summary: 'set the password of an onboarding link (once) and log in',
        body: z.strictObject({ token: z.string().min(1).max(128), password: PasswordSchema }),
        response: { 200: SessionAnswer, ...errorResponses('gone', 'bad_request') },
      },
      config: { role: 'public' },
    },
    async (request, reply) => {
      const session = await audited(request, { action: 'onboarding' }, () =>
        o.people.completeOnboarding(request.body.token, request.body.password, request.ip),
      );
      startSession(reply, session);
      return { user: session.user, role: session.role };
    },
  );

  app.get(
    '/api/users',
    { schema: { summary: 'every user', response: { 200: z.array(UserSchema) } }, config: { role: 'admin' } },
    async () => o.people.users(),
  );

  app.post(
    '/api/users',
    {
      schema: {
        summary: 'add a user: a one-time onboarding link where they set their password',
        body: z.strictObject({ name: UserNameSchema, role: RoleSchema }),
        response: {
          201: z.object({ user: z.string(), role: RoleSchema, onboarding_url: z.string() }),
          ...errorResponses('conflict'),
        },
      },
      config: { role: 'admin' },
    },
    async (request, reply) => {
      const { name, role } = request.body;
      const added = await audited(request, { action: 'user.add', target: name, detail: { role } }, () =>
        o.people.addUser(name, role),
      );
      // the token rides in the fragment, so it never reaches a server log or a Referer
      const origin = o.publicOrigin ?? `${o.secureCookie ? 'https' : 'http'}://${request.headers.host}`;
      return reply.code(201).send({
        user: added.user,
        role: added.role,
        onboarding_url: `${origin}/onboarding#${added.onboarding_token}`,
      });
    },
  );

  app.patch(
    '/api/users/:name',
    {
      schema: {
        summary: "change a user's role",
        params: NameParams,
        body: z.strictObject({ role: RoleSchema }),
        response: { 200: UserSchema, ...errorResponses('not_found', 'conflict') },
      },
      config: { role: 'admin' },
    },
    async (request) =>
      audited(request, { action: 'user.role', target: request.params.name, detail: request.body }, () =>
        o.people.setRole(request.params.name, request.body.role),
      ),
  );

  app.post(
    '/api/users/:name/unlock',
    {
      schema: {
        summary: "clear a user's login throttling",
        params: NameParams,
        response: { 200: UserSchema, ...errorResponses('not_found') },
      },
      config: { role: 'admin' },
    },
    async (request) =>
      audited(request, { action: 'user.unlock', target: request.params.name }, () =>
        o.people.unlock(request.params.name),
      ),
  );

  app.delete(
    '/api/users/:name',
    {
      schema: {
        summary: 'remove a user; their sessions end at once (not the last admin)',
        params: NameParams,
        response: { 204: z.null(), ...errorResponses('not_found', 'conflict') },
      },
      config: { role: 'admin' },
    },
    async (request, reply) => {
      await audited(request, { action: 'user.remove', target: request.params.name }, () =>
        o.people.removeUser(request.params.name),
      );
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/api/tokens',
    {
      schema: { summary: 'every API token', response: { 200: z.array(TokenSchema) } },
      config: { role: 'admin' },
    },
    async () => o.people.tokens(),
  );

  app.post(
    '/api/tokens',
    {
      schema: {
        summary: 'create an API token (shown once)',
        body: z.strictObject({ role: RoleSchema, name: TokenNameSchema.optional() }),
        response: {
          201: z.object({ name: z.string(), role: RoleSchema, token: z.string() }),
          ...errorResponses('conflict'),
        },
      },
      config: { role: 'admin' },
    },
    async (request, reply) => {
      const { role, name } = request.body;
      const created = await audited(request, { action: 'token.create', target: name, detail: { role } }, () =>
        o.people.createToken(role, name),
      );
      return reply.code(201).send(created);
    },
  );

  app.delete(
    '/api/tokens/:name',
    {
      schema: {
        summary: 'revoke an API token; connections using it close at once',
        params: NameParams,
        response: { 204: z.null(), ...errorResponses('not_found') },
      },
      config: { role: 'admin' },
    },
    async (request, reply) => {
      await audited(request, { action: 'token.revoke', target: request.params.name }, () =>
        o.people.revokeToken(request.params.name),
      );
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/api/audit',
    {
      schema: {
        summary: 'the audit log, newest first',
        querystring: z.object({
          user: z.string().max(64).optional(),
          entity: z.string().max(64).optional(),
          limit: z.coerce.number().int().min(1).max(1000).default(100),
          before: z.coerce.number().int().positive().optional(),
        }),
        response: { 200: z.array(AuditEntrySchema) },
      },
      config: { role: 'admin' },
    },
    async (request) => o.people.auditLog(request.query),
  );
};

const asObject = (value: unknown): Record<string, unknown> =>
  typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
