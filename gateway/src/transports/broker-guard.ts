// Per-client limits around aedes 1.2 (MQTT 3.1.1), and the fix for its
// `RangeError: Maximum call stack size exceeded` (aedes#193, mqemitter#204).
//
// Root cause. Every PUBLISH goes through one shared mqemitter with `concurrency` (100) slots. A slot is
// held until every matching subscriber's delivery callback has run, and aedes runs that callback only
// once the subscriber's socket has drained (lib/write.js → Client#waitForDrain). So one consumer that
// stops reading holds all slots, and every later PUBLISH of every client piles up in mqemitter's queue;
// one TCP read of small packets alone adds thousands. When a slot frees, mqemitter's `released` takes the
// next message and calls `_do` → fastparallel, which, for a message nobody listens to any more,
// completes synchronously and calls `released` again: one nested call per queued message. Once the
// stalled subscriber goes (it disconnects, or aedes' own drainTimeout destroys it) its listeners go with
// it, and draining the queue overflows the stack and kills the process.
//
// What this module does, each part small and local:
// - the shared emitter can no longer recurse without bound: a synchronous chain of deliveries is cut
//   into setImmediate turns after a fixed depth (iterativeDelivery), whatever filled the queue;
// - a connected client's deliveries no longer wait for its socket: its outgoing bytes are bounded by
//   `maxOutgoingBytes` and a socket that does not drain within `stallTimeoutMs` is dropped
//   (guardOutgoing), so a slow consumer cannot hold the shared slots and its own queue stays bounded;
// - packets larger than `maxPacketBytes` are refused at their fixed header (limitPacketSize);
// - an empty client id with CleanSession=0 gets CONNACK 0x02 (rejectEmptyIdWithoutCleanSession).
import type { IncomingMessage } from 'node:http';
import { type Duplex, finished } from 'node:stream';
import { Aedes, type AedesOptions, type Client } from 'aedes';

export interface BrokerLimits {
  /** Largest MQTT packet accepted from a client; larger → connection closed before the payload is buffered. */
  maxPacketBytes: number;
  /** Per-client bytes queued for writing; above it the client is a stalled consumer and is disconnected. */
  maxOutgoingBytes: number;
  /** A client whose socket has not drained for this long is disconnected. */
  stallTimeoutMs: number;
}

export type GuardDisconnectReason = 'packet_too_large' | 'outgoing_queue_full' | 'stalled';

export interface BrokerGuardEvents {
  /** After the guard closed a connection; `clientId` is null before CONNECT was processed. */
  onGuardDisconnect?(clientId: string | null, reason: GuardDisconnectReason): void;
}

/** The error a guarded connection is destroyed with; aedes reports it as 'clientError'/'connectionError'. */
export class GuardDisconnectError extends Error {
  override name = 'GuardDisconnectError';
  readonly reason: GuardDisconnectReason;

  constructor(reason: GuardDisconnectReason, message: string) {
    super(message);
    this.reason = reason;
  }
}

/** Passed to aedes when a CONNECT was answered with CONNACK 0x02 (Identifier rejected). */
export class IdentifierRejectedError extends Error {
  override name = 'IdentifierRejectedError';
  readonly returnCode = 2;
}

type PreConnectHandler = NonNullable<AedesOptions['preConnect']>;
type DrainCallback = (error: Error | null, client: Client) => void;

/** The aedes 1.2 / mqtt-packet 9 / mqemitter 7 internals this module hooks; checked at runtime. */
interface ClientInternals extends Client {
  _parser: ParserInternals;
  waitForDrain(done: DrainCallback): void;
}
interface ParserInternals {
  packet: { length: number };
  _parseLength(this: ParserInternals): boolean;
}
interface EmitterInternals {
  _parallel(that: unknown, listeners: unknown[], message: unknown, done: () => void): void;
}

interface Guard {
  limits: BrokerLimits;
  events: BrokerGuardEvents;
}

const guards = new WeakMap<Aedes, Guard>();

/** Deliveries that may complete synchronously inside one another before the rest moves to a new turn. */
const MAX_SYNC_DELIVERY_DEPTH = 32;

// [MQTT-3.2.2-4] a CONNACK with a non-zero return code has Session Present 0; 0x02 = Identifier rejected.
const CONNACK_IDENTIFIER_REJECTED = Buffer.from([0x20, 0x02, 0x00, 0x02]);

