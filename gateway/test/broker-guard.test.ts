import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer as createHttpServer } from 'node:http';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Aedes, type AedesOptions, type Client } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { createWebSocketStream, WebSocketServer } from 'ws';
import {
  connectPacket,
  flood,
  PacketType,
  publishBurst,
  publishPacket,
  RawMqttClient,
  remainingLength,
} from '../../test/support/mqtt-raw.js';
import {
  attachConnection,
  type BrokerLimits,
  createGuardedBroker,
  GuardDisconnectError,
  type GuardDisconnectReason,
  IdentifierRejectedError,
} from '../src/transports/broker-guard.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/broker-guard/plain-aedes.mjs', import.meta.url));

const teardown: (() => unknown)[] = [];
afterEach(async () => {
  for (const step of teardown.splice(0).reverse()) await step();
});

const LIMITS: BrokerLimits = {
  maxPacketBytes: 256 * 1024,
  maxOutgoingBytes: 1024 * 1024,
  stallTimeoutMs: 1000,
};

interface GuardedServer {
  broker: Aedes;
  port: number;
  /** Resolves with the reason the guard gave when it disconnected `clientId` (null: before CONNECT). */
  disconnected(clientId: string | null): Promise<GuardDisconnectReason>;
  clientErrors: Error[];
}

async function startGuarded(limits: BrokerLimits, options: AedesOptions = {}): Promise<GuardedServer> {
  const reasons = new Map<string | null, GuardDisconnectReason>();
  const waiting = new Map<string | null, (reason: GuardDisconnectReason) => void>();
  const broker = await createGuardedBroker(options, limits, {
    onGuardDisconnect(clientId, reason) {
      reasons.set(clientId, reason);
      waiting.get(clientId)?.(reason);
    },
  });
  const clientErrors: Error[] = [];
  broker.on('clientError', (_client, error) => clientErrors.push(error));
  broker.on('connectionError', (_client, error) => clientErrors.push(error));
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    attachConnection(broker, socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  teardown.push(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
    await new Promise<void>((resolve) => broker.close(resolve));
  });
  return {
    broker,
    port: (server.address() as AddressInfo).port,
    clientErrors,
    disconnected: (clientId) => {
      const known = reasons.get(clientId);
      if (known) return Promise.resolve(known);
      return new Promise((resolve) => waiting.set(clientId, resolve));
    },
  };
}

async function mqttClient(url: string, clientId: string): Promise<MqttClient> {
  const client = await mqtt.connectAsync(url, { clientId, reconnectPeriod: 0, connectTimeout: 5000 });
  teardown.push(() => client.endAsync(true));
  return client;
}

async function rawClient(port: number, clientId: string): Promise<RawMqttClient> {
  const client = await RawMqttClient.connected(port, clientId);
  teardown.push(() => client.destroy());
  return client;
}

/** Resolves once `subscriber` receives `text` on `topic`. */
function received(subscriber: MqttClient, topic: string, text: string): Promise<void> {
  return new Promise((resolve) => {
    const onMessage = (got: string, payload: Buffer): void => {
      if (got !== topic || payload.toString() !== text) return;
      subscriber.removeListener('message', onMessage);
      resolve();
    };
    subscriber.on('message', onMessage);
  });
}

/** Publishes on one client and resolves once another, already subscribed to `topic`, has received it. */
async function roundTrip(
  publisher: MqttClient,
  subscriber: MqttClient,
  topic: string,
  text: string,
): Promise<void> {
  const arrived = received(subscriber, topic, text);
  await publisher.publishAsync(topic, text, { qos: 1 });
  await arrived;
}

/**
 * Watches the broker side of client `clientId`: its largest write queue, since when its writes have been
 * backing up without a 'drain', and when more than `stuckBytes` sit in it (its kernel buffers are full).
 */
