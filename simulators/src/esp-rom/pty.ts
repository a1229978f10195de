// Puts a simulated chip behind a pseudo-terminal, using Debian's socat to own
// the pty: `socat PTY,link=<path>,rawer,wait-slave STDIO`. socat waits until a
// client opens the pty, relays until the client closes it, then exits; we start
// it again for the next client. Each opening is a reset into the ROM loader at
// 115200 baud with the flash kept (CONTRACT §5 `simulate esp-rom`), since a pty
// carries no DTR/RTS. Nor does it carry the baud rate: after CHANGE_BAUDRATE the
// host side simply follows the chip's new rate.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { diesWithParent, findExecutable, terminationSignal } from './pty-process.js';
import type { EspRomSimulator } from './simulator.js';

export class PtyHostError extends Error {
  override name = 'PtyHostError';
}

export interface PtyHostOptions {
  /** the symlink to create, pointing at the pty (e.g. /tmp/esp) */
  link: string;
  /** the socat executable (default: socat on PATH) */
  socat?: string;
}

export interface PtyHostEvents {
  /** the pty exists (again) and waits for a client */
  listening: [{ device: string }];
  /** a client opened it: the chip was reset into download mode */
  opened: [];
  /** the client closed it */
  closed: [];
  /** socat could not be started or could not create the pty */
  failed: [PtyHostError];
  /**
   * socat was ended by a signal that did not come from us (a service manager stopping
   * every process of the service, say): the host is stopping too, it is not a failure
   */
  terminated: [{ signal: NodeJS.Signals }];
}

export class PtyHost extends EventEmitter<PtyHostEvents> {
  private child: ChildProcessWithoutNullStreams | undefined;
  private stopping = false;
  private readonly unsubscribe: () => void;
  private connected = false;
  /** the /dev/pts/N the link points at while it exists */
  device: string | undefined;
  /** clients served so far */
  sessions = 0;

  constructor(
    private readonly sim: EspRomSimulator,
    private readonly options: PtyHostOptions,
  ) {
    super();
    this.unsubscribe = sim.onTransmit((bytes) => {
      if (this.connected && this.child?.stdin.writable) this.child.stdin.write(bytes);
    });
  }

  /** Starts socat; resolves once the pty link exists. */
  start(): Promise<{ device: string }> {
    return new Promise((resolve, reject) => {
      const onListening = (info: { device: string }) => {
        this.off('failed', onError);
        resolve(info);
      };
      const onError = (error: PtyHostError) => {
        this.off('listening', onListening);
        reject(error);
      };
      this.once('listening', onListening);
      this.once('failed', onError);
      this.spawnSocat();
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.unsubscribe();
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  }

  private spawnSocat(): void {
    const socat = findExecutable(this.options.socat ?? 'socat');
    if (!socat) {
      this.emit('failed', new PtyHostError('cannot run socat (install it: apt-get install socat)'));
      return;
    }
    const { command, args } = diesWithParent(
      socat,
      // pty-interval: how often socat polls for the client's open (default 1 s); a
      // board in download mode answers at once, so the first SYNC must not go unheard.
      ['-d', '-d', '-t', '0', `PTY,link=${this.options.link},rawer,wait-slave,pty-interval=0.005`, 'STDIO'],
    );
    // its own process group: see pty-process.ts
    const child = spawn(command, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    this.child = child;
    let log = '';
    child.on('error', (error: NodeJS.ErrnoException) => {
      const hint = error.code === 'ENOENT' ? ' (install it: apt-get install socat)' : '';
      this.emit('failed', new PtyHostError(`cannot run socat${hint}`, { cause: error }));
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (text: string) => {
      log += text;
      // socat -d -d logs "PTY is /dev/pts/N" once the pty exists, then
      // "starting data transfer loop" once a client has opened it (wait-slave).
      const pty = /PTY is (\S+)/.exec(log);
      if (pty && this.device !== pty[1]) {
        this.device = pty[1]!;
        this.emit('listening', { device: this.device });
      }
      if (!this.connected && log.includes('starting data transfer loop')) {
        this.connected = true;
        this.sessions++;
        // The host side of a pty has no baud rate of its own: it follows the chip
        // while a pty client is connected (RFC 2217 clients, which do carry a rate,
        // are held to theirs at other times).
        this.sim.setHostFollowsDeviceBaud(true);
        this.sim.resetIntoDownloadMode();
        this.emit('opened');
      }
    });
    child.stdout.on('data', (chunk: Buffer) => {
      if (this.connected) this.sim.receive(new Uint8Array(chunk));
    });
    child.stdin.on('error', () => {});
    child.on('exit', (code, signal) => {
      const wasConnected = this.connected;
      this.connected = false;
      this.device = undefined;
      if (wasConnected) {
        this.sim.setHostFollowsDeviceBaud(false);
        this.emit('closed');
      }
      if (this.stopping) return;
      const stoppedBy = terminationSignal(code, signal);
      if (stoppedBy) {
        // not a socat failure: whoever signalled it is stopping us as well
        this.stopping = true;
        this.emit('terminated', { signal: stoppedBy });
        return;
      }
      if (!wasConnected && code !== 0) {
        this.emit(
          'failed',
          new PtyHostError(`socat exited with status ${code}: ${log.trim().split('\n').pop()}`),
        );
        return;
      }
      this.spawnSocat();
    });
  }
}