/** An aedes broker (already listening) whose connections, handed over with attachConnection, are bounded. */
export async function createGuardedBroker(
  options: AedesOptions,
  limits: BrokerLimits,
  events: BrokerGuardEvents = {},
): Promise<Aedes> {
  checkLimits(limits);
  const broker = new Aedes({
    ...options,
    // 0 would make aedes park every blocked write on conn.once('drain') and fire them all synchronously
    // from close(); keep its coalesced timer as a backstop behind our own stall timer.
    drainTimeout:
      options.drainTimeout && options.drainTimeout > 0 ? options.drainTimeout : 2 * limits.stallTimeoutMs,
    preConnect: rejectEmptyIdWithoutCleanSession(options.preConnect),
  });
  iterativeDelivery((broker as unknown as { mq: EmitterInternals }).mq);
  await broker.listen();
  guards.set(broker, { limits: { ...limits }, events });
  return broker;
}

/** Hands a new connection (TCP socket or a WebSocket duplex stream) to the broker with the per-client limits applied. */
export function attachConnection(broker: Aedes, stream: Duplex, req?: IncomingMessage): void {
  const guard = guards.get(broker);
  if (!guard) throw new TypeError('attachConnection: the broker was not created by createGuardedBroker');
  const { limits, events } = guard;
  const client = broker.handle(stream, req) as ClientInternals;

  let closedBy: GuardDisconnectReason | undefined;
  const disconnect = (reason: GuardDisconnectReason, message: string): void => {
    if (closedBy || stream.destroyed) return;
    closedBy = reason;
    stream.destroy(new GuardDisconnectError(reason, message));
    // the client id as aedes knows it: null until CONNECT has been processed
    const clientId = (client.id as string | null) ?? null;
    // out of aedes' call stack, so a throwing handler cannot leave the broker half-way through a write
    process.nextTick(() => events.onGuardDisconnect?.(clientId, reason));
  };

  limitPacketSize(client, limits.maxPacketBytes, (size) =>
    disconnect('packet_too_large', `packet of ${size} bytes exceeds maxPacketBytes ${limits.maxPacketBytes}`),
  );
  guardOutgoing(client, stream, limits, disconnect);
}

function checkLimits(limits: BrokerLimits): void {
  for (const key of ['maxPacketBytes', 'maxOutgoingBytes', 'stallTimeoutMs'] as const) {
    const value = limits[key];
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new RangeError(`BrokerLimits.${key} must be a positive integer, got ${value}`);
    }
  }
}

/**
 * [MQTT-3.1.3-8] "If the Client supplies a zero-byte ClientId with CleanSession set to 0, the Server MUST
 * respond to the CONNECT Packet with a CONNACK return code 0x02 (Identifier rejected) and then close the
 * Network Connection." aedes 1.2 instead invents an id and accepts. Wraps the caller's preConnect, which
 * still sees every other CONNECT; authenticate and the authorize hooks are left as the caller set them.
 */
function rejectEmptyIdWithoutCleanSession(next: PreConnectHandler | undefined): PreConnectHandler {
  return (client, packet, callback) => {
    // MQTT 3.1 (3) and 3.1.1 (4); aedes answers any other version with 0x01 itself ([MQTT-3.1.2-2])
    const v3 = packet.protocolVersion === 3 || packet.protocolVersion === 4;
    if (v3 && !packet.clientId && packet.clean === false) {
      const conn = client.conn;
      // end(): the CONNACK goes out before the FIN; aedes' teardown follows once it has been flushed
      finished(conn, { readable: false }, () =>
        callback(new IdentifierRejectedError('identifier rejected'), false),
      );
      conn.end(CONNACK_IDENTIFIER_REJECTED);
      return;
    }
    if (next) next(client, packet, callback);
    else callback(null, true);
  };
}

/**
 * Refuses a packet whose Remaining Length (MQTT 3.1.1 §2.2.3) makes it larger than `maxPacketBytes`.
 * aedes 1.2 has no such option and mqtt-packet keeps appending bytes until the declared length has
 * arrived, up to 256 MB per packet; `_parseLength` is the one point where the declared size is known and
 * none of the payload has been kept yet, so the check sits on this client's parser instance. Closing the
 * connection is the only answer MQTT 3.1.1 has (§4.8; v5's 0x95 Packet too large does not exist here).
 */