function watchOutgoing(
  broker: Aedes,
  clientId: string,
  stuckBytes = 1024 * 1024,
): { maxQueued(): number; backingUpSince(): number | undefined; stuck: Promise<void> } {
  let maxQueued = 0;
  let since: number | undefined;
  let stuck!: () => void;
  const promise = new Promise<void>((resolve) => {
    stuck = resolve;
  });
  broker.on('client', (client: Client) => {
    if (client.id !== clientId) return;
    const conn = client.conn as Duplex;
    const write = conn.write;
    conn.on('drain', () => {
      since = undefined;
    });
    conn.write = (...args: unknown[]): boolean => {
      const ok = Reflect.apply(write, conn, args) as boolean;
      maxQueued = Math.max(maxQueued, conn.writableLength);
      if (!ok) since ??= performance.now();
      if (conn.writableLength > stuckBytes) stuck();
      return ok;
    };
  });
  return { maxQueued: () => maxQueued, backingUpSince: () => since, stuck: promise };
}

/** Lets `broker` publish one message and waits for it: every message queued before it has gone through. */
function settle(broker: Aedes): Promise<void> {
  return new Promise((resolve, reject) =>
    broker.publish(
      { cmd: 'publish', topic: 'probe/settle', payload: Buffer.alloc(0), qos: 0, retain: false, dup: false },
      (error) => (error ? reject(error) : resolve()),
    ),
  );
}

function sharedQueueLength(broker: Aedes): number {
  return (broker as unknown as { mq: { length: number } }).mq.length;
}

/**
 * The crash scenario: `stalled` subscribes to flood/# at QoS 0 and flood/+ at QoS 1 and stops reading; one
 * client floods it with 32 KiB messages until `isStalled` says the broker's writes to it are stuck; then
 * two more each write bursts of 5000 tiny PUBLISH packets, so that each read of theirs is thousands of
 * messages arriving behind the stuck ones.
 */
async function stallAndFlood(
  port: number,
  isStalled: () => Promise<unknown>,
): Promise<{ subscriber: RawMqttClient; flooders: RawMqttClient[]; stopFlooding(): Promise<void> }> {
  const subscriber = await rawClient(port, 'stalled');
  await subscriber.subscribe([
    { topic: 'flood/#', qos: 0 },
    { topic: 'flood/+', qos: 1 },
  ]);
  subscriber.stall();
  const flooders = [await rawClient(port, 'flood-big')];
  const floods = [flood(flooders[0]!, publishPacket('flood/big', Buffer.alloc(32 * 1024)))];
  const stopFlooding = async (): Promise<void> => {
    for (const running of floods) running.stop();
    await Promise.all(floods.map((running) => running.done));
  };
  teardown.push(stopFlooding);
  await isStalled();
  for (const clientId of ['flood-small-1', 'flood-small-2']) {
    const flooder = await rawClient(port, clientId);
    flooders.push(flooder);
    floods.push(flood(flooder, publishBurst('flood/small', 1, 5000)));
  }
  return { subscriber, flooders, stopFlooding };
}

function spawnPlainAedes(env: Record<string, string>): {
  child: ChildProcessWithoutNullStreams;
  lines: AsyncIterator<string>;
  exited: Promise<{ code: number | null; stderr: string }>;
} {
  const child = spawn(process.execPath, [FIXTURE], { env: { ...process.env, ...env } });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = once(child, 'exit').then(([code]) => ({ code: code as number | null, stderr }));
  teardown.push(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill();
  });
  return { child, lines: createInterface({ input: child.stdout })[Symbol.asyncIterator](), exited };
}

/** The next JSON line the child writes, or a failure carrying its stderr if it exits first. */
async function nextLine<T>(fixture: ReturnType<typeof spawnPlainAedes>): Promise<T> {
  const line = await Promise.race([fixture.lines.next(), fixture.exited]);
  if ('stderr' in line || line.done) {
    const { code, stderr } = await fixture.exited;
    throw new Error(`plain aedes exited (${code}) before reporting: ${stderr}`);
  }
  return JSON.parse(line.value) as T;
}

