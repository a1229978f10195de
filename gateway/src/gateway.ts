// Composes the gateway: embedded or external NATS, the bus, the entity model, the
// picket adapter and its transports. Start-up order follows the data: nothing
// accepts a device before the registry and credentials are loaded.
import { once } from 'node:events';
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { CredentialStore, CredentialVerifier } from './auth/credentials.js';
import { startBleAdapter } from './ble/adapter.js';
import { openBus } from './bus/bus.js';
import { connectBus, followConnection, withoutPassword } from './bus/connect.js';
import { DurablePublisher } from './bus/durable-publisher.js';
import { ensureLockTtl, lockTimings } from './bus/locks.js';
import { BUCKET } from './bus/names.js';
import { Cluster } from './cluster/cluster.js';
import { replicasFor } from './cluster/replicas.js';
import { ResendFilter } from './cluster/resend-filter.js';
import type { GatewayConfig } from './config.js';
import { haCommandTarget, haImportSettings, startHaImport } from './ha/import/index.js';
import { haConnection, startHaExport } from './ha/index.js';
import { createHttpApp } from './http/app.js';
import type { Authenticator, PeopleApi } from './http/auth.js';
import { peopleForHttp } from './http/people-adapter.js';
import { createLogger, type Logger, ThrottledLog } from './log.js';
import { matterCommandTarget, matterUrls, startMatterAdapter } from './matter/index.js';
import { createMetrics, type Metrics } from './metrics.js';
import { Availability } from './model/availability.js';
import { CommandRouter } from './model/commands.js';
import { Registry } from './model/registry.js';
import { StatePublisher } from './model/state.js';
import { embeddedAuthDir } from './nats/embedded-auth.js';
import { NatsServerSupervisor } from './nats/supervisor.js';
import { gatewayOtaCatalog } from './ota/catalog/index.js';
import { DeviceOtaFleet, otaDownloadOrigin } from './ota/fleet.js';
import { startOtaRollouts } from './ota/rollout/index.js';
import type { OtaFleet } from './ota/types.js';
import { firstStartOnboarding, People } from './people/people.js';
import { PicketAdapter } from './picket/adapter.js';
import { ensurePortFree, isAddressInUse, type ListenerOption, PortInUseError } from './ports.js';
import { StopSequence, settlesWithin } from './stop.js';
import { embeddedStoreDir } from './store.js';
import { createMqttTransport } from './transports/mqtt.js';
import { createPicketWsEndpoint } from './transports/picket-ws.js';
import { loadTls, watchHandshakeFailures } from './transports/tls.js';

export interface Gateway {
  readonly nodeId: string;
  readonly mqttPort: number;
  readonly httpPort: number;
  /** MQTT over TLS, when --tls or --tls-cert/--tls-key turned TLS on (HTTP is then HTTPS) */
  readonly mqttTlsPort?: number | undefined;
  /** the CA certificate devices must trust, when --tls auto made one */
  readonly tlsCaFile?: string | undefined;
  readonly natsUrl: string;
  /** the credential the gateway connects with: --nats-creds, or the embedded server's (<data>/nats-auth) */
  readonly natsCreds: string | undefined;
  readonly metrics: Metrics;
  /** the embedded nats-server's pid (undefined with --nats) */
  readonly natsServerPid: number | undefined;
  /** accounts, sessions, API tokens and the audit log */
  readonly people: People;
  /** OTA offers, progress and downloads for the picket devices on this node (rollouts drive it) */
  readonly otaFleet: OtaFleet;
  /**
   * While nobody has set a password: the one-time link where the first admin does
   * (`<public url or http://localhost:<http port>>/onboarding#<token>`), fresh on every start.
   */
  readonly onboardingUrl?: string | undefined;
  /** Stops taking connections, lets commands under way finish, flushes state, closes NATS. */
  stop(): Promise<void>;
}

/**
 * Overrides for the HTTP API's people side. By default the gateway's own People
 * (accounts in NATS) authenticate every request; tests may put a stand-in there.
 */
export interface GatewayHttpPeople {
  auth?: Authenticator | undefined;
  people?: PeopleApi | undefined;
  /** default: --public-url */
  publicUrl?: string | undefined;
  /** default: --metrics-public */
  metricsPublic?: boolean | undefined;
  /** the built web app; default: the @sentinel/web package's dist */
  webRoot?: string | undefined;
}

/**
 * How long a stop may wait for its steps (CONTRACT.md §2: SIGTERM stops it within 5 s);
 * the rest of the 5 s is for stopping the embedded nats-server and the process's exit.
 */
