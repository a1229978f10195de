// A Web-Serial-shaped port over @serialport/bindings-cpp, for the flasher in Node.
// A pseudo-terminal carries no modem lines: setting DTR/RTS there fails with an ioctl
// error, which is tolerated (reported once through `onNotice`) — the simulator behind a
// pty treats each opening as a reset into download mode instead.

import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { type ByteLink, LinkPort, type LinkSink, PortError } from '@sentinel/firmware';
import { autoDetect, type BindingPortInterface } from '@serialport/bindings-cpp';

export interface NodePortOptions {
  /** told once when the port cannot carry DTR/RTS (a pty) */
  onNotice?: (message: string) => void;
}

class NodeSerialLink implements ByteLink {
  private port: BindingPortInterface | undefined;
  private closing = false;
  private lines = { dtr: false, rts: false };
  private signalsUnsupported = false;

  constructor(
    private readonly path: string,
    private readonly options: NodePortOptions,
  ) {}

  async open(baud: number, sink: LinkSink): Promise<void> {
    await this.checkPath();
    try {
      // hupcl off: closing must not drop DTR and reset a board between two runs
      this.port = await autoDetect().open({ path: this.path, baudRate: baud, lock: true, hupcl: false });
    } catch (error) {
      throw new PortError('busy', `cannot open ${this.path}: ${(error as Error).message}`, { cause: error });
    }
    this.closing = false;
    void this.readLoop(this.port, sink);
  }

  private async checkPath(): Promise<void> {
    try {
      await stat(this.path);
    } catch (error) {
      throw new PortError('not_found', `no serial port at ${this.path}`, { cause: error });
    }
    try {
      await access(this.path, constants.R_OK | constants.W_OK);
    } catch (error) {
      throw new PortError('busy', `no permission to open ${this.path} (on Linux: join the dialout group)`, {
        cause: error,
      });
    }
  }

  private async readLoop(port: BindingPortInterface, sink: LinkSink): Promise<void> {
    const buffer = Buffer.alloc(64 * 1024);
    for (;;) {
      try {
        const { bytesRead } = await port.read(buffer, 0, buffer.length);
        sink.data(Uint8Array.prototype.slice.call(buffer, 0, bytesRead));
      } catch (error) {
        if (this.closing || (error as { canceled?: boolean }).canceled) return;
        // EIO/ENXIO: the device went away (USB unplugged, re-enumerated, the pty's other end closed)
        sink.end(
          new PortError('vanished', `${this.path} disappeared: ${(error as Error).message}`, {
            cause: error,
          }),
        );
        return;
      }
    }
  }

  async write(bytes: Uint8Array): Promise<void> {
    if (!this.port?.isOpen) throw new PortError('closed', `${this.path} is closed`);
    try {
      await this.port.write(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    } catch (error) {
      throw new PortError('vanished', `writing to ${this.path} failed: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  async setSignals(signals: { dtr?: boolean; rts?: boolean }): Promise<void> {
    // the binding sets all lines at once: keep the one that was not named
    this.lines = { ...this.lines, ...signals };
    if (this.signalsUnsupported || !this.port) return;
    try {
      await this.port.set({ dtr: this.lines.dtr, rts: this.lines.rts });
    } catch (error) {
      this.signalsUnsupported = true;
      this.options.onNotice?.(
        `${this.path} cannot set DTR/RTS (${(error as Error).message}); continuing without reset lines`,
      );
    }
  }

  async setBaudRate(baud: number): Promise<void> {
    if (!this.port) throw new PortError('closed', `${this.path} is closed`);
    await this.port.update({ baudRate: baud });
  }

  async close(): Promise<void> {
    const port = this.port;
    this.port = undefined;
    this.closing = true;
    if (port?.isOpen) await port.close().catch(() => {});
  }
}

/** A FlasherPort for a serial device path (/dev/ttyUSB0, COM3, a pty link). */
export function openNodeSerialPort(path: string, options: NodePortOptions = {}): LinkPort {
  return new LinkPort(new NodeSerialLink(path, options));
}
