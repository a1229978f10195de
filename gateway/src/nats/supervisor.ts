// Supervises the embedded `nats-server -js` child: starts it on 127.0.0.1 with its
// store under <data>/nats, locked with the credentials in <data>/nats-auth
// (embedded-auth.ts), restarts it with backoff if it dies, stops it on exit.
// The first start may pick any free port; restarts reuse that port so that clients
// (ours and the platform's) reconnect to the same URL.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from '../log.js';
import { ensurePortFree } from '../ports.js';
import { findNatsServer } from './binary.js';
import { type EmbeddedAuth, prepareEmbeddedAuth } from './embedded-auth.js';

export interface SupervisorOptions {
  storeDir: string;
  /** operator, accounts and credentials (made at first start); unset: an open server (tests of the migration only) */
  authDir?: string | undefined;
  /** 0 = any free port */
  port: number;
  log: Logger;
  onRestart?: () => void;
  binary?: string;
}

const READY_TIMEOUT_MS = 20_000;
const MAX_BACKOFF_MS = 10_000;

export class NatsServerStartError extends Error {
  override name = 'NatsServerStartError';
}

export class NatsServerSupervisor {
  #child: ChildProcess | undefined;
  #port: number;
  #stopping = false;
  #backoffMs = 250;
  #auth: EmbeddedAuth | undefined;
  readonly #binary: string;

  private constructor(private readonly options: SupervisorOptions) {
    this.#port = options.port;
    this.#binary = options.binary ?? findNatsServer();
  }

  static async start(options: SupervisorOptions): Promise<NatsServerSupervisor> {
    const supervisor = new NatsServerSupervisor(options);
    await mkdir(options.storeDir, { recursive: true });
    await supervisor.#killOrphan();
    // a port held by another server is named with the option that moves it (nats-server
    // itself would only say so in its log)
    await ensurePortFree('natsPort', options.port, '127.0.0.1');
    // with the server stopped: a first locked start may move the store into its account
    if (options.authDir)
      supervisor.#auth = await prepareEmbeddedAuth(options.authDir, options.storeDir, options.log);
    await supervisor.#spawn();
    return supervisor;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.#port}`;
  }

  /** The credential to connect with (undefined for an open server). */
  get credsFile(): string | undefined {
    return this.#auth?.gatewayCreds;
  }

  /** The pid of the running server (tests kill it to prove the gateway recovers). */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Where the current URL is written, so `sentinel device …` finds a running gateway's store. */
  static urlFile(storeDir: string): string {
    return join(storeDir, 'url');
  }

  /** SIGTERM, and SIGKILL when it has not exited after `graceMs`. */
  async stop(graceMs = 3000): Promise<void> {
    this.#stopping = true;
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(killer);
    await rm(this.#pidFile, { force: true });
    await rm(NatsServerSupervisor.urlFile(this.options.storeDir), { force: true });
  }

  get #pidFile(): string {
    return join(this.options.storeDir, 'nats-server.pid');
  }

  /** A gateway killed with SIGKILL leaves its nats-server running on the store; end it. */
  async #killOrphan(): Promise<void> {
    const pid = Number.parseInt(await readFile(this.#pidFile, 'utf8').catch(() => ''), 10);
    if (!Number.isInteger(pid) || pid <= 0) return;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    const ours = [this.options.storeDir, this.options.authDir].some((p) => p && cmdline.includes(p));
    if (!cmdline.includes('nats-server') || !ours) return;
    // `pid` is the gateway's own (pino's base fields): the server's is another key
    this.options.log.warn({ nats_pid: pid }, 'stopping a nats-server left behind by a previous gateway run');
    process.kill(pid, 'SIGKILL');
    while (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')) await delay(20);
  }

  async #spawn(): Promise<void> {
    const { storeDir, log } = this.options;
    const listen = ['-a', '127.0.0.1', '-p', String(this.#port || -1)];
    // the config names the JetStream store itself (a second -sd would be a duplicate)
    const args = this.#auth ? ['-c', this.#auth.configFile, ...listen] : ['-js', ...listen, '-sd', storeDir];
    // its own process group: a Ctrl-C in the terminal reaches the gateway, which then
    // stops the server in order, instead of killing the server under it
    const child = spawn(this.#binary, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    this.#child = child;
    const lines = createInterface({ input: child.stderr! });
    const recent: string[] = [];
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new NatsServerStartError(`nats-server did not become ready in ${READY_TIMEOUT_MS} ms`)),
        READY_TIMEOUT_MS,
      );
      lines.on('line', (line) => {
        recent.push(line);
        if (recent.length > 20) recent.shift();
        if (line.includes('[ERR]') || line.includes('[FTL]')) log.warn({ nats: line }, 'nats-server');
        const listening = /Listening for client connections on [^\s]+:(\d+)/.exec(line);
        if (listening) this.#port = Number(listening[1]);
        if (line.includes('Server is ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(
          new NatsServerStartError(
            `nats-server exited (${signal ?? code}) while starting: ${recent.slice(-3).join(' | ')}`,
          ),
        );
      });
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(new NatsServerStartError(`cannot run ${this.#binary}: ${error.message}`, { cause: error }));
      });
    });
    await ready;
    await writeFile(this.#pidFile, String(child.pid));
    await writeFile(NatsServerSupervisor.urlFile(storeDir), this.url);
    log.info({ url: this.url, nats_pid: child.pid }, 'embedded nats-server ready');
    const startedAt = Date.now();
    child.once('exit', (code, signal) => {
      if (this.#stopping) return;
      if (Date.now() - startedAt > 30_000) this.#backoffMs = 250;
      log.error({ code, signal, restart_in_ms: this.#backoffMs }, 'embedded nats-server died; restarting');
      void this.#restart();
    });
  }

  async #restart(): Promise<void> {
    while (!this.#stopping) {
      await delay(this.#backoffMs);
      this.#backoffMs = Math.min(this.#backoffMs * 2, MAX_BACKOFF_MS);
      if (this.#stopping) return;
      try {
        await this.#spawn();
        this.options.onRestart?.();
        return;
      } catch (error) {
        this.options.log.error(
          { err: error, retry_in_ms: this.#backoffMs },
          'embedded nats-server failed to restart',
        );
      }
    }
  }
}
