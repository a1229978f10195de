// The gateway's HTTP side on Fastify: every route declared with its zod schemas (which
// also make the OpenAPI document at /api/docs), and one set of hooks every route passes:
// Host check, cross-site check, authentication and the role the route declares.
//
// We create the Node server ourselves (serverFactory) so HTTPS works as before and the
// gateway keeps listening and closing it like its other servers. WebSocket upgrades
// (/picket, /mqtt, /api/live) stay on that server's one 'upgrade' listener with `ws`
// instead of @fastify/websocket: the device endpoints were built that way and must not
// pass through people's auth, and the live feed's upgrade runs the same guard functions
// (guards.ts) as the HTTP hooks, so there is one implementation of each check.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import swagger from '@fastify/swagger';
import Fastify from 'fastify';
import {
  hasZodFastifySchemaValidationErrors,
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import { createWebSocketStream, WebSocketServer } from 'ws';
import { FirmwareStore } from '../firmware-store.js';
import { watchHandshakeFailures } from '../transports/tls.js';
import { PeopleError, type Principal, roleAllows } from './auth.js';
import { ERROR_STATUS, type ErrorCode, HttpError } from './errors.js';
import {
  allowedHostNames,
  authenticate,
  checkHost,
  checkSameOrigin,
  type OriginContext,
  SECURITY_HEADERS,
} from './guards.js';
import { LatestStates } from './latest.js';
import { LiveFeed } from './live.js';
import { httpMetrics } from './metrics.js';
import type { App, HttpAppOptions, RouteDeps } from './options.js';
import { bleRoutes } from './routes/ble.js';
import { deviceRoutes } from './routes/devices.js';
import { entityRoutes } from './routes/entities.js';
import { flashRoutes } from './routes/flash.js';
import { historyRoutes } from './routes/history.js';
import { otaRoutes } from './routes/ota.js';
import { otaRolloutRoutes } from './routes/ota-rollouts.js';
import { peopleRoutes } from './routes/people.js';
import { staticRoutes } from './routes/static.js';
import { statusRoutes } from './routes/status.js';

export type { App, HttpAppOptions };

export interface HttpApp {
  /** the Node server, not listening yet */
  server: Server;
  app: App;
  /** closes live sockets and stops following the bus; the server is closed by its owner */
  close(): Promise<void>;
}

const BODY_LIMIT = 16 * 1024;

/** Fastify's own refusals (parsing, limits) mapped to our codes. */
const FASTIFY_ERRORS: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_BODY_TOO_LARGE: 'too_large',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'bad_request',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'bad_request',
  FST_ERR_CTP_INVALID_JSON_BODY: 'bad_request',
  FST_ERR_BAD_URL: 'bad_request',
};