const STOP_BUDGET_MS = 3000;
/** how long the embedded nats-server may take to stop (it writes its store) before SIGKILL */
const NATS_SERVER_STOP_MS = 1000;

export async function startGateway(
  config: GatewayConfig,
  options: { log?: Logger; http?: GatewayHttpPeople } = {},
): Promise<Gateway> {
  const log = options.log ?? createLogger(config.logLevel);
  const metrics = createMetrics();
  let busUp = () => false;
  // steps that need NATS are marked `bus`: while it is away they are started, not waited for
  const cleanup = new StopSequence({ log, budgetMs: STOP_BUDGET_MS, busUp: () => busUp() });
  const stop = () => cleanup.run();

  try {
    // first, so a bad certificate option fails before anything starts
    const tls = await loadTls(config);
    // a taken port fails here, naming the option that moves it, before anything starts
    await ensurePortFree('mqttPort', config.mqttPort, config.host);
    await ensurePortFree('httpPort', config.httpPort, config.host);
    if (tls) await ensurePortFree('mqttTlsPort', config.mqttTlsPort, config.host);
    let supervisor: NatsServerSupervisor | undefined;
    if (!config.natsUrl) {
      supervisor = await NatsServerSupervisor.start({
        storeDir: embeddedStoreDir(config.dataDir),
        authDir: embeddedAuthDir(config.dataDir),
        port: config.natsPort,
        log,
        onRestart: () => metrics.natsRestarts.inc(),
      });
      const embedded = supervisor;
      cleanup.push(() => embedded.stop(NATS_SERVER_STOP_MS), { name: 'nats-server', final: true });
    }
    const natsUrl = config.natsUrl ?? supervisor!.url;
    const natsCreds = config.natsCreds ?? supervisor?.credsFile;
    const nc = await connectBus({
      servers: natsUrl,
      credsFile: natsCreds,
      name: `sentinel-gateway-${config.nodeId}`,
      log,
    });
    busUp = followConnection(nc);
    // what is published (the last states) goes out while the server answers; past the
    // deadline, or with NATS away, the connection is closed as it is (its reconnect
    // timer would keep the process alive)
    cleanup.push(
      async (deadline) => {
        const drained = nc.drain().catch(() => undefined);
        if (!(await settlesWithin(drained, busUp() ? deadline - performance.now() : 0))) await nc.close();
      },
      { name: 'nats drain', final: true },
    );
    const timings = lockTimings({
      ttlMs: config.lockTtlMs,
      heartbeatMs: config.lockHeartbeatMs,
      graceMs: config.lockGraceMs,
    });
    const replicas = replicasFor(nc, config.natsReplicas);
    const bus = await openBus(
      nc,
      { maxAgeSeconds: config.historyMaxAge, maxBytes: config.historyMaxBytes },
      { replicas, lockTtlMs: timings.ttlMs },
    );
    await ensureLockTtl(bus.jsm, BUCKET.locks, timings.ttlMs, log);

    const registry = await Registry.start(bus.kv, log);
    cleanup.push(() => registry.stop());
    const state = new StatePublisher(
      nc,
      new DurablePublisher(nc, 5000),
      bus.kv.state,
      metrics,
      log,
      config.stateFlushMs,
    );
    // the last known states, before a device or a person is served: a restart shows them at once
    await state.load();
    cleanup.push(() => state.stop());
    const availability = new Availability(nc, registry, state, config.nodeId, metrics, log);
    cleanup.push(() => availability.stop());
    const router = new CommandRouter(nc, registry, config.commandTimeoutMs, metrics, log);
    const adapter = new PicketAdapter({
      registry,
      state,
      availability,
      metrics,
      log: new ThrottledLog(log),
      maxMessageBytes: config.maxMessageBytes,
      deviceRate: config.deviceRate,
      deviceBurst: config.deviceBurst,
      resends: new ResendFilter(bus.js, bus.jsm, log),
    });
    router.addTarget(adapter);
    router.start();
    const cluster = await Cluster.start({
      bus,
      nodeId: config.nodeId,
      timings,
      replicas,
      registry,
      availability,
      router,
      commandTimeoutMs: config.commandTimeoutMs,
      reconnectGraceMs: config.reconnectGraceMs,
      metrics,
      log,
    });
    cleanup.push(() => cluster.leave(), { name: 'leave the cluster', bus: true });
    // BLE: one adapter per cluster, on whichever node holds the `ble` lock
    cluster.lead('ble', (lease) =>
      startBleAdapter(
        {
          nc,
          js: bus.js,
          registry,
          state,
          availability,
          metrics,
          log: log.child({ subsystem: 'ble' }),
          offlineMinMs: config.bleOfflineMs,
        },
        lease,
      ),
    );
    // Home Assistant (CONTRACT.md §7), only with --ha-mqtt: MQTT discovery on the household
    // broker, one publisher per cluster under the `ha` lock; cluster.release() stops it
    // (it says `offline` first), the first step of a stop
    const ha = await haConnection(config);
    if (ha) {
      cluster.lead('ha', (lease) =>
        startHaExport(
          {
            nc,
            stateKv: bus.kv.state,
            registry,
            connection: ha,
            discoveryPrefix: config.haDiscoveryPrefix,
            publicUrl: config.publicUrl,
            commandTimeoutMs: config.commandTimeoutMs,
            metrics,
            log,
          },
          lease,
        ),
      );
    }
    // Home Assistant import (issue 14), only with --ha-url: its entities in our model, one
    // importer per cluster under the `ha_import` lock; commands reach it through the
    // target on whichever node runs it
    const haImport = await haImportSettings(config);
    if (haImport) {
      const target = haCommandTarget();
      router.addTarget(target);
      cluster.lead('ha_import', (lease) =>
        startHaImport({ settings: haImport, target, registry, state, availability, metrics, log }, lease),
      );
    }
    // Matter (issue 12), only with --matter-url: nodes of a matter server as devices, one
    // adapter per cluster under the `matter_adapter` lock; commands reach it through the target
    const matterUrlList = matterUrls(config.matterUrl);
    if (matterUrlList) {
      const target = matterCommandTarget();
      router.addTarget(target);
      cluster.lead('matter_adapter', (lease) =>
        startMatterAdapter(
          { urls: matterUrlList, target, registry, state, availability, metrics, log },
          lease,
        ),
      );
    }
    const people = await People.start(bus.js, bus.jsm, { replicas });
    cleanup.push(() => people.stop());
    // last_seen and last_used write-backs under way land before NATS closes
    cleanup.push(() => Promise.all([people.sessions.settled(), people.tokens.settled()]), {
      name: 'people write-backs',
      bus: true,
    });
    // nobody can log in yet: a fresh link for the first admin (printed once ready)
    const firstAdmin = options.http?.people ? undefined : await firstStartOnboarding(people);
    const forHttp = peopleForHttp(people);
    const publicUrl = options.http?.publicUrl ?? config.publicUrl;
    const credentialStore = new CredentialStore(bus.kv.credentials);
    const verifier = await CredentialVerifier.start(bus.kv.credentials, (id) => adapter.revoke(id));
    cleanup.push(() => verifier.stop());

    const mqtt = await createMqttTransport({
      adapter,
      verifier,
      metrics,
      log,
      limits: { maxPacketBytes: 256 * 1024, maxOutgoingBytes: 1024 * 1024, stallTimeoutMs: 30_000 },
    });
    const picketWs = createPicketWsEndpoint({ adapter, verifier, metrics, log });
    // OTA (docs/ota.md): offers over picket, downloads on the HTTP port (read once it listens)
    // the catalog: the shared object store bucket on an external NATS, else <data>/firmware/ota
    const otaCatalog = gatewayOtaCatalog(config.dataDir, config.natsUrl ? bus.firmware : undefined);
    const otaFleet = new DeviceOtaFleet({
      adapter,
      registry,
      availability,
      verifier,
      catalog: otaCatalog,
      dataDir: config.dataDir,
      metrics,
      log,
      origin: (address) => otaDownloadOrigin(publicUrl, tls !== undefined, http.port, address),
    });
    // OTA rollouts (docs/ota.md "Rollouts"): each node relays its devices; the `ota` leader
    // runs the engine on the state in sentinel_ota (cluster.release() stops it)
    const otaRelay = startOtaRollouts({
      bus,
      cluster,
      nodeId: config.nodeId,
      fleet: otaFleet,
      catalog: otaCatalog,
      metrics,
      log,
    });
    cleanup.push(() => otaRelay.stop());
    const tcp = new ClosableServer(createTcpServer((socket) => mqtt.attach(socket)));
    const mqttTlsServer =
      tls && createTlsServer({ cert: tls.cert, key: tls.key }, (socket) => mqtt.attach(socket));
    if (mqttTlsServer) watchHandshakeFailures(mqttTlsServer, 'mqtt', metrics, log);
    const mqttTls = mqttTlsServer ? new ClosableServer(mqttTlsServer) : undefined;
    const httpApp = await createHttpApp({
      nodeId: config.nodeId,
      natsUrl,
      metrics,
      registry,
      availability,
      router,
      cluster,
      bus,
      credentials: credentialStore,
      dataDir: config.dataDir,
      log,
      tls,
      auth: options.http?.auth ?? forHttp.auth,
      people: options.http?.people ?? forHttp.people,
      publicUrl,
      metricsPublic: options.http?.metricsPublic ?? config.metricsPublic,
      webRoot: options.http?.webRoot,
      upgradePicket: picketWs.upgrade,
      ota: otaFleet,
      otaCatalog,
      attachMqtt: mqtt.attach,
      mqttPorts: () => ({ mqtt: tcp.port, mqtt_tls: mqttTls?.port }),
    });
    const http = new ClosableServer(httpApp.server);
    // the steps below run in reverse: stop accepting connections and commands, answer
    // the commands under way, close device connections (devices go offline), then
    // wait for the servers to be closed
    cleanup.push(() => Promise.all([tcp.closed(), http.closed(), mqttTls?.closed()]));
    // live-feed sockets close before the server is awaited closed (they hold it open)
    cleanup.push(() => httpApp.close());
    cleanup.push(
      async () => {
        picketWs.close();
        await mqtt.close();
        await Promise.all(adapter.sessions().map((session) => adapter.closed(session)));
      },
      // devices are marked offline in KV
      { name: 'device connections', bus: true },
    );
    cleanup.push(() => router.settled(), { name: 'commands under way', bus: true });
    cleanup.push(() => adapter.failPending('the gateway is stopping'));
    cleanup.push(() => router.stop());
    await tcp.listen(config.mqttPort, config.host, 'mqttPort');
    await http.listen(config.httpPort, config.host, 'httpPort');
    await mqttTls?.listen(config.mqttTlsPort, config.host, 'mqttTlsPort');
    cleanup.push(() => {
      tcp.stopAccepting();
      http.stopAccepting();
      mqttTls?.stopAccepting();
    });
    // the first step of a stop: leadership moves to another node at once
    cleanup.push(() => cluster.release(), { name: 'release locks', bus: true });
    availability.reconcileAfter(config.reconnectGraceMs);

    const gateway: Gateway = {
      nodeId: config.nodeId,
      mqttPort: tcp.port,
      httpPort: http.port,
      mqttTlsPort: mqttTls?.port,
      tlsCaFile: tls?.caFile,
      natsUrl,
      natsCreds,
      metrics,
      get natsServerPid() {
        return supervisor?.pid;
      },
      people,
      otaFleet,
      // the token stays out of the log: whoever reads the log must not become admin
      onboardingUrl: firstAdmin && onboardingUrl(publicUrl, tls !== undefined, http.port, firstAdmin.token),
      stop,
    };
    log.info(
      {
        node_id: gateway.nodeId,
        mqtt_port: gateway.mqttPort,
        http_port: gateway.httpPort,
        nats_url: withoutPassword(natsUrl),
        ...(tls ? { mqtt_tls_port: mqttTls?.port, tls: tls.source, tls_ca: tls.caFile } : {}),
        ...(firstAdmin ? { onboarding_pending: firstAdmin.user } : {}),
      },
      'gateway ready',
    );
    return gateway;
  } catch (error) {
    await stop();
    throw error;
  }
}

