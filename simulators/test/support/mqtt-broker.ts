// A real aedes broker for tests, on 127.0.0.1 with ephemeral ports: MQTT over TCP
// and MQTT over WebSocket (/mqtt), authenticating pickets the way the contract
// says (client id = username = <id>, password = token). It records every CONNECT
// and every publish (wills included), and can be restarted on the same ports.
import { once } from 'node:events';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { Aedes, type AuthenticateError, type Client } from 'aedes';
import { createWebSocketStream, WebSocketServer } from 'ws';
import { Observed } from './wait.js';

export interface ConnectRecord {
  clientId: string;
  username: string | undefined;
  password: string | undefined;
  clean: boolean;
  will: { topic: string; payload: string; qos: number; retain: boolean } | undefined;
}

export interface PublishRecord {
  topic: string;
  payload: string;
  qos: number;
  retain: boolean;
  /** the publishing client; undefined for messages the broker itself sends (wills) */
  clientId: string | undefined;
}

export interface TestBroker {
  readonly url: string;
  readonly wsUrl: string;
  readonly connects: Observed<ConnectRecord>;
  readonly publishes: Observed<PublishRecord>;
  /** clients that authenticated and got CONNACK */
  readonly ready: Observed<string>;
  readonly gone: Observed<string>;
  client(id: string): Client | undefined;
  /** sends a message to subscribers, as the gateway would */
  publish(topic: string, payload: string, qos?: 0 | 1): Promise<void>;
  /** stops everything and starts a fresh broker on the same ports */
  restart(): Promise<void>;
  close(): Promise<void>;
}

type Tokens = ReadonlyMap<string, string>;

interface Running {
  aedes: Aedes;
  tcp: Server;
  http: HttpServer;
  wss: WebSocketServer;
  sockets: Set<Socket>;
  clients: Map<string, Client>;
}

export async function startTestBroker(tokens: Tokens): Promise<TestBroker> {
  const connects = new Observed<ConnectRecord>();
  const publishes = new Observed<PublishRecord>();
  const ready = new Observed<string>();
  const gone = new Observed<string>();

  async function start(ports: { tcp: number; ws: number }): Promise<Running> {
    const clients = new Map<string, Client>();
    const aedes = await Aedes.createBroker({
      preConnect(_client, packet, done) {
        connects.push({
          clientId: packet.clientId,
          username: packet.username,
          password: packet.password?.toString('utf8'),
          clean: packet.clean ?? false,
          will: packet.will && {
            topic: packet.will.topic,
            payload: Buffer.from(packet.will.payload).toString('utf8'),
            qos: packet.will.qos ?? 0,
            retain: packet.will.retain ?? false,
          },
        });
        done(null, true);
      },
      authenticate(client, username, password, done) {
        const ok = username === client.id && tokens.get(client.id) === password?.toString('utf8');
        if (ok) return done(null, true);
        const error = new Error('bad username or password') as AuthenticateError;
        error.returnCode = 4;
        done(error, false);
      },
      authorizeSubscribe(client, subscription, done) {
        // like the gateway: a device may only subscribe under picket/<its id>/
        done(null, subscription.topic.startsWith(`picket/${client.id}/`) ? subscription : null);
      },
    });
    aedes.on('clientReady', (client) => {
      clients.set(client.id, client);
      ready.push(client.id);
    });
    aedes.on('clientDisconnect', (client) => {
      if (clients.get(client.id) === client) clients.delete(client.id);
      gone.push(client.id);
    });
    aedes.on('publish', (packet, client) => {
      if (packet.topic.startsWith('$SYS')) return;
      publishes.push({
        topic: packet.topic,
        payload: Buffer.from(packet.payload).toString('utf8'),
        qos: packet.qos,
        retain: packet.retain,
        clientId: client?.id,
      });
    });

    const sockets = new Set<Socket>();
    const tcp = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      aedes.handle(socket);
    });
    const http = createHttpServer();
    http.on('connection', (socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    const wss = new WebSocketServer({ server: http, path: '/mqtt' });
    wss.on('connection', (ws, request) => aedes.handle(createWebSocketStream(ws), request));
    tcp.listen(ports.tcp, '127.0.0.1');
    http.listen(ports.ws, '127.0.0.1');
    await Promise.all([once(tcp, 'listening'), once(http, 'listening')]);
    return { aedes, tcp, http, wss, sockets, clients };
  }

  async function stop(running: Running): Promise<void> {
    await new Promise<void>((resolve) => running.aedes.close(() => resolve()));
    for (const socket of running.sockets) socket.destroy();
    running.wss.close();
    await Promise.all([
      new Promise<void>((resolve) => running.tcp.close(() => resolve())),
      new Promise<void>((resolve) => running.http.close(() => resolve())),
    ]);
  }

  let running = await start({ tcp: 0, ws: 0 });
  const ports = {
    tcp: (running.tcp.address() as AddressInfo).port,
    ws: (running.http.address() as AddressInfo).port,
  };

  return {
    url: `mqtt://127.0.0.1:${ports.tcp}`,
    wsUrl: `ws://127.0.0.1:${ports.ws}/mqtt`,
    connects,
    publishes,
    ready,
    gone,
    client: (id) => running.clients.get(id),
    publish(topic, payload, qos = 1) {
      return new Promise<void>((resolve, reject) =>
        running.aedes.publish(
          { cmd: 'publish', topic, payload: Buffer.from(payload), qos, retain: false, dup: false },
          (error) => (error ? reject(error) : resolve()),
        ),
      );
    },
    async restart() {
      await stop(running);
      running = await start(ports);
    },
    close: () => stop(running),
  };
}
