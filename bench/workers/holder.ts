// Idle connection holder: opens thousands of authenticated MQTT 3.1.1
// connections and keeps them idle (a PINGREQ within every keepalive), so the
// broker's memory per connection can be measured from outside.
//
// It speaks the few packets it needs itself instead of using MQTT.js: the
// broker sees exactly the bytes a device would send, while this process stays
// small enough to hold 5,000+ sockets (an MQTT.js client costs tens of KiB).
import { connect, type Socket } from 'node:net';
import { connectPacket } from '../../test/support/mqtt-raw.js';
import { serveRequests } from '../lib/ipc.js';
import type { DeviceCredentials, HolderReply, HolderRequest } from '../lib/protocol.js';

const CONNACK_TIMEOUT_MS = 15_000;
const PINGREQ = Buffer.from([0xc0, 0x00]); // [MQTT-3.12] fixed header only

/**
 * CONNECT as a picket device sends it (CONTRACT §4): client id = username = id,
 * password = token, clean session, last will `offline` retained on `picket/<id>/status`.
 */
function devicePacket(device: DeviceCredentials, keepaliveSeconds: number): Buffer {
  return connectPacket({
    clientId: device.id,
    clean: true,
    keepaliveSeconds,
    username: device.id,
    ...(device.password === undefined ? {} : { password: device.password }),
    will: { topic: `picket/${device.id}/status`, payload: 'offline', retain: true },
  });
}

type Outcome = { kind: 'connected'; socket: Socket } | { kind: 'refused' | 'failed'; reason: string };

function open(port: number, device: DeviceCredentials, keepaliveS: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let buffered = Buffer.alloc(0);
    let settled = false;
    const settle = (outcome: Outcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.removeListener('data', onData);
      if (outcome.kind !== 'connected') socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(
      () => settle({ kind: 'failed', reason: 'no CONNACK in time' }),
      CONNACK_TIMEOUT_MS,
    );
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length < 4) return;
      // CONNACK [MQTT-3.2]: 0x20, remaining length 2, session present, return code
      if (buffered[0] !== 0x20)
        return settle({ kind: 'failed', reason: `unexpected packet 0x${buffered[0]!.toString(16)}` });
      const code = buffered[3]!;
      if (code === 0) settle({ kind: 'connected', socket });
      else settle({ kind: 'refused', reason: `CONNACK return code ${code}` });
    };
    socket.on('data', onData);
    socket.on('error', (error) => settle({ kind: 'failed', reason: error.message }));
    socket.on('close', () => settle({ kind: 'failed', reason: 'closed before CONNACK' }));
    socket.on('connect', () => socket.write(devicePacket(device, keepaliveS)));
  });
}

let held = new Set<Socket>();
let dropped = 0;
let pingTimer: NodeJS.Timeout | undefined;

async function hold(request: Extract<HolderRequest, { type: 'hold' }>): Promise<HolderReply> {
  const deadline = Date.now() + request.timeoutMs;
  let next = 0;
  let refused = 0;
  let failed = 0;
  let firstError: string | undefined;
  const worker = async () => {
    while (next < request.devices.length) {
      const device = request.devices[next++]!;
      if (Date.now() > deadline) {
        failed += 1;
        firstError ??= `gave up after ${request.timeoutMs} ms`;
        continue;
      }
      const outcome = await open(request.port, device, request.keepaliveS);
      if (outcome.kind === 'connected') {
        const socket = outcome.socket;
        socket.on('data', () => undefined); // PINGRESP and anything else: ignored
        socket.on('error', () => undefined);
        socket.once('close', () => {
          if (held.has(socket)) dropped += 1;
        });
        held.add(socket);
      } else {
        if (outcome.kind === 'refused') refused += 1;
        else failed += 1;
        firstError ??= `${device.id}: ${outcome.reason}`;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, request.concurrency) }, worker));
  clearInterval(pingTimer);
  // a PINGREQ every half keepalive keeps the broker from closing idle connections [MQTT-3.1.2-24]
  pingTimer = setInterval(
    () => {
      for (const socket of held) if (!socket.destroyed) socket.write(PINGREQ);
    },
    (request.keepaliveS * 1000) / 2,
  );
  return { type: 'holding', connected: held.size, refused, failed, firstError };
}

function release(): HolderReply {
  clearInterval(pingTimer);
  const sockets = held;
  held = new Set();
  // RST instead of FIN: no TIME_WAIT pile-up across repeated runs
  for (const socket of sockets) socket.resetAndDestroy();
  const droppedWhileHeld = dropped;
  dropped = 0;
  return { type: 'released', droppedWhileHeld };
}

serveRequests<HolderRequest, HolderReply>(async (request) => {
  switch (request.type) {
    case 'hold':
      return hold(request);
    case 'release':
      return release();
  }
});
