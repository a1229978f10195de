// The WebSocket bridge to a simulated chip, for browsers (a navigator.serial
// shim) and other hosts that cannot open a pty. Protocol, per connection:
//
//   binary frame, either way  serial bytes (host → chip, chip → host)
//   text frame, host → chip   a JSON control message:
//       {"type":"signals","dtr":true,"rts":false}   line states (true = asserted); either may be left out
//       {"type":"baud","baud":921600}               the host UART's rate
//   text frame, chip → host   {"type":"error","error":"…"} for a control message it could not use
//
// One host at a time: a second connection is closed with 1013 (try again later).
// A host going away releases DTR and RTS, as closing a local port does.
import type { AddressInfo } from 'node:net';
import { type RawData, WebSocketServer } from 'ws';
import { z } from 'zod';
import type { SerialDevice } from './simulator.js';

export const WsControlSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('signals'), dtr: z.boolean().optional(), rts: z.boolean().optional() }).strict(),
  z.object({ type: z.literal('baud'), baud: z.number().int().min(300).max(10_000_000) }).strict(),
]);
export type WsControl = z.infer<typeof WsControlSchema>;

export interface WsBridgeOptions {
  host?: string;
  /** 0 = any free port */
  port?: number;
}

export interface WsBridgeStats {
  connections: number;
  refused: number;
  /** control messages that were not JSON or did not match the schema */
  badControlMessages: number;
}

export interface WsBridge {
  readonly port: number;
  /** ws://host:port/ */
  readonly url: string;
  readonly stats: WsBridgeStats;
  close(): Promise<void>;
}

export async function serveEspRomOverWebSocket(
  device: SerialDevice,
  options: WsBridgeOptions = {},
): Promise<WsBridge> {
  const host = options.host ?? '127.0.0.1';
  const stats: WsBridgeStats = { connections: 0, refused: 0, badControlMessages: 0 };
  const wss = new WebSocketServer({ host, port: options.port ?? 0 });
  await new Promise<void>((resolve, reject) => {
    wss.once('error', reject);
    wss.once('listening', () => {
      wss.off('error', reject);
      resolve();
    });
  });
  let busy = false;
  wss.on('connection', (socket) => {
    if (busy) {
      stats.refused++;
      socket.close(1013, 'another host is connected');
      return;
    }
    busy = true;
    stats.connections++;
    const unsubscribe = device.onTransmit((bytes) => {
      if (socket.readyState === socket.OPEN) socket.send(bytes, { binary: true });
    });
    socket.on('message', (data: RawData, isBinary: boolean) => {
      const bytes = toBytes(data);
      if (isBinary) {
        device.receive(bytes);
        return;
      }
      const control = parseControl(new TextDecoder().decode(bytes));
      if (!control.ok) {
        stats.badControlMessages++;
        socket.send(JSON.stringify({ type: 'error', error: control.error }));
        return;
      }
      if (control.value.type === 'signals')
        device.setSignals({ dtr: control.value.dtr, rts: control.value.rts });
      else device.setBaudRate(control.value.baud);
    });
    socket.on('close', () => {
      unsubscribe();
      busy = false;
      device.setSignals({ dtr: false, rts: false });
    });
    socket.on('error', () => socket.terminate());
  });
  const port = (wss.address() as AddressInfo).port;
  return {
    port,
    url: `ws://${host.includes(':') ? `[${host}]` : host}:${port}/`,
    stats,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close(() => resolve());
      }),
  };
}

function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return new Uint8Array(Buffer.concat(data));
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function parseControl(text: string): { ok: true; value: WsControl } | { ok: false; error: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, error: 'control message is not JSON' };
  }
  const parsed = WsControlSchema.safeParse(json);
  if (!parsed.success) {
    return {
      ok: false,
      error: parsed.error.issues.map((i) => `${i.path.join('.') || 'message'}: ${i.message}`).join('; '),
    };
  }
  return { ok: true, value: parsed.data };
}
