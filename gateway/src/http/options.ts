// What the HTTP app is built from, and what every route plugin is given.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyBaseLogger, FastifyInstance, RawServerDefault } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { CredentialStore } from '../auth/credentials.js';
import type { Bus } from '../bus/bus.js';
import type { Cluster } from '../cluster/cluster.js';
import type { OtaCatalog } from '../firmware-store.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { Availability } from '../model/availability.js';
import type { CommandRouter } from '../model/commands.js';
import type { Registry } from '../model/registry.js';
import type { OtaDownloads } from '../ota/fleet.js';
import type { AuditEntry, Authenticator, PeopleApi, Principal, RouteRole } from './auth.js';
import type { LatestStates } from './latest.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** the least role the route needs; every route declares one (checked when routes are added) */
    role?: RouteRole;
  }
  interface FastifyRequest {
    /** who made the request; set by the auth hook on every non-public route */
    principal: Principal | undefined;
  }
}

export type App = FastifyInstance<
  RawServerDefault,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  ZodTypeProvider
>;

export interface HttpAppOptions {
  nodeId: string;
  /** shown on /status (without password) */
  natsUrl: string;
  metrics: Metrics;
  registry: Registry;
  availability: Availability;
  router: CommandRouter;
  /** who leads what, and which nodes are alive (GET /status) */
  cluster?: Pick<Cluster, 'status'> | undefined;
  bus: Bus;
  /** picket device tokens (POST /api/devices, rotate, remove, provisioning) */
  credentials: CredentialStore;
  /** where firmware builds live (<data>/firmware) */
  dataDir: string;
  log: Logger;
  /** serve HTTPS (and WSS) with this certificate instead of plain HTTP (--tls) */
  tls?: { cert: Buffer; key: Buffer } | undefined;
  auth: Authenticator;
  people: PeopleApi;
  /** the URL people reach the gateway by (--public-url): its host passes the Host check, its origin the cross-site check */
  publicUrl?: string | undefined;
  /** GET /metrics without a token (--metrics-public) */
  metricsPublic: boolean;
  /** the ports this node's MQTT listeners took (GET /api/status: what to put into firmware) */
  mqttPorts?: (() => { mqtt?: number | undefined; mqtt_tls?: number | undefined }) | undefined;
  /** the built web app (index.html, assets/); default: the @sentinel/web package's dist */
  webRoot?: string | undefined;
  /** OTA image downloads for picket devices (GET /api/ota/download/:offer); the route is absent without it */
  ota?: OtaDownloads | undefined;
  /** the catalog rollouts install from (GET /api/ota/rollout/images); default: <dataDir>/firmware/ota */
  otaCatalog?: OtaCatalog | undefined;
  upgradePicket(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void>;
  attachMqtt(stream: Duplex, req: IncomingMessage): void;
}

/** What every route plugin gets: the options plus what the app built from them. */
export interface RouteDeps extends HttpAppOptions {
  latest: LatestStates;
  /** the actor and client address of a request, for audit entries */
  audit(request: { principal: Principal | undefined; ip: string }): Pick<AuditEntry, 'actor' | 'from'>;
  /** cookies get `Secure` (the server speaks TLS) */
  secureCookie: boolean;
  publicOrigin: string | undefined;
}
