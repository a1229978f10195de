// MQTT 3.1.1 for picket devices (TCP and WebSocket /mqtt), on aedes behind the
// broker guard. Every device publish is handled here, in authorizePublish, and
// then consumed: devices talk to the gateway, not to each other, so none of it
// goes through aedes's routing. That keeps the reading path short and makes the
// PUBACK of a QoS 1 reading wait until NATS stored it (aedes sends the PUBACK
// only after authorizePublish calls back).
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { type Command, type OtaMessage, picketTopic, picketTopicPrefix } from '@sentinel/firmware';
import type { Aedes, Client, PublishPacket, Subscription } from 'aedes';
import type { CredentialVerifier } from '../auth/credentials.js';
import { picketDeviceId } from '../bus/names.js';
import type { Logger } from '../log.js';
import type { Metrics, RejectReason } from '../metrics.js';
import type { PicketAdapter, PicketMessageKind } from '../picket/adapter.js';
import type { PicketSession } from '../picket/session.js';
import { attachConnection, type BrokerLimits, createGuardedBroker } from './broker-guard.js';

export interface MqttTransportOptions {
  adapter: PicketAdapter;
  verifier: CredentialVerifier;
  metrics: Metrics;
  log: Logger;
  limits: BrokerLimits;
}

export interface MqttTransport {
  broker: Aedes;
  attach(stream: Duplex, req?: IncomingMessage): void;
  close(): Promise<void>;
}

/** What a device may publish under its own prefix (`cmd` is the gateway's to publish). */
const DEVICE_TOPICS = new Map<string, PicketMessageKind>([
  ['status', 'status'],
  ['hello', 'hello'],
  ['state', 'state'],
  ['cmd/result', 'cmd/result'],
  ['ota/progress', 'ota/progress'],
]);

/** CONNACK return codes (MQTT 3.1.1 §3.2.2.3) */
const SERVER_UNAVAILABLE = 3;
const BAD_USERNAME_OR_PASSWORD = 4;
const NOT_AUTHORIZED = 5;

type DeviceClient = Client & { subscriptions: Record<string, unknown> };

function connackError(message: string, returnCode: number) {
  return Object.assign(new Error(message), { returnCode });
}

class MqttSession implements PicketSession {
  readonly transport = 'mqtt';
  readonly deviceId: string;
  ended = false;
  readonly topicPrefix: string;

  constructor(
    readonly picketId: string,
    private readonly client: DeviceClient,
  ) {
    this.deviceId = picketDeviceId(picketId);
    this.topicPrefix = picketTopicPrefix(picketId);
  }

  get localAddress(): string | undefined {
    return (this.client.conn as { localAddress?: string }).localAddress;
  }

  deliverCommand(command: Command): boolean {
    return this.#deliver(picketTopic(this.picketId, 'cmd'), command);
  }

  deliverOta(message: OtaMessage): boolean {
    return this.#deliver(picketTopic(this.picketId, 'ota'), message);
  }

  #deliver(topic: string, message: object): boolean {
    if (!Object.keys(this.client.subscriptions).some((filter) => matches(filter, topic))) return false;
    // straight to this client: no routing needed for a message with one recipient
    this.client.publish(
      { cmd: 'publish', topic, payload: JSON.stringify(message), qos: 1, retain: false, dup: false },
      noop,
    );
    return true;
  }

  reportRejected(): void {
    // MQTT 3.1.1 has no way to tell a publisher why; the counter and the log carry it
  }

  close(): void {
    this.client.close();
  }

  end(): void {
    this.ended = true;
  }
}

