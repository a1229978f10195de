// An RFC 2217 ("Telnet Com Port Control Option") access server in front of a
// SerialDevice, so network serial clients (pyserial's rfc2217://, esptool)
// drive the simulated chip's DTR/RTS and baud rate as they would a real port.
//
// Implemented: telnet option negotiation (BINARY, SUPPRESS-GO-AHEAD and
// COM-PORT-OPTION accepted both ways, everything else refused), IAC escaping of
// data both ways, and the COM-PORT-OPTION subnegotiations of RFC 2217 §3:
// SIGNATURE, SET-BAUDRATE, SET-DATASIZE, SET-PARITY, SET-STOPSIZE, SET-CONTROL
// (flow control, BREAK, DTR and RTS on/off/query), NOTIFY-LINESTATE/MODEMSTATE
// (answered with the current state), FLOWCONTROL-SUSPEND/RESUME,
// SET-LINESTATE-MASK, SET-MODEMSTATE-MASK and PURGE-DATA. The server answers each
// with its "server" code (client code + 100). One client at a time; a second
// connection is refused while one is open. A client going away releases DTR and
// RTS, as closing a local port does.
//
// Line changes travel one SET-CONTROL at a time, and pyserial waits for each
// answer (≥ 50 ms), so the two halves of a reset that a local port applies
// together arrive far apart — further apart than an ESP board's EN RC delay.
// Espressif's own esp_rfc2217_server.py therefore replays the reset itself. Here
// the lines still travel, but the release of EN is held back for `releaseHoldMs`
// and then applied together with whatever changed meanwhile, as one local
// TIOCMSET would: esptool's classic sequence (DTR on, RTS off, …) reaches
// download mode, a hard reset (RTS on, RTS off with DTR off) boots the app.

import { createServer, type Server, type Socket } from 'node:net';
import { pinsFor, type SerialSignals } from './reset-circuit.js';
import type { SerialDevice } from './simulator.js';

// RFC 854 telnet commands and RFC 855/856/858 options
const IAC = 255;
const DONT = 254;
const DO = 253;
const WONT = 252;
const WILL = 251;
const SB = 250;
const SE = 240;
const BINARY = 0;
const SGA = 3;
const COM_PORT_OPTION = 44;
const ACCEPTED = new Set([BINARY, SGA, COM_PORT_OPTION]);

// RFC 2217 §3 client → server commands (the server answers with +100)
const SIGNATURE = 0;
const SET_BAUDRATE = 1;
const SET_DATASIZE = 2;
const SET_PARITY = 3;
const SET_STOPSIZE = 4;
const SET_CONTROL = 5;
const NOTIFY_LINESTATE = 6;
const NOTIFY_MODEMSTATE = 7;
const FLOWCONTROL_SUSPEND = 8;
const FLOWCONTROL_RESUME = 9;
const SET_LINESTATE_MASK = 10;
const SET_MODEMSTATE_MASK = 11;
const PURGE_DATA = 12;
const SERVER_OFFSET = 100;

// SET-CONTROL values (RFC 2217 §3, "SET-CONTROL")
const CONTROL_FLOW_QUERY = 0;
const CONTROL_BREAK_QUERY = 4;
const CONTROL_BREAK_ON = 5;
const CONTROL_BREAK_OFF = 6;
const CONTROL_DTR_QUERY = 7;
const CONTROL_DTR_ON = 8;
const CONTROL_DTR_OFF = 9;
const CONTROL_RTS_QUERY = 10;
const CONTROL_RTS_ON = 11;
const CONTROL_RTS_OFF = 12;
const CONTROL_NO_FLOW = 1;

/** MODEMSTATE bits: carrier detect, DSR and CTS read as present, as a USB-UART bridge reports them */
const MODEM_STATE = 0x80 | 0x20 | 0x10;

export interface Rfc2217Options {
  host?: string;
  /** 0 = any free port */
  port?: number;
  /** what SIGNATURE answers */
  signature?: string;
  /** how long a release of EN waits for the client's next line changes (default 150 ms) */
  releaseHoldMs?: number;
}

export interface Rfc2217Stats {
  connections: number;
  refused: number;
  /** subnegotiations that were malformed or unknown (answered as far as possible, otherwise ignored) */
  badSubnegotiations: number;
}

export interface Rfc2217Server {
  readonly port: number;
  readonly stats: Rfc2217Stats;
  close(): Promise<void>;
}

