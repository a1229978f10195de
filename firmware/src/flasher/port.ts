// The one serial-port interface the flasher drives. It is the shape of a Web Serial
// `SerialPort` (WICG Web Serial §4), because that is what esptool-js's Transport calls:
// open({baudRate}), readable/writable streams, setSignals({dataTerminalReady,
// requestToSend}), close(), getInfo(). A browser's `navigator.serial` port already is
// one; Node and the in-memory simulator get one from `LinkPort` below.

import { PortError } from './errors.js';

export interface SerialSignals {
  dataTerminalReady?: boolean;
  requestToSend?: boolean;
  break?: boolean;
}

export interface FlasherPort {
  open(options: { baudRate: number }): Promise<void>;
  close(): Promise<void>;
  readonly readable: ReadableStream<Uint8Array> | null;
  readonly writable: WritableStream<Uint8Array> | null;
  setSignals(signals: SerialSignals): Promise<void>;
  getInfo(): { usbVendorId?: number; usbProductId?: number };
  /**
   * Optional: change the line rate without closing the port. esptool-js's Transport uses
   * it when present instead of close + reopen, which matters where reopening resets the
   * board (a simulator behind a pty treats every open as a reset).
   */
  setBaudRate?(baud: number): Promise<void>;
}

/** What a byte link reports to its port: data from the device, or its end. */
export interface LinkSink {
  data(bytes: Uint8Array): void;
  /** the link ended on its own: `kind` says whether it vanished or was closed */
  end(error: PortError): void;
}

/**
 * The small byte-level backend a `LinkPort` turns into Web Serial streams: a Node serial
 * port, a WebSocket bridge, or a simulator in memory.
 */
export interface ByteLink {
  open(baud: number, sink: LinkSink): Promise<void>;
  write(bytes: Uint8Array): Promise<void>;
  setSignals(signals: { dtr?: boolean; rts?: boolean }): Promise<void>;
  setBaudRate(baud: number): Promise<void>;
  close(): Promise<void>;
  info?(): { usbVendorId?: number; usbProductId?: number };
}

/** A Web-Serial-shaped port over a ByteLink. */
export class LinkPort implements FlasherPort {
  readable: ReadableStream<Uint8Array> | null = null;
  writable: WritableStream<Uint8Array> | null = null;
  /** Why the link ended on its own (vanished, closed), if it did: the flasher names it. */
  failure: PortError | undefined;
  private readController: ReadableStreamDefaultController<Uint8Array> | undefined;
  private writeController: WritableStreamDefaultController | undefined;
  private opened = false;

  constructor(private readonly link: ByteLink) {}

  async open(options: { baudRate: number }): Promise<void> {
    if (this.opened) throw new PortError('busy', 'the port is already open');
    this.failure = undefined;
    await this.link.open(options.baudRate, {
      data: (bytes) => this.readController?.enqueue(bytes),
      end: (error) => this.fail(error),
    });
    this.opened = true;
    this.readable = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.readController = controller;
      },
      cancel: () => {
        this.readController = undefined;
      },
    });
    this.writable = new WritableStream<Uint8Array>({
      start: (controller) => {
        this.writeController = controller;
      },
      write: async (chunk) => {
        if (this.failure) throw this.failure;
        await this.link.write(chunk);
      },
    });
  }

  async setSignals(signals: SerialSignals): Promise<void> {
    if (!this.opened) throw new PortError('closed', 'the port is not open');
    const lines: { dtr?: boolean; rts?: boolean } = {};
    if (signals.dataTerminalReady !== undefined) lines.dtr = signals.dataTerminalReady;
    if (signals.requestToSend !== undefined) lines.rts = signals.requestToSend;
    if (lines.dtr !== undefined || lines.rts !== undefined) await this.link.setSignals(lines);
  }

  async setBaudRate(baud: number): Promise<void> {
    await this.link.setBaudRate(baud);
  }

  getInfo(): { usbVendorId?: number; usbProductId?: number } {
    return this.link.info?.() ?? {};
  }

  async close(): Promise<void> {
    if (!this.opened) return;
    this.opened = false;
    this.detachStreams();
    await this.link.close();
  }

  private fail(error: PortError): void {
    this.failure ??= error;
    try {
      this.readController?.error(error);
    } catch {
      // already closed or cancelled
    }
    this.writeController?.error(error);
  }

  private detachStreams(): void {
    try {
      this.readController?.close();
    } catch {
      // cancelled by the reader already
    }
    this.readController = undefined;
    this.writeController = undefined;
    this.readable = null;
    this.writable = null;
  }
}
