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
import { connectBus, withoutPassword } from './bus/connect.js';
import { DurablePublisher } from './bus/durable-publisher.js';
import { ensureLockTtl, lockTimings } from './bus/locks.js';
import { BUCKET } from './bus/names.js';
import { Cluster } from './cluster/cluster.js';
import { replicasFor } from './cluster/replicas.js';
import { ResendFilter } from './cluster/resend-filter.js';
import type { GatewayConfig } from './config.js';
import { createHttpApp } from './http/app.js';
import type { Authenticator, PeopleApi } from './http/auth.js';
import { createLogger, type Logger, ThrottledLog } from './log.js';
import { createMetrics, type Metrics } from './metrics.js';
import { Availability } from './model/availability.js';
import { CommandRouter } from './model/commands.js';
import { Registry } from './model/registry.js';
import { StatePublisher } from './model/state.js';
import { NatsServerSupervisor } from './nats/supervisor.js';
import { PicketAdapter } from './picket/adapter.js';
import { embeddedStoreDir } from './store.js';
import { createHttpServer } from './transports/http.js';
import { createMqttTransport } from './transports/mqtt.js';
import { createPicketWsEndpoint } from './transports/picket-ws.js';
import { loadTls, watchHandshakeFailures } from './transports/tls.js';
import { flashRoutes } from './web/flash-routes.js';

export interface Gateway {
  readonly nodeId: string;
  readonly mqttPort: number;
  readonly httpPort: number;
  /** MQTT over TLS, when --tls or --tls-cert/--tls-key turned TLS on (HTTP is then HTTPS) */
  readonly mqttTlsPort?: number | undefined;
  /** the CA certificate devices must trust, when --tls auto made one */
  readonly tlsCaFile?: string | undefined;
  readonly natsUrl: string;
  readonly metrics: Metrics;
  /** the embedded nats-server's pid (undefined with --nats) */
  readonly natsServerPid: number | undefined;
  /** Stops taking connections, lets commands under way finish, flushes state, closes NATS. */
  stop(): Promise<void>;
}

/**
 * The people side of the HTTP API. Given, the Fastify app (http/app.ts) serves every route
 * behind authentication; until the people module is wired in here, a gateway started
 * without it keeps the previous unauthenticated server (the lead decides the default).
 */
export interface GatewayHttpPeople {
  auth: Authenticator;
  people: PeopleApi;
  /** --public-url */
  publicUrl?: string | undefined;
  /** --metrics-public */
  metricsPublic?: boolean | undefined;
  /** the built web app; default: the @sentinel/web package's dist */
  webRoot?: string | undefined;
}

