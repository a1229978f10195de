// The seam between a simulated picket and the wire. A transport knows how to open
// one connection (MQTT over TCP or WebSocket, or the picket WebSocket protocol) and
// turns what arrives into typed events; the device owns everything else (state,
// seq, resends, reconnect timing), so both protocols behave the same.
import type {
  Command,
  CommandResult,
  Hello,
  OtaMessage,
  OtaProgressMessage,
  State,
} from '@sentinel/firmware';

/** Something that went wrong, as data: the CLI and tests branch on `code`, never on text. */
export type DeviceProblem =
  /** the gateway could not be reached (refused, reset, timeout, DNS) */
  | { code: 'unreachable'; message: string }
  /** the gateway answered but refused these credentials */
  | { code: 'refused'; message: string }
  /** connected, but the gateway refused the command subscription */
  | { code: 'subscribe_refused'; message: string }
  /** the gateway sent something that does not parse (it is ignored) */
  | { code: 'bad_frame'; message: string }
  /** the gateway reported that it dropped one of our frames (WebSocket `error` frame) */
  | { code: 'gateway_error'; reason: string; message: string }
  /** the unacked buffer was full, so the oldest unconfirmed reading was forgotten */
  | { code: 'reading_dropped'; seq: number; message: string };

export type DeviceProblemCode = DeviceProblem['code'];

/** A failed connection attempt; `problem` says why. */
export class ConnectFailure extends Error {
  override name = 'ConnectFailure';
  constructor(
    readonly problem: DeviceProblem,
    options?: { cause?: unknown },
  ) {
    super(problem.message, options);
  }
}

/** What a live connection reports back to the device. */
export interface LinkHandlers {
  /** a schema-valid command from the gateway */
  onCommand(command: Command): void;
  /** the gateway has stored the state with this seq (MQTT PUBACK or WebSocket `ack`) */
  onAck(seq: number): void;
  /** something worth reporting that does not end the connection */
  onProblem(problem: DeviceProblem): void;
  /** the connection ended, for any reason other than close() */
  onClose(reason: string): void;
  /** a schema-valid OTA offer, confirm or rollback (picket/<id>/ota, WebSocket `ota`) */
  onOta?(message: OtaMessage): void;
}

/** One open connection to the gateway. */
export interface PicketLink {
  sendHello(hello: Hello): void;
  /** the transport calls onAck(seq) when the gateway confirms it (never for QoS 0 over MQTT) */
  sendState(state: State): void;
  sendResult(result: CommandResult): void;
  /** OTA progress (picket/<id>/ota/progress, WebSocket `ota_progress`); transports without OTA leave it out */
  sendOtaProgress?(progress: OtaProgressMessage): void;
  /** a deliberate, clean goodbye: the device is going offline on purpose */
  close(): Promise<void>;
}

export interface PicketTransport {
  /** where it connects, for messages */
  readonly target: string;
  /** whether the gateway confirms states, so unconfirmed ones are worth keeping */
  readonly confirmsStates: boolean;
  /** opens one connection, or rejects with a ConnectFailure; `signal` abandons the attempt */
  connect(handlers: LinkHandlers, signal: AbortSignal): Promise<PicketLink>;
}

export interface TransportCredentials {
  id: string;
  token: string;
}

export type QoS = 0 | 1;

/** How patient a transport is; each has the same defaults. */
export interface TransportTuning {
  connectTimeoutMs?: number;
  /** MQTT keepalive; on the picket WebSocket, how often it pings (0 = never) */
  keepaliveSeconds?: number;
  /** how long a clean close may wait for the gateway before the socket is dropped */
  closeTimeoutMs?: number;
}

export const DEFAULT_TUNING: Required<TransportTuning> = {
  connectTimeoutMs: 10_000,
  keepaliveSeconds: 30,
  closeTimeoutMs: 2000,
};

/** Wrong options given to the simulator (a bad URL, an invalid id): fix the call, retrying will not help. */
export class SimulatorOptionsError extends Error {
  override name = 'SimulatorOptionsError';
}

export type GatewayEndpoint =
  | { protocol: 'mqtt'; url: string }
  /** the picket WebSocket protocol (CONTRACT.md §4) */
  | { protocol: 'picket-ws'; url: string };

/**
 * Which protocol a gateway URL means: mqtt://, mqtts:// and ws(s)://…/mqtt are
 * MQTT; ws(s)://…/picket (or a bare ws://host:port) is the picket WebSocket protocol.
 */
export function resolveGatewayEndpoint(gateway: string | URL): GatewayEndpoint {
  let url: URL;
  try {
    url = new URL(gateway);
  } catch (cause) {
    throw new SimulatorOptionsError(`not a URL: ${String(gateway)}`, { cause });
  }
  const path = url.pathname.replace(/\/+$/, '');
  switch (url.protocol) {
    case 'mqtt:':
    case 'mqtts:':
      return { protocol: 'mqtt', url: url.toString() };
    case 'ws:':
    case 'wss:':
      if (path === '/mqtt') return { protocol: 'mqtt', url: url.toString() };
      if (path === '/picket' || path === '') {
        url.pathname = '/picket';
        return { protocol: 'picket-ws', url: url.toString() };
      }
      throw new SimulatorOptionsError(`${url.toString()}: a WebSocket gateway URL ends in /picket or /mqtt`);
    default:
      throw new SimulatorOptionsError(
        `${url.toString()}: use mqtt://host:port, ws://host:port/mqtt or ws://host:port/picket`,
      );
  }
}

/** The tuning with a default for every value left out (or passed on as undefined). */
export function tuned(options: TransportTuning): Required<TransportTuning> {
  return {
    connectTimeoutMs: options.connectTimeoutMs ?? DEFAULT_TUNING.connectTimeoutMs,
    keepaliveSeconds: options.keepaliveSeconds ?? DEFAULT_TUNING.keepaliveSeconds,
    closeTimeoutMs: options.closeTimeoutMs ?? DEFAULT_TUNING.closeTimeoutMs,
  };
}