export async function serveRfc2217(
  device: SerialDevice,
  options: Rfc2217Options = {},
): Promise<Rfc2217Server> {
  const stats: Rfc2217Stats = { connections: 0, refused: 0, badSubnegotiations: 0 };
  let active: Socket | undefined;
  const server: Server = createServer((socket) => {
    if (active) {
      stats.refused++;
      socket.destroy();
      return;
    }
    active = socket;
    stats.connections++;
    const session = new Rfc2217Session(
      device,
      socket,
      options.signature ?? 'sentinel esp-rom simulator',
      stats,
      options.releaseHoldMs ?? 150,
    );
    socket.on('close', () => {
      session.close();
      if (active === socket) active = undefined;
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    stats,
    close: () =>
      new Promise<void>((resolve) => {
        active?.destroy();
        server.close(() => resolve());
      }),
  };
}

type ParseState = 'data' | 'iac' | 'option' | 'sb' | 'sb-iac';

class Rfc2217Session {
  private state: ParseState = 'data';
  private pendingCommand = 0;
  private subnegotiation: number[] = [];
  private readonly weEnabled = new Set<number>();
  private readonly theyEnabled = new Set<number>();
  /** the lines as the client set them */
  private lines: SerialSignals = { dtr: false, rts: false };
  /** the lines as the device last saw them */
  private applied: SerialSignals = { dtr: false, rts: false };
  private holding: NodeJS.Timeout | undefined;
  private baud = 115200;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly device: SerialDevice,
    private readonly socket: Socket,
    private readonly signature: string,
    private readonly stats: Rfc2217Stats,
    private readonly releaseHoldMs: number,
  ) {
    socket.setNoDelay(true);
    this.unsubscribe = device.onTransmit((bytes) => this.sendData(bytes));
    socket.on('data', (chunk: Buffer) => this.onBytes(chunk));
    socket.on('error', () => socket.destroy());
    // Ask for binary both ways; the client's own requests are answered as they come.
    this.sendOption(WILL, BINARY);
    this.sendOption(DO, BINARY);
  }

  close(): void {
    clearTimeout(this.holding);
    this.unsubscribe();
    // Closing a port drops DTR and RTS (HUPCL).
    this.device.setSignals({ dtr: false, rts: false });
  }

  private write(bytes: number[] | Uint8Array): void {
    if (!this.socket.destroyed) this.socket.write(Uint8Array.from(bytes));
  }

  /** Serial data to the client, IAC doubled. */
  private sendData(bytes: Uint8Array): void {
    let escapes = 0;
    for (const byte of bytes) if (byte === IAC) escapes++;
    if (escapes === 0) {
      this.write(bytes);
      return;
    }
    const out = new Uint8Array(bytes.length + escapes);
    let j = 0;
    for (const byte of bytes) {
      out[j++] = byte;
      if (byte === IAC) out[j++] = IAC;
    }
    this.write(out);
  }

  private sendOption(command: number, option: number): void {
    if (command === WILL) this.weEnabled.add(option);
    if (command === DO) this.theyEnabled.add(option);
    this.write([IAC, command, option]);
  }

  private sendSubnegotiation(command: number, value: number[]): void {
    const escaped: number[] = [];
    for (const byte of value) {
      escaped.push(byte);
      if (byte === IAC) escaped.push(IAC);
    }
    this.write([IAC, SB, COM_PORT_OPTION, command + SERVER_OFFSET, ...escaped, IAC, SE]);
  }

  private onBytes(chunk: Uint8Array): void {
    const data: number[] = [];
    for (const byte of chunk) {
      switch (this.state) {
        case 'data':
          if (byte === IAC) this.state = 'iac';
          else data.push(byte);
          break;
        case 'iac':
          if (byte === IAC) {
            data.push(IAC);
            this.state = 'data';
          } else if (byte === WILL || byte === WONT || byte === DO || byte === DONT) {
            this.pendingCommand = byte;
            this.state = 'option';
          } else if (byte === SB) {
            this.subnegotiation = [];
            this.state = 'sb';
          } else {
            // NOP, GA, AYT…: nothing to do for a serial port
            this.state = 'data';
          }
          break;
        case 'option':
          this.negotiate(this.pendingCommand, byte);
          this.state = 'data';
          break;
        case 'sb':
          if (byte === IAC) this.state = 'sb-iac';
          else this.subnegotiation.push(byte);
          break;
        case 'sb-iac':
          if (byte === IAC) {
            this.subnegotiation.push(IAC);
            this.state = 'sb';
          } else {
            // IAC SE ends it (anything else after IAC also ends a broken one)
            this.onSubnegotiation(this.subnegotiation);
            this.state = 'data';
          }
          break;
      }
    }
    if (data.length > 0) this.device.receive(Uint8Array.from(data));
  }

  /** RFC 854 option negotiation, without loops: only state changes are answered. */
  private negotiate(command: number, option: number): void {
    switch (command) {
      case WILL:
        if (!ACCEPTED.has(option)) this.write([IAC, DONT, option]);
        else if (!this.theyEnabled.has(option)) this.sendOption(DO, option);
        break;
      case DO:
        if (!ACCEPTED.has(option)) this.write([IAC, WONT, option]);
        else if (!this.weEnabled.has(option)) this.sendOption(WILL, option);
        break;
      case WONT:
        if (this.theyEnabled.delete(option)) this.write([IAC, DONT, option]);
        break;
      case DONT:
        if (this.weEnabled.delete(option)) this.write([IAC, WONT, option]);
        break;
    }
  }

  private onSubnegotiation(bytes: number[]): void {
    if (bytes[0] !== COM_PORT_OPTION || bytes.length < 2) {
      this.stats.badSubnegotiations++;
      return;
    }
    const command = bytes[1]!;
    const value = bytes.slice(2);
    switch (command) {
      case SIGNATURE:
        this.sendSubnegotiation(SIGNATURE, [...new TextEncoder().encode(this.signature)]);
        return;
      case SET_BAUDRATE: {
        if (value.length !== 4) break;
        const requested = ((value[0]! << 24) | (value[1]! << 16) | (value[2]! << 8) | value[3]!) >>> 0;
        // 0 asks for the current rate
        if (requested !== 0) {
          this.baud = requested;
          this.device.setBaudRate(requested);
        }
        const b = this.baud;
        this.sendSubnegotiation(SET_BAUDRATE, [
          (b >>> 24) & 0xff,
          (b >>> 16) & 0xff,
          (b >>> 8) & 0xff,
          b & 0xff,
        ]);
        return;
      }
      case SET_DATASIZE:
      case SET_PARITY:
      case SET_STOPSIZE:
        if (value.length !== 1) break;
        // The simulated UART is 8N1 whatever is asked; a query (0) gets 8 / NONE (1) / 1 (1).
        this.sendSubnegotiation(command, [value[0] === 0 ? (command === SET_DATASIZE ? 8 : 1) : value[0]!]);
        return;
      case SET_CONTROL:
        if (value.length !== 1) break;
        this.sendSubnegotiation(SET_CONTROL, [this.control(value[0]!)]);
        return;
      case NOTIFY_LINESTATE:
        this.sendSubnegotiation(NOTIFY_LINESTATE, [0]);
        return;
      case NOTIFY_MODEMSTATE:
        this.sendSubnegotiation(NOTIFY_MODEMSTATE, [MODEM_STATE]);
        return;
      case FLOWCONTROL_SUSPEND:
      case FLOWCONTROL_RESUME:
        this.sendSubnegotiation(command, []);
        return;
      case SET_LINESTATE_MASK:
      case SET_MODEMSTATE_MASK:
      case PURGE_DATA:
        if (value.length !== 1) break;
        this.sendSubnegotiation(command, value);
        return;
      default:
        break;
    }
    this.stats.badSubnegotiations++;
  }

  private setLines(lines: SerialSignals): void {
    this.lines = lines;
    if (this.holding) return; // applied together when the hold ends
    const releasing = !pinsFor(this.applied).en && pinsFor(lines).en;
    if (!releasing) {
      this.apply();
      return;
    }
    this.holding = setTimeout(() => {
      this.holding = undefined;
      this.apply();
    }, this.releaseHoldMs);
  }

  private apply(): void {
    this.applied = { ...this.lines };
    this.device.setSignals(this.applied);
  }

  /** SET-CONTROL: changes DTR/RTS (the reset circuit sees them at once) and answers the state. */
  private control(value: number): number {
    switch (value) {
      case CONTROL_DTR_ON:
      case CONTROL_DTR_OFF:
        this.setLines({ ...this.lines, dtr: value === CONTROL_DTR_ON });
        return value;
      case CONTROL_RTS_ON:
      case CONTROL_RTS_OFF:
        this.setLines({ ...this.lines, rts: value === CONTROL_RTS_ON });
        return value;
      case CONTROL_DTR_QUERY:
        return this.lines.dtr ? CONTROL_DTR_ON : CONTROL_DTR_OFF;
      case CONTROL_RTS_QUERY:
        return this.lines.rts ? CONTROL_RTS_ON : CONTROL_RTS_OFF;
      case CONTROL_FLOW_QUERY:
        return CONTROL_NO_FLOW;
      case CONTROL_BREAK_QUERY:
        return CONTROL_BREAK_OFF;
      case CONTROL_BREAK_ON:
      case CONTROL_BREAK_OFF:
        return value;
      default:
        // flow control settings: accepted as asked, the simulated line has no handshake
        return value;
    }
  }
}