export async function startGateway(
  config: GatewayConfig,
  options: { log?: Logger; http?: GatewayHttpPeople } = {},
): Promise<Gateway> {
  const log = options.log ?? createLogger(config.logLevel);
  const metrics = createMetrics();
  const cleanup: (() => Promise<unknown> | unknown)[] = [];
  const stop = async () => {
    for (const step of cleanup.reverse()) {
      await Promise.resolve()
        .then(step)
        .catch((error) => log.warn({ err: error }, 'error while stopping'));
    }
    cleanup.length = 0;
  };

  try {
    // first, so a bad certificate option fails before anything starts
    const tls = await loadTls(config);
    let supervisor: NatsServerSupervisor | undefined;
    if (!config.natsUrl) {
      supervisor = await NatsServerSupervisor.start({
        storeDir: embeddedStoreDir(config.dataDir),
        port: config.natsPort,
        log,
        onRestart: () => metrics.natsRestarts.inc(),
      });
      cleanup.push(() => supervisor!.stop());
    }
    const natsUrl = config.natsUrl ?? supervisor!.url;
    const nc = await connectBus({
      servers: natsUrl,
      credsFile: config.natsCreds,
      name: `sentinel-gateway-${config.nodeId}`,
      log,
    });
    // drain fails while NATS is away; the connection must still close, or its reconnect timer keeps the process alive
    cleanup.push(() => nc.drain().catch(() => nc.close()));
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
    cleanup.push(() => cluster.leave());
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
    const tcp = new ClosableServer(createTcpServer((socket) => mqtt.attach(socket)));
    const mqttTlsServer =
      tls && createTlsServer({ cert: tls.cert, key: tls.key }, (socket) => mqtt.attach(socket));
    if (mqttTlsServer) watchHandshakeFailures(mqttTlsServer, 'mqtt', metrics, log);
    const mqttTls = mqttTlsServer ? new ClosableServer(mqttTlsServer) : undefined;
    const httpApp =
      options.http &&
      (await createHttpApp({
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
        auth: options.http.auth,
        people: options.http.people,
        publicUrl: options.http.publicUrl,
        metricsPublic: options.http.metricsPublic ?? false,
        webRoot: options.http.webRoot,
        upgradePicket: picketWs.upgrade,
        attachMqtt: mqtt.attach,
      }));
    const http = new ClosableServer(
      httpApp?.server ??
        createHttpServer({
          nodeId: config.nodeId,
          // shown on /status, to anyone who can reach the port
          natsUrl: withoutPassword(natsUrl),
          metrics,
          registry,
          state,
          availability,
          router,
          cluster,
          log,
          upgradePicket: picketWs.upgrade,
          attachMqtt: mqtt.attach,
          flash: flashRoutes({ dataDir: config.dataDir, addDevice: (id) => credentialStore.add(id), log }),
          tls,
        }),
    );
    // the steps below run in reverse: stop accepting connections and commands, answer
    // the commands under way, close device connections (devices go offline), then
    // wait for the servers to be closed
    cleanup.push(() => Promise.all([tcp.closed(), http.closed(), mqttTls?.closed()]));
    // live-feed sockets close before the server is awaited closed (they hold it open)
    if (httpApp) cleanup.push(() => httpApp.close());
    cleanup.push(async () => {
      picketWs.close();
      await mqtt.close();
      await Promise.all(adapter.sessions().map((session) => adapter.closed(session)));
    });
    cleanup.push(() => router.settled());
    cleanup.push(() => adapter.failPending('the gateway is stopping'));
    cleanup.push(() => router.stop());
    await tcp.listen(config.mqttPort, config.host);
    await http.listen(config.httpPort, config.host);
    await mqttTls?.listen(config.mqttTlsPort, config.host);
    cleanup.push(() => {
      tcp.stopAccepting();
      http.stopAccepting();
      mqttTls?.stopAccepting();
    });
    // the first step of a stop: leadership moves to another node at once
    cleanup.push(() => cluster.release());
    availability.reconcileAfter(config.reconnectGraceMs);

    const gateway: Gateway = {
      nodeId: config.nodeId,
      mqttPort: tcp.port,
      httpPort: http.port,
      mqttTlsPort: mqttTls?.port,
      tlsCaFile: tls?.caFile,
      natsUrl,
      metrics,
      get natsServerPid() {
        return supervisor?.pid;
      },
      stop,
    };
    log.info(
      {
        node_id: gateway.nodeId,
        mqtt_port: gateway.mqttPort,
        http_port: gateway.httpPort,
        nats_url: withoutPassword(natsUrl),
        ...(tls ? { mqtt_tls_port: mqttTls?.port, tls: tls.source, tls_ca: tls.caFile } : {}),
      },
      'gateway ready',
    );
    return gateway;
  } catch (error) {
    await stop();
    throw error;
  }
}

/** A listening server that can stop accepting first and be awaited closed later. */
class ClosableServer {
  #closed: Promise<void> | undefined;

  constructor(private readonly server: TcpServer | HttpServer) {}

  async listen(port: number, host: string): Promise<void> {
    this.server.listen(port, host);
    await Promise.race([
      once(this.server, 'listening'),
      once(this.server, 'error').then(([error]) => Promise.reject(error)),
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
