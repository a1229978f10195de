// Hand-written MQTT 3.1.1 CONNECT packets, for what real clients refuse to send
// (an empty client id with CleanSession=0) or to stop doing (keepalive pings).
import { once } from 'node:events';
import { createConnection, type Socket } from 'node:net';

const str = (s: string) => {
  const bytes = Buffer.from(s, 'utf8');
  return Buffer.concat([Buffer.from([bytes.length >> 8, bytes.length & 0xff]), bytes]);
};

/** CONNECT (§3.1): protocol "MQTT" level 4, the given flags, keepalive, then the payload fields. */
export function connectPacket(o: {
  clientId: string;
  username?: string;
  password?: string;
  keepalive: number;
  clean: boolean;
}): Buffer {
  const flags =
    (o.username !== undefined ? 0x80 : 0) | (o.password !== undefined ? 0x40 : 0) | (o.clean ? 0x02 : 0);
  const body = Buffer.concat([
    str('MQTT'),
    Buffer.from([4, flags, o.keepalive >> 8, o.keepalive & 0xff]),
    str(o.clientId),
    ...(o.username !== undefined ? [str(o.username)] : []),
    ...(o.password !== undefined ? [str(o.password)] : []),
  ]);
  if (body.length > 127) throw new Error('keep test CONNECT packets under 128 bytes');
  return Buffer.concat([Buffer.from([0x10, body.length]), body]);
}

/** Sends a CONNECT on a raw socket and resolves with the CONNACK return code (§3.2.2.3). */
export async function rawConnect(
  port: number,
  packet: Buffer,
): Promise<{ socket: Socket; returnCode: number }> {
  const socket = createConnection(port, '127.0.0.1');
  socket.write(packet);
  const [connack] = (await once(socket, 'data')) as [Buffer];
  if (connack[0] !== 0x20) throw new Error(`expected CONNACK, got packet type ${connack[0]! >> 4}`);
  return { socket, returnCode: connack[3]! };
}
