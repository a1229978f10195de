// A minimal MQTT 3.1.1 client over a raw TCP socket, for tests and benchmarks. MQTT.js cannot play a
// consumer that stops reading, a flooder that ignores backpressure, a device whose keepalive lapses,
// an empty client id with CleanSession=0 (it refuses that itself) or an oversized packet, so these
// are written byte by byte.
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';

export const PacketType = {
  connect: 1,
  connack: 2,
  publish: 3,
  suback: 9,
  disconnect: 14,
} as const;

export interface RawPacket {
  type: number;
  flags: number;
  body: Buffer;
}

/** Remaining Length, MQTT 3.1.1 §2.2.3. */
export function remainingLength(length: number): Buffer {
  const bytes: number[] = [];
  let rest = length;
  do {
    let byte = rest % 128;
    rest = Math.floor(rest / 128);
    if (rest > 0) byte |= 0x80;
    bytes.push(byte);
  } while (rest > 0);
  return Buffer.from(bytes);
}

function utf8(text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  const length = Buffer.alloc(2);
  length.writeUInt16BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

function packet(firstByte: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([firstByte]), remainingLength(body.length), body]);
}

export interface ConnectOptions {
  clientId: string;
  clean: boolean;
  keepaliveSeconds?: number;
  username?: string;
  password?: string;
  /** a QoS 1 last will */
  will?: { topic: string; payload: string; retain: boolean };
}

/** CONNECT, MQTT 3.1.1 §3.1: protocol "MQTT" level 4, flags, keepalive, then the payload fields in order. */
export function connectPacket(o: ConnectOptions): Buffer {
  const keepalive = Buffer.alloc(2);
  keepalive.writeUInt16BE(o.keepaliveSeconds ?? 0);
  let flags = o.clean ? 0x02 : 0x00;
  if (o.will) flags |= 0x04 | (1 << 3) | (o.will.retain ? 0x20 : 0);
  if (o.username !== undefined) flags |= 0x80;
  if (o.password !== undefined) flags |= 0x40;
  const payload = [
    utf8(o.clientId),
    ...(o.will ? [utf8(o.will.topic), utf8(o.will.payload)] : []),
    ...(o.username !== undefined ? [utf8(o.username)] : []),
    ...(o.password !== undefined ? [utf8(o.password)] : []),
  ];
  return packet(0x10, Buffer.concat([utf8('MQTT'), Buffer.from([4, flags]), keepalive, ...payload]));
}

export function subscribePacket(messageId: number, subscriptions: { topic: string; qos: 0 | 1 }[]): Buffer {
  const id = Buffer.alloc(2);
  id.writeUInt16BE(messageId);
  const filters = subscriptions.map(({ topic, qos }) => Buffer.concat([utf8(topic), Buffer.from([qos])]));
  return packet(0x82, Buffer.concat([id, ...filters]));
}

export function publishPacket(topic: string, payload: Buffer): Buffer {
  return packet(0x30, Buffer.concat([utf8(topic), payload]));
}

export const DISCONNECT = Buffer.from([0xe0, 0x00]);

/** Splits a byte stream into MQTT packets (fixed header + Remaining Length + body). */
class PacketReader {
  #buffer = Buffer.alloc(0);