/** `<public url or http(s)://localhost:<http port>>/onboarding#<token>` (the token in the fragment never reaches a server). */
export function onboardingUrl(
  publicUrl: string | undefined,
  https: boolean,
  httpPort: number,
  token: string,
): string {
  const base = publicUrl
    ? `${new URL(publicUrl).origin}${new URL(publicUrl).pathname.replace(/\/+$/, '')}`
    : `${https ? 'https' : 'http'}://localhost:${httpPort}`;
  return `${base}/onboarding#${token}`;
}

/** A listening server that can stop accepting first and be awaited closed later. */
class ClosableServer {
  #closed: Promise<void> | undefined;

  constructor(private readonly server: TcpServer | HttpServer) {}

  async listen(port: number, host: string, option: ListenerOption): Promise<void> {
    this.server.listen(port, host);
    await Promise.race([
      once(this.server, 'listening'),
      once(this.server, 'error').then(([error]) =>
        // taken since it was tried at start
        Promise.reject(
          isAddressInUse(error) ? new PortInUseError(option, port, host, { cause: error }) : error,
        ),
      ),
    ]);
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  stopAccepting(): void {
    this.#closed ??= new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Resolves once every connection has ended (idle HTTP keep-alives are closed). */
  async closed(): Promise<void> {
    this.stopAccepting();
    if ('closeAllConnections' in this.server) this.server.closeAllConnections();
    await this.#closed;
  }
}