export async function createHttpApp(o: HttpAppOptions): Promise<HttpApp> {
  const counters = httpMetrics(o.metrics);
  const scheme = o.tls ? 'https' : 'http';
  const originContext: OriginContext = {
    scheme,
    publicOrigin: o.publicUrl ? new URL(o.publicUrl).origin.toLowerCase() : undefined,
  };
  const hosts = allowedHostNames(o.publicUrl);

  const toHttpError = (error: unknown): HttpError => {
    if (error instanceof HttpError) return error;
    if (error instanceof PeopleError) {
      const code: ErrorCode = error.code;
      const headers: Record<string, string> =
        error.retryAfterMs !== undefined
          ? { 'retry-after': String(Math.ceil(error.retryAfterMs / 1000)) }
          : {};
      return new HttpError(code, error.message, headers);
    }
    if (hasZodFastifySchemaValidationErrors(error)) {
      const issue = error.validation[0];
      // body.gateway_urls.0: the path as a person reads it
      const path = (issue?.instancePath ?? '').split('/').filter(Boolean);
      const where = [error.validationContext ?? 'request', ...path].join('.');
      return new HttpError('bad_request', `${where}: ${issue?.message ?? 'invalid'}`);
    }
    const fastifyCode = (error as { code?: unknown }).code;
    if (typeof fastifyCode === 'string' && FASTIFY_ERRORS[fastifyCode]) {
      const code = FASTIFY_ERRORS[fastifyCode];
      const message =
        code === 'too_large'
          ? 'the body is larger than this route takes'
          : code === 'unsupported_media_type'
            ? 'send the body as JSON with content-type: application/json'
            : fastifyCode === 'FST_ERR_CTP_INVALID_JSON_BODY'
              ? 'the body is not JSON'
              : (error as Error).message;
      return new HttpError(code, message);
    }
    return new HttpError(
      'internal',
      'the gateway failed to answer; the reason is in its log',
      {},
      { cause: error },
    );
  };

  let server: Server | undefined;
  const app: App = Fastify({
    bodyLimit: BODY_LIMIT,
    logger: false,
    // a path like /api/entities/%zz is the client's mistake (400), not ours (500)
    frameworkErrors: (error, _req, reply) => {
      const refusal = toHttpError(error);
      counters.refused.inc({ code: refusal.code });
      // runs before any hook: the security headers are set here
      void reply
        .headers(SECURITY_HEADERS)
        .code(refusal.status as never)
        .send(refusal.body() as never);
    },
    serverFactory: (handler) => {
      if (o.tls) {
        const https = createHttpsServer({ cert: o.tls.cert, key: o.tls.key }, handler);
        watchHandshakeFailures(https, 'https', o.metrics, o.log);
        // an HTTPS server is an HTTP server to everything we call on it
        server = https as unknown as Server;
      } else server = createServer(handler);
      return server;
    },
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  // JSON only: a text/plain body is what a cross-site form or fetch can send without a preflight
  app.removeContentTypeParser(['text/plain']);
  app.decorateRequest('principal', undefined);

  // a route that forgot its role would be open, so a forgotten role fails at start-up
  app.addHook('onRoute', (route) => {
    if (route.config?.role === undefined)
      throw new Error(`route ${route.method} ${route.url} declares no role (config.role)`);
  });

  app.addHook('onRequest', async (request, reply) => {
    reply.headers(SECURITY_HEADERS);
    checkHost(request.headers, hosts);
    checkSameOrigin(request.method, request.headers, originContext);
    const role = request.routeOptions.config.role ?? 'public';
    if (role === 'public') return;
    const principal = await authenticate(request.headers, o.auth);
    if (!principal) throw new HttpError('unauthenticated', 'log in, or send Authorization: Bearer <token>');
    if (!roleAllows(principal.role, role))
      throw new HttpError('forbidden', `this needs the ${role} role; ${principal.name} is ${principal.role}`);
    request.principal = principal;
  });

  app.setErrorHandler((error, request, reply) => {
    const refusal = toHttpError(error);
    if (refusal.code === 'internal') {
      o.log.error({ err: error, method: request.method, url: request.url }, 'HTTP request failed');
    } else {
      counters.refused.inc({ code: refusal.code });
      o.log.debug({ method: request.method, url: request.url, code: refusal.code }, refusal.message);
    }
    return reply.code(refusal.status).headers(refusal.headers).send(refusal.body());
  });

  await app.register(swagger, {
    openapi: {
      info: { title: 'Sentinel Edge', version: '1' },
      components: {
        securitySchemes: {
          session: { type: 'apiKey', in: 'cookie', name: 'sentinel_session' },
          bearer: { type: 'http', scheme: 'bearer' },
        },
      },
      security: [{ session: [] }, { bearer: [] }],
    },
    transform: jsonSchemaTransform,
  });

  const latest = await LatestStates.follow(o.bus.kv.state);
  const live = await LiveFeed.start({
    nc: o.bus.nc,
    registry: o.registry,
    latest,
    auth: o.auth,
    metrics: o.metrics,
    log: o.log,
  });
  const audit = (request: { principal: Principal | undefined; ip: string }) => ({
    // a token is named as one: a token and a user may share a name
    actor: request.principal
      ? request.principal.kind === 'token'
        ? `token:${request.principal.name}`
        : request.principal.name
      : 'anonymous',
    from: request.ip,
  });
  const deps: RouteDeps = {
    ...o,
    latest,
    audit,
    secureCookie: o.tls !== undefined,
    publicOrigin: originContext.publicOrigin,
  };

  await app.register(statusRoutes, deps);
  await app.register(entityRoutes, deps);
  await app.register(historyRoutes, deps);
  await app.register(deviceRoutes, deps);
  await app.register(bleRoutes, deps);
  await app.register(peopleRoutes, deps);
  await app.register(flashRoutes, deps);
  if (o.ota) await app.register(otaRoutes, { ...deps, ota: o.ota });
  await app.register(otaRolloutRoutes, {
    ...deps,
    catalog: o.otaCatalog ?? new FirmwareStore(o.dataDir).catalog,
  });
  await app.register(staticRoutes, deps);
  app.get('/api/docs', { schema: { hide: true }, config: { role: 'viewer' } }, async () => app.swagger());
  await app.ready();
  if (!server) throw new Error('Fastify did not create the server');
  const node = server;

  const mqttWs = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024 });
  node.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    let path: string;
    try {
      path = new URL(req.url ?? '/', 'http://localhost').pathname;
    } catch {
      path = '';
    }
    if (path === '/picket') {
      o.upgradePicket(req, socket, head).catch((error) => {
        o.log.error({ err: error }, 'picket WebSocket upgrade failed');
        socket.destroy();
      });
      return;
    }
    if (path === '/mqtt') {
      mqttWs.handleUpgrade(req, socket, head, (ws) => o.attachMqtt(createWebSocketStream(ws), req));
      return;
    }
    if (path === '/api/live') {
      upgradeLive(req, socket, head).catch((error) => {
        const refusal = toHttpError(error);
        if (refusal.code === 'internal') o.log.error({ err: error }, 'live feed upgrade failed');
        else counters.refused.inc({ code: refusal.code });
        refuseUpgrade(socket, refusal);
      });
      return;
    }
    refuseUpgrade(socket, new HttpError('not_found', `no WebSocket endpoint at ${path}`));
  });

  /** The same checks as the HTTP hooks, in the same order, then the live feed's role. */
  async function upgradeLive(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    checkHost(req.headers, hosts);
    // a WebSocket is not bound by CORS: a page elsewhere could open one with our cookie
    checkSameOrigin('GET', req.headers, originContext, true);
    const principal = await authenticate(req.headers, o.auth);
    if (!principal) throw new HttpError('unauthenticated', 'log in, or send Authorization: Bearer <token>');
    if (!roleAllows(principal.role, 'viewer'))
      throw new HttpError(
        'forbidden',
        `the live feed needs the viewer role; ${principal.name} is ${principal.role}`,
      );
    live.upgrade(req, socket, head, principal);
  }

  return {
    server: node,
    app,
    async close() {
      live.stop();
      latest.stop();
      await app.close();
    },
  };
}

function refuseUpgrade(socket: Duplex, refusal: HttpError): void {
  const body = JSON.stringify(refusal.body());
  const reason = refusal.code === 'internal' ? 'Internal Server Error' : refusal.code;
  socket.end(
    `HTTP/1.1 ${ERROR_STATUS[refusal.code]} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}