function limitPacketSize(
  client: ClientInternals,
  maxPacketBytes: number,
  tooLarge: (size: number) => void,
): void {
  const parser = client._parser;
  const parseLength = parser._parseLength;
  if (typeof parseLength !== 'function') throw new TypeError('broker-guard: unsupported mqtt-packet parser');
  let refused = false;
  parser._parseLength = function guardedParseLength(this: ParserInternals): boolean {
    if (refused || !parseLength.call(this)) return false;
    const remaining = this.packet.length;
    const size = 1 + lengthFieldBytes(remaining) + remaining;
    if (size <= maxPacketBytes) return true;
    refused = true; // stops this parse loop; the connection is being destroyed
    tooLarge(size);
    return false;
  };
}

function lengthFieldBytes(remaining: number): number {
  return remaining < 0x80 ? 1 : remaining < 0x4000 ? 2 : remaining < 0x200000 ? 3 : 4;
}

/**
 * Bounds what the broker queues for one client. aedes calls waitForDrain whenever a write leaves the
 * stream above its high-water mark, and would hold the delivery (and its shared mqemitter slot) until
 * 'drain'. Here that is the moment to measure: over `maxOutgoingBytes` the client is disconnected, and
 * the first time it backs up a timer starts that only 'drain' stops. Once connected, the delivery is then
 * released at once: the bytes already sit in the stream's buffer, which is the client's bounded queue.
 * While CONNECT is still being processed (restoring a persistent session replays its stored messages,
 * [MQTT-4.4.0-1]) aedes keeps waiting for 'drain', so a long stored queue is paced, not dumped.
 * Neither path can recurse: disconnecting only destroys the stream, and aedes' close() hands every
 * parked callback to setImmediate.
 */
function guardOutgoing(
  client: ClientInternals,
  stream: Duplex,
  limits: BrokerLimits,
  disconnect: (reason: GuardDisconnectReason, message: string) => void,
): void {
  const waitForDrain = client.waitForDrain;
  if (typeof waitForDrain !== 'function') throw new TypeError('broker-guard: unsupported aedes client');
  let stallTimer: NodeJS.Timeout | undefined;
  const drained = (): void => {
    clearTimeout(stallTimer);
    stallTimer = undefined;
  };

  client.waitForDrain = (done: DrainCallback): void => {
    const queued = stream.writableLength;
    if (queued > limits.maxOutgoingBytes) {
      disconnect(
        'outgoing_queue_full',
        `${queued} bytes queued, maxOutgoingBytes ${limits.maxOutgoingBytes}`,
      );
    } else if (stallTimer === undefined && !stream.destroyed) {
      stream.once('drain', drained);
      stallTimer = setTimeout(() => {
        stallTimer = undefined;
        disconnect('stalled', `socket not drained for ${limits.stallTimeoutMs} ms`);
      }, limits.stallTimeoutMs);
      stallTimer.unref();
    }
    if (client.connected) setImmediate(done, null, client);
    else waitForDrain.call(client, done);
  };
  stream.once('close', () => {
    drained();
    stream.removeListener('drain', drained);
  });
}

/**
 * mqemitter's queue drains by recursion: released → _do → _parallel → (no listener left, so at once)
 * released → … one level per queued message. This counts how deeply deliveries are nested in the
 * current call stack and, past MAX_SYNC_DELIVERY_DEPTH, starts the delivery from a fresh setImmediate
 * turn instead. The message keeps its slot meanwhile (_do counted it already), so later messages stay
 * queued behind it and the order mqemitter gives them is unchanged. This is the real fix for the
 * RangeError: a queue of any length drains with at most MAX_SYNC_DELIVERY_DEPTH deliveries nested.
 */
function iterativeDelivery(mq: EmitterInternals): void {
  const parallel = mq._parallel;
  if (typeof parallel !== 'function') {
    throw new TypeError('broker-guard: options.mq must be an mqemitter (7.x) instance or compatible');
  }
  let depth = 0;
  const deliver = (that: unknown, listeners: unknown[], message: unknown, done: () => void): void => {
    depth++;
    try {
      parallel.call(mq, that, listeners, message, done);
    } finally {
      depth--;
    }
  };
  mq._parallel = (that, listeners, message, done) => {
    if (depth < MAX_SYNC_DELIVERY_DEPTH) deliver(that, listeners, message, done);
    else setImmediate(deliver, that, listeners, message, done);
  };
}