describe('unguarded aedes 1.2 (child process)', () => {
  it('dies of RangeError when a stalled subscriber with a large backlog disconnects', async () => {
    const fixture = spawnPlainAedes({ BACKLOG: '5000', STALLED_ID: 'stalled' });
    const { port } = await nextLine<{ port: number }>(fixture);
    const { subscriber } = await stallAndFlood(port, () => nextLine<{ stalled: number }>(fixture));

    const held = await nextLine<{ backlog: number; waitingOnDrain: number }>(fixture);
    expect(held.backlog).toBeGreaterThanOrEqual(5000);
    expect(held.waitingOnDrain).toBeGreaterThan(0);
    subscriber.destroy();

    const { code, stderr } = await fixture.exited;
    expect(code).not.toBe(0);
    expect(stderr).toContain('RangeError: Maximum call stack size exceeded');
    expect(stderr).toMatch(/mqemitter[\\/]mqemitter\.js/);
  }, 15_000);

  it('dies the same way with no socket at all: a long shared queue whose last listener leaves', async () => {
    const fixture = spawnPlainAedes({ MODE: 'queue', BACKLOG: '5000' });
    const queued = await nextLine<{ backlog: number; held: number }>(fixture);
    expect(queued.backlog).toBeGreaterThan(4000);

    const { code, stderr } = await fixture.exited;
    expect(code).not.toBe(0);
    expect(stderr).toContain('RangeError: Maximum call stack size exceeded');
  }, 10_000);
});