export async function createMqttTransport(o: MqttTransportOptions): Promise<MqttTransport> {
  const sessions = new WeakMap<Client, MqttSession>();
  const consumed = new WeakSet<object>();
  const refuse = (client: Client, reason: RejectReason, message: string) => {
    const session = sessions.get(client);
    if (session) o.adapter.reject(session, reason, message);
  };

  const broker = await createGuardedBroker(
    {
      // devices that lose their connection resend; our state is on the bus, not in aedes
      heartbeatInterval: 60_000,
      authenticate(client, username, password, done) {
        const id = client.id;
        if (username !== id) {
          o.metrics.authFailures.inc({ transport: 'mqtt' });
          done(
            connackError('client id and username must both be the device id', NOT_AUTHORIZED) as never,
            false,
          );
          return;
        }
        o.verifier.verify(id, password?.toString()).then(
          (valid) => {
            if (valid) {
              // the session starts here, not at clientReady: aedes already handles
              // publishes that arrive between its CONNACK and its clientReady event
              opened(client);
              return done(null, true);
            }
            o.metrics.authFailures.inc({ transport: 'mqtt' });
            o.log.warn({ device: id }, 'MQTT connection refused: unknown device or wrong token');
            done(connackError('unknown device or wrong token', BAD_USERNAME_OR_PASSWORD) as never, false);
          },
          () => done(connackError('credentials cannot be checked now', SERVER_UNAVAILABLE) as never, false),
        );
      },
      authorizePublish(client, packet, done) {
        consumed.add(packet);
        if (!client) return done(null);
        const session = sessions.get(client);
        const kind =
          session && packet.topic.startsWith(session.topicPrefix)
            ? DEVICE_TOPICS.get(packet.topic.slice(session.topicPrefix.length))
            : undefined;
        if (!session || !kind) {
          refuse(client, 'unauthorized_topic', `publish to ${packet.topic} is outside picket/${client.id}/`);
          return done(null);
        }
        const outcome = o.adapter.receive(session, kind, packet.payload as Buffer, packet.qos > 0);
        if (!(outcome instanceof Promise)) return done(null);
        outcome.then(
          () => done(null),
          // only when the connection ended mid-way: the device will resend, nothing was acknowledged
          () => done(null),
        );
      },
      authorizeSubscribe(client, subscription: Subscription, done) {
        if (subscription.topic.startsWith(picketTopicPrefix(client.id))) return done(null, subscription);
        refuse(
          client,
          'unauthorized_topic',
          `subscription to ${subscription.topic} is outside picket/${client.id}/`,
        );
        done(null, null); // SUBACK 0x80 for this filter, the connection stays
      },
    },
    o.limits,
    {
      onGuardDisconnect(clientId, reason) {
        o.metrics.brokerDisconnects.inc({ reason });
        o.log.warn({ device: clientId, reason }, 'MQTT client disconnected by the broker guard');
      },
    },
  );

  // consumed device messages end here instead of going through aedes's routing
  const route = broker.publish.bind(broker) as unknown as (
    packet: PublishPacket,
    client: Client | null,
    done: () => void,
  ) => void;
  (broker as unknown as { publish: typeof route }).publish = (packet, client, done) => {
    if (consumed.has(packet)) return done();
    route(packet, client, done);
  };

  function opened(client: Client): void {
    const session = new MqttSession(client.id, client as DeviceClient);
    sessions.set(client, session);
    client.conn.once('close', () => ended(client));
    o.metrics.connections.inc({ transport: 'mqtt' });
    o.adapter
      .open(session)
      .catch((error) => o.log.error({ err: error, device: client.id }, 'marking device online failed'));
  }
  function ended(client: Client): void {
    const session = sessions.get(client);
    if (!session) return;
    sessions.delete(client);
    session.end();
    o.metrics.connections.dec({ transport: 'mqtt' });
    o.adapter
      .closed(session)
      .catch((error) => o.log.error({ err: error, device: client.id }, 'marking device offline failed'));
  }
  broker.on('clientDisconnect', (client: Client) => ended(client));
  broker.on('clientError', (client: Client, error: Error) => {
    o.log.debug({ device: client.id, err: error.message }, 'MQTT client error');
  });

  return {
    broker,
    attach: (stream, req) => attachConnection(broker, stream, req),
    close: () => new Promise<void>((resolve) => broker.close(() => resolve())),
  };
}

const noop = () => {};

/** MQTT topic filter matching (§4.7): `+` one level, `#` the rest. */
function matches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length || (f[i] !== '+' && f[i] !== t[i])) return false;
  }
  return f.length === t.length;
}
