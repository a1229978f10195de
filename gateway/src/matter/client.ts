// A client of the matter server's WebSocket API (python-matter-server / matterjs-server,
// and our bridges/matter): ServerInfo on connect, {message_id, command, args} answered by
// {message_id, result} or {message_id, error_code, details}, and {event, data} after
// start_listening. Every message is validated; one that does not fit is reported with a
// reason and dropped, and the connection carries on.
import { EventEmitter } from 'node:events';
import { parseMatterJson, stringifyMatterJson } from '@sentinel/protocol';
import WebSocket from 'ws';
import { z } from 'zod';

/** The schema version we speak (matterjs-server's today); servers older than 11 lack what we use. */
export const CLIENT_SCHEMA_VERSION = 13;
const OLDEST_SERVER_SCHEMA = 11;

const id64 = z.union([z.number().int().nonnegative(), z.bigint().nonnegative()]).transform((v) => BigInt(v));

export const ServerInfoSchema = z.looseObject({
  fabric_id: id64,
  compressed_fabric_id: id64,
  schema_version: z.number().int(),
  min_supported_schema_version: z.number().int(),
  sdk_version: z.string().optional(),
});
export type MatterServerInfo = z.infer<typeof ServerInfoSchema>;

const ResultSchema = z.looseObject({ message_id: z.string(), result: z.unknown() });
const ErrorSchema = z.looseObject({
  message_id: z.string(),
  error_code: z.number().int(),
  details: z.string().nullish(),
});
const EventSchema = z.looseObject({ event: z.string().min(1), data: z.unknown() });

/** The server answered a command with an error. */
export class MatterApiError extends Error {
  override name = 'MatterApiError';
  constructor(
    readonly code: number,
    readonly details: string,
    readonly command: string,
  ) {
    super(`${command}: ${details || 'failed'} (matter server error ${code})`);
  }
}

/** No answer: the connection closed, or the answer did not come in time. */
export class MatterConnectionError extends Error {
  override name = 'MatterConnectionError';
  constructor(
    message: string,
    readonly reason: 'closed' | 'timeout' | 'cannot_connect' | 'version_mismatch' | 'bad_server_info',
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Why a message from the server was dropped (the `reason` label of the counter). */
export type MatterMessageProblem = 'malformed_json' | 'schema_invalid' | 'unknown_message_id';

export interface MatterClientEvents {
  event: [name: string, data: unknown];
  /** a message was dropped */
  problem: [reason: MatterMessageProblem, detail: string];
  close: [];
}

export interface MatterClientOptions {
  /** how long to wait for the socket and ServerInfo (default 10 s) */
  connectTimeoutMs?: number;
  /** a ping every this often; no pong by the next one ends the connection (default 30 s) */
  pingMs?: number;
}

interface Pending {
  command: string;
  resolve(result: unknown): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

export class MatterApiClient extends EventEmitter<MatterClientEvents> {
  readonly #socket: WebSocket;
  readonly #pending = new Map<string, Pending>();
  #next = 0;
  #closed = false;
  #pingTimer: NodeJS.Timeout | undefined;

  private constructor(
    socket: WebSocket,
    readonly url: string,
    readonly serverInfo: MatterServerInfo,
  ) {
    super();
    this.#socket = socket;
  }

  /** Connects and resolves once the server's ServerInfo has arrived and fits. */
  static connect(url: string, options: MatterClientOptions = {}): Promise<MatterApiClient> {
    const timeoutMs = options.connectTimeoutMs ?? 10_000;
    return new Promise((resolve, reject) => {
      // a node's attributes come in one message; the matter server caps nothing, we cap at 64 MiB
      const socket = new WebSocket(url, { handshakeTimeout: timeoutMs, maxPayload: 64 << 20 });
      let settled = false;
      const fail = (error: MatterConnectionError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.removeAllListeners('message');
        socket.terminate();
        reject(error);
      };
      const timer = setTimeout(
        () => fail(new MatterConnectionError(`no ServerInfo from ${url} in time`, 'timeout')),
        timeoutMs,
      );
      socket.on('error', (error) =>
        fail(
          new MatterConnectionError(`cannot connect to ${url}: ${error.message}`, 'cannot_connect', {
            cause: error,
          }),
        ),
      );
      socket.on('close', () => fail(new MatterConnectionError(`${url} closed before ServerInfo`, 'closed')));
      socket.once('message', (data) => {
        let info: MatterServerInfo;
        try {
          info = ServerInfoSchema.parse(parseMatterJson(data.toString()));
        } catch (error) {
          fail(
            new MatterConnectionError(`${url} sent no valid ServerInfo`, 'bad_server_info', { cause: error }),
          );
          return;
        }
        if (
          info.schema_version < OLDEST_SERVER_SCHEMA ||
          info.min_supported_schema_version > CLIENT_SCHEMA_VERSION
        ) {
          fail(
            new MatterConnectionError(
              `${url} speaks schema ${info.schema_version} (clients from ${info.min_supported_schema_version}); we speak ${CLIENT_SCHEMA_VERSION} and need at least ${OLDEST_SERVER_SCHEMA}`,
              'version_mismatch',
            ),
          );
          return;
        }
        settled = true;
        clearTimeout(timer);
        socket.removeAllListeners('close');
        socket.removeAllListeners('error');
        const client = new MatterApiClient(socket, url, info);
        client.#attach(options.pingMs ?? 30_000);
        resolve(client);
      });
    });
  }

  get connected(): boolean {
    return !this.#closed;
  }

  /** Sends a command; resolves with its result, rejects with MatterApiError or MatterConnectionError. */
  request<T = unknown>(command: string, args: Record<string, unknown> = {}, timeoutMs = 30_000): Promise<T> {
    if (this.#closed)
      return Promise.reject(new MatterConnectionError(`not connected to ${this.url}`, 'closed'));
    const messageId = `s${++this.#next}`;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(messageId);
        reject(
          new MatterConnectionError(`${command}: no answer from ${this.url} in ${timeoutMs} ms`, 'timeout'),
        );
      }, timeoutMs);
      this.#pending.set(messageId, { command, resolve: resolve as (r: unknown) => void, reject, timer });
      this.#socket.send(stringifyMatterJson({ message_id: messageId, command, args }));
    });
  }