  push(chunk: Buffer): RawPacket[] {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    const packets: RawPacket[] = [];
    for (;;) {
      let length = 0;
      let multiplier = 1;
      let offset = 1;
      for (;;) {
        if (offset >= this.#buffer.length) return packets;
        const byte = this.#buffer[offset++]!;
        length += (byte & 0x7f) * multiplier;
        multiplier *= 128;
        if ((byte & 0x80) === 0) break;
      }
      if (this.#buffer.length < offset + length) return packets;
      const first = this.#buffer[0]!;
      packets.push({
        type: first >> 4,
        flags: first & 0x0f,
        body: this.#buffer.subarray(offset, offset + length),
      });
      this.#buffer = this.#buffer.subarray(offset + length);
    }
  }
}

/** One TCP connection speaking raw MQTT; received packets are awaited in order with next(). */
export class RawMqttClient {
  readonly socket: Socket;
  readonly closed: Promise<void>;
  #reader = new PacketReader();
  #received: RawPacket[] = [];
  #waiting: { resolve(packet: RawPacket): void; reject(error: Error): void }[] = [];
  #ended = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      for (const received of this.#reader.push(chunk)) {
        const waiter = this.#waiting.shift();
        if (waiter) waiter.resolve(received);
        else this.#received.push(received);
      }
    });
    socket.on('error', () => {
      // a reset from the broker is an expected outcome here; `closed` reports the end
    });
    // not events.once(): it would reject on the 'error' that precedes 'close' after a reset
    this.closed = new Promise((resolve) => {
      socket.once('close', () => {
        this.#ended = true;
        for (const waiter of this.#waiting.splice(0)) waiter.reject(new Error('connection closed'));
        resolve();
      });
    });
  }

  static async open(port: number): Promise<RawMqttClient> {
    const socket = connect({ host: '127.0.0.1', port });
    await once(socket, 'connect');
    return new RawMqttClient(socket);
  }

  /** Opens a connection, sends CONNECT and waits for a CONNACK with return code 0. */
  static async connected(port: number, clientId: string, clean = true): Promise<RawMqttClient> {
    const client = await RawMqttClient.open(port);
    client.socket.write(connectPacket({ clientId, clean }));
    const connack = await client.next();
    if (connack.type !== PacketType.connack || connack.body[1] !== 0) {
      throw new Error(
        `${clientId}: expected CONNACK 0, got type ${connack.type} body ${connack.body.toString('hex')}`,
      );
    }
    return client;
  }

  /** Sends CONNECT and resolves with the CONNACK return code (§3.2.2.3). */
  async connect(options: ConnectOptions): Promise<number> {
    this.socket.write(connectPacket(options));
    const connack = await this.next();
    if (connack.type !== PacketType.connack) throw new Error(`expected CONNACK, got type ${connack.type}`);
    return connack.body[1]!;
  }

  next(): Promise<RawPacket> {
    const received = this.#received.shift();
    if (received) return Promise.resolve(received);
    if (this.#ended) return Promise.reject(new Error('connection closed'));
    return new Promise((resolve, reject) => this.#waiting.push({ resolve, reject }));
  }

  async subscribe(subscriptions: { topic: string; qos: 0 | 1 }[]): Promise<void> {
    this.socket.write(subscribePacket(1, subscriptions));
    const suback = await this.next();
    if (suback.type !== PacketType.suback) throw new Error(`expected SUBACK, got type ${suback.type}`);
  }

  /** Stops reading from the socket: the kernel buffers fill and the broker's writes back up. */
  stall(): void {
    this.socket.pause();
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/**
 * Writes `chunk` over and over, honouring the socket's own backpressure, until stop() is called or the
 * connection closes. Returns how many chunks were handed to the socket.
 */
export function flood(client: RawMqttClient, chunk: Buffer): { stop(): void; done: Promise<number> } {
  const socket = client.socket;
  let stopped = false;
  let wake: (() => void) | undefined;
  const stop = (): void => {
    stopped = true;
    wake?.();
  };
  socket.once('close', stop);
  const done = (async () => {
    let written = 0;
    while (!stopped && !socket.destroyed) {
      written++;
      if (!socket.write(chunk)) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          socket.once('drain', resolve);
        });
        socket.removeListener('drain', wake!);
        wake = undefined;
      }
    }
    return written;
  })();
  return { stop, done };
}

/** `count` QoS 0 PUBLISH packets to `topic` in one buffer, so one TCP read carries thousands of them. */
export function publishBurst(topic: string, payloadBytes: number, count: number): Buffer {
  const one = publishPacket(topic, Buffer.alloc(payloadBytes, 0x61));
  return Buffer.concat(Array.from({ length: count }, () => one));
}
