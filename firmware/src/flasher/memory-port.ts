// A port wired straight to an in-memory serial device (the ESP ROM simulator), so
// flasher tests and benchmarks run without a pty. The device side is structural
// (`SerialDeviceLike`): firmware does not import the simulators package.

import { PortError } from './errors.js';
import { type ByteLink, LinkPort, type LinkSink } from './port.js';

/** The device side of a serial line, as the simulators implement it. */
export interface SerialDeviceLike {
  receive(bytes: Uint8Array): void;
  onTransmit(listener: (bytes: Uint8Array) => void): () => void;
  setSignals(signals: { dtr?: boolean; rts?: boolean }): void;
  setBaudRate(baud: number): void;
}

class MemoryLink implements ByteLink {
  private unsubscribe: (() => void) | undefined;
  private sink: LinkSink | undefined;

  constructor(private readonly device: SerialDeviceLike) {}

  async open(baud: number, sink: LinkSink): Promise<void> {
    this.sink = sink;
    this.device.setBaudRate(baud);
    // copies: the device may reuse its buffers, the stream keeps what it is given
    this.unsubscribe = this.device.onTransmit((bytes) => sink.data(Uint8Array.from(bytes)));
  }

  async write(bytes: Uint8Array): Promise<void> {
    if (!this.sink) throw new PortError('closed', 'the port is closed');
    this.device.receive(bytes);
  }

  async setSignals(signals: { dtr?: boolean; rts?: boolean }): Promise<void> {
    this.device.setSignals(signals);
  }

  async setBaudRate(baud: number): Promise<void> {
    this.device.setBaudRate(baud);
  }

  async close(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.sink = undefined;
  }

  /** Ends the line as if the cable were pulled (tests of "port closed mid-write"). */
  cut(kind: 'closed' | 'vanished'): void {
    const sink = this.sink;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.sink = undefined;
    sink?.end(
      new PortError(kind, kind === 'closed' ? 'the serial port was closed' : 'the serial port vanished'),
    );
  }
}

export class MemoryPort extends LinkPort {
  private readonly memoryLink: MemoryLink;
  constructor(device: SerialDeviceLike) {
    const link = new MemoryLink(device);
    super(link);
    this.memoryLink = link;
  }

  /** Ends the line from outside, as a pulled cable or another program closing it would. */
  cut(kind: 'closed' | 'vanished' = 'closed'): void {
    this.memoryLink.cut(kind);
  }
}