describe('createGuardedBroker', () => {
  it('survives the same scenario: the stalled subscriber is dropped, others carry on, memory stays bounded', async () => {
    const guarded = await startGuarded(LIMITS);
    const url = `mqtt://127.0.0.1:${guarded.port}`;
    const listener = await mqttClient(url, 'healthy-sub');
    await listener.subscribeAsync('status/#', { qos: 1 });
    const talker = await mqttClient(url, 'healthy-pub');
    const outgoing = watchOutgoing(guarded.broker, 'stalled', 256 * 1024);

    const { subscriber, flooders, stopFlooding } = await stallAndFlood(guarded.port, () => outgoing.stuck);
    await roundTrip(talker, listener, 'status/during', 'while flooding');

    const reason = await guarded.disconnected('stalled');
    expect(['outgoing_queue_full', 'stalled']).toContain(reason);
    await stopFlooding();
    subscriber.socket.resume(); // reads what its kernel still holds, then sees the close
    await subscriber.closed;
    const guardErrors = guarded.clientErrors.filter((error) => error instanceof GuardDisconnectError);
    expect(guardErrors.map((error) => (error as GuardDisconnectError).reason)).toEqual([reason]);

    // the others are still there and still talking, the flooders included
    await roundTrip(talker, listener, 'status/after', 'after the stalled one left');
    for (const flooder of flooders) expect(flooder.socket.destroyed).toBe(false);
    const fromFlooder = received(listener, 'status/flooder', 'still here');
    flooders[0]!.socket.write(publishPacket('status/flooder', Buffer.from('still here')));
    await fromFlooder;
    expect(guarded.broker.connectedClients).toBe(2 + flooders.length);

    // bounded: that client's queue never went more than one packet past its limit, the shared queue drained
    expect(outgoing.maxQueued()).toBeGreaterThan(0);
    expect(outgoing.maxQueued()).toBeLessThanOrEqual(LIMITS.maxOutgoingBytes + 33 * 1024);
    await settle(guarded.broker);
    expect(sharedQueueLength(guarded.broker)).toBe(0);
  }, 15_000);

  it('drains a long shared queue whose last listener left, without recursing', async () => {
    const { broker } = await startGuarded(LIMITS);
    const held: (() => void)[] = [];
    const hold = (_packet: unknown, callback: () => void): void => {
      held.push(callback);
    };
    await new Promise<void>((resolve) => broker.subscribe('backlog/t', hold, resolve));
    const total = 20_000;
    let completed = 0;
    const allDone = new Promise<void>((resolve) => {
      for (let i = 0; i < total; i++) {
        broker.publish(
          { cmd: 'publish', topic: 'backlog/t', payload: Buffer.alloc(0), qos: 0, retain: false, dup: false },
          () => {
            if (++completed === total) resolve();
          },
        );
      }
    });
    expect(sharedQueueLength(broker)).toBe(total - held.length); // the rest wait behind the held ones
    await new Promise<void>((resolve) => broker.unsubscribe('backlog/t', hold, resolve));

    for (const callback of held.splice(0)) callback(); // unguarded, this line throws RangeError
    await allDone;
    expect(sharedQueueLength(broker)).toBe(0);
  });

  it('disconnects a consumer whose socket has not drained for stallTimeoutMs as stalled', async () => {
    const limits = { ...LIMITS, maxOutgoingBytes: 64 * 1024 * 1024, stallTimeoutMs: 400 };
    const guarded = await startGuarded(limits);
    const url = `mqtt://127.0.0.1:${guarded.port}`;
    const listener = await mqttClient(url, 'healthy-sub');
    await listener.subscribeAsync('status/#', { qos: 1 });
    const talker = await mqttClient(url, 'healthy-pub');
    const outgoing = watchOutgoing(guarded.broker, 'slow');

    const slow = await rawClient(guarded.port, 'slow');
    await slow.subscribe([{ topic: 'slow/#', qos: 0 }]);
    slow.stall();
    const flooder = await rawClient(guarded.port, 'flood-big');
    const running = flood(flooder, publishPacket('slow/big', Buffer.alloc(32 * 1024)));
    await outgoing.stuck;
    running.stop();

    // while `slow` is backed up and still connected, nobody else waits for it
    let slowGone = false;
    const slowReason = guarded.disconnected('slow').then((reason) => {
      slowGone = true;
      return reason;
    });
    await roundTrip(talker, listener, 'status/while-stalled', 'not held up');
    expect(slowGone).toBe(false);

    expect(await slowReason).toBe('stalled');
    const backingUpFor = performance.now() - outgoing.backingUpSince()!;
    expect(backingUpFor).toBeGreaterThanOrEqual(limits.stallTimeoutMs - 5);
    slow.socket.resume();
    await slow.closed;
    await roundTrip(talker, listener, 'status/after', 'still fine');
  }, 10_000);

  it('disconnects a consumer over maxOutgoingBytes as outgoing_queue_full, its queue bounded', async () => {
    const limits = { ...LIMITS, maxOutgoingBytes: 1024 * 1024, stallTimeoutMs: 60_000 };
    const guarded = await startGuarded(limits);
    const outgoing = watchOutgoing(guarded.broker, 'slow');
    const slow = await rawClient(guarded.port, 'slow');
    await slow.subscribe([{ topic: 'slow/#', qos: 1 }]);
    slow.stall();
    const flooder = await rawClient(guarded.port, 'flood-big');
    const message = publishPacket('slow/big', Buffer.alloc(32 * 1024));
    const running = flood(flooder, message);

    expect(await guarded.disconnected('slow')).toBe('outgoing_queue_full');
    running.stop();
    slow.socket.resume();
    await slow.closed;
    // the check runs after every packet written above the high-water mark: at most one packet over
    expect(outgoing.maxQueued()).toBeGreaterThan(limits.maxOutgoingBytes);
    expect(outgoing.maxQueued()).toBeLessThanOrEqual(limits.maxOutgoingBytes + message.length + 16);
    expect(flooder.socket.destroyed).toBe(false);
  }, 10_000);

  it('answers an empty client id with CleanSession=0 by CONNACK 0x02 and closes [MQTT-3.1.3-8]', async () => {
    const preConnected: string[] = [];
    const authenticate: NonNullable<AedesOptions['authenticate']> = (_client, _username, _password, done) =>
      done(null, true);
    const guarded = await startGuarded(LIMITS, {
      preConnect: (_client, packet, callback) => {
        preConnected.push(packet.clientId);
        callback(null, true);
      },
      authenticate,
    });
    expect(guarded.broker.authenticate).toBe(authenticate);

    const rejected = await RawMqttClient.open(guarded.port);
    teardown.push(() => rejected.destroy());
    const bytes: Buffer[] = [];
    rejected.socket.on('data', (chunk: Buffer) => bytes.push(chunk));
    rejected.socket.write(connectPacket({ clientId: '', clean: false }));
    await rejected.closed;
    // CONNACK, Remaining Length 2, Session Present 0 [MQTT-3.2.2-4], return code 0x02; then the end
    expect(Buffer.concat(bytes)).toEqual(Buffer.from([0x20, 0x02, 0x00, 0x02]));
    expect(guarded.clientErrors.some((error) => error instanceof IdentifierRejectedError)).toBe(true);

    // [MQTT-3.1.3-6] a zero-byte id with CleanSession=1 is still accepted, and reaches the caller's preConnect
    const accepted = await RawMqttClient.open(guarded.port);
    teardown.push(() => accepted.destroy());
    accepted.socket.write(connectPacket({ clientId: '', clean: true }));
    const connack = await accepted.next();
    expect(connack.type).toBe(PacketType.connack);
    expect([...connack.body]).toEqual([0x00, 0x00]);
    expect(preConnected).toEqual(['']);
  });

  it('closes a connection whose packet is larger than maxPacketBytes at its header, others unaffected', async () => {
    const limits = { ...LIMITS, maxPacketBytes: 1024 };
    const guarded = await startGuarded(limits);
    const url = `mqtt://127.0.0.1:${guarded.port}`;
    const listener = await mqttClient(url, 'healthy-sub');
    await listener.subscribeAsync('size/#', { qos: 1 });
    const talker = await mqttClient(url, 'healthy-pub');

    // exactly maxPacketBytes passes
    const sender = await rawClient(guarded.port, 'sender');
    const topic = 'size/exact';
    const fits = publishPacket(topic, Buffer.alloc(limits.maxPacketBytes - 1 - 2 - 2 - topic.length, 0x62));
    expect(fits.length).toBe(limits.maxPacketBytes);
    const delivered = new Promise<Buffer>((resolve) =>
      listener.once('message', (_topic, payload) => resolve(payload)),
    );
    sender.socket.write(fits);
    expect(await delivered).toHaveLength(fits.length - 1 - 2 - 2 - topic.length);

    // one byte more is refused on its fixed header alone: no payload byte is ever sent
    const header = Buffer.concat([Buffer.from([0x30]), remainingLength(limits.maxPacketBytes - 2)]);
    expect(1 + 2 + limits.maxPacketBytes - 2).toBe(limits.maxPacketBytes + 1);
    sender.socket.write(header);
    expect(await guarded.disconnected('sender')).toBe('packet_too_large');
    await sender.closed;

    // a 10 MB CONNECT is refused before the client has an id
    const early = await RawMqttClient.open(guarded.port);
    teardown.push(() => early.destroy());
    early.socket.write(Buffer.concat([Buffer.from([0x10]), remainingLength(10 * 1024 * 1024)]));
    expect(await guarded.disconnected(null)).toBe('packet_too_large');
    await early.closed;

    await roundTrip(talker, listener, 'size/after', 'unaffected');
  });

  it('applies the same limits to a WebSocket duplex stream', async () => {
    const limits = { ...LIMITS, maxPacketBytes: 1024 };
    const reasons: [string | null, GuardDisconnectReason][] = [];
    const broker = await createGuardedBroker({}, limits, {
      onGuardDisconnect: (clientId, reason) => reasons.push([clientId, reason]),
    });
    const http = createHttpServer();
    const wss = new WebSocketServer({ server: http });
    wss.on('connection', (ws, req) => attachConnection(broker, createWebSocketStream(ws), req));
    http.listen(0, '127.0.0.1');
    await once(http, 'listening');
    teardown.push(async () => {
      for (const ws of wss.clients) ws.terminate();
      await new Promise((resolve) => wss.close(resolve));
      await new Promise((resolve) => http.close(resolve));
      await new Promise<void>((resolve) => broker.close(resolve));
    });
    const url = `ws://127.0.0.1:${(http.address() as AddressInfo).port}`;

    const listener = await mqttClient(url, 'ws-sub');
    await listener.subscribeAsync('ws/#', { qos: 1 });
    const talker = await mqttClient(url, 'ws-pub');
    await roundTrip(talker, listener, 'ws/hello', 'over websocket');

    const big = await mqttClient(url, 'ws-big');
    const closed = new Promise<void>((resolve) => big.once('close', () => resolve()));
    big.publish('ws/big', Buffer.alloc(4 * 1024));
    await closed;
    expect(reasons).toEqual([['ws-big', 'packet_too_large']]);
    await roundTrip(talker, listener, 'ws/after', 'unaffected');
  });

  it('refuses limits that are not positive integers, and brokers it did not create', async () => {
    await expect(createGuardedBroker({}, { ...LIMITS, stallTimeoutMs: 0 })).rejects.toBeInstanceOf(
      RangeError,
    );
    await expect(createGuardedBroker({}, { ...LIMITS, maxOutgoingBytes: Number.NaN })).rejects.toBeInstanceOf(
      RangeError,
    );
    const plain = await Aedes.createBroker();
    teardown.push(() => new Promise<void>((resolve) => plain.close(resolve)));
    expect(() => attachConnection(plain, new Duplex())).toThrow(TypeError);
  });
});