  close(): void {
    this.#socket.close();
    this.#ended();
  }

  #attach(pingMs: number): void {
    this.#socket.on('message', (data) => this.#onMessage(data.toString()));
    this.#socket.on('close', () => this.#ended());
    this.#socket.on('error', () => this.#ended());
    let alive = true;
    this.#socket.on('pong', () => {
      alive = true;
    });
    this.#pingTimer = setInterval(() => {
      // a bridge that vanished without closing (a dead host) is noticed within two pings
      if (!alive) {
        this.#socket.terminate();
        this.#ended();
        return;
      }
      alive = false;
      this.#socket.ping();
    }, pingMs);
    this.#pingTimer.unref();
  }

  #ended(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#pingTimer);
    for (const [id, pending] of this.#pending) {
      clearTimeout(pending.timer);
      pending.reject(
        new MatterConnectionError(`${pending.command}: the connection to ${this.url} closed`, 'closed'),
      );
      this.#pending.delete(id);
    }
    this.emit('close');
  }

  #onMessage(text: string): void {
    let message: unknown;
    try {
      message = parseMatterJson(text);
    } catch {
      this.emit('problem', 'malformed_json', text.slice(0, 200));
      return;
    }
    const event = EventSchema.safeParse(message);
    if (event.success) {
      this.emit('event', event.data.event, event.data.data);
      return;
    }
    const failed = ErrorSchema.safeParse(message);
    const answered = failed.success ? undefined : ResultSchema.safeParse(message);
    const messageId = failed.success
      ? failed.data.message_id
      : answered?.success
        ? answered.data.message_id
        : undefined;
    if (messageId === undefined) {
      this.emit('problem', 'schema_invalid', text.slice(0, 200));
      return;
    }
    const pending = this.#pending.get(messageId);
    if (!pending) {
      this.emit('problem', 'unknown_message_id', messageId.slice(0, 64));
      return;
    }
    this.#pending.delete(messageId);
    clearTimeout(pending.timer);
    if (failed.success)
      pending.reject(new MatterApiError(failed.data.error_code, failed.data.details ?? '', pending.command));
    else pending.resolve(answered?.success ? answered.data.result : null);
  }
}
