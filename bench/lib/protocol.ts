// Messages between the benchmark orchestrator and its worker processes (over
// the Node IPC channel). Every request gets exactly one reply, matched by `id`.
import type { HistogramSnapshot } from './histogram.js';

export interface DeviceCredentials {
  /** picket id: MQTT client id and username */
  id: string;
  /** the token from `sentinel device add`; absent for the bare brokers */
  password?: string;
}

export type QoS = 0 | 1;

/** What a load generator is asked to do. */
export type LoadRequest =
  | {
      type: 'connect';
      url: string;
      devices: DeviceCredentials[];
      /** entity keys each device declares in its hello and sends in every state */
      keys: string[];
      /** how many connections are opened at once */
      concurrency: number;
    }
  | {
      type: 'start';
      scenario: number;
      qos: QoS;
      /** state messages one device may have in flight (not yet PUBACKed, not yet seen by the subscriber) */
      window: number;
      /** extra bytes of padding in every state message */
      pad: number;
      /** a reading not seen by the subscriber after this long counts as lost and frees its slot */
      lossTimeoutMs: number;
      /** state messages per second from this process; 0: as fast as the window allows */
      messagesPerS: number;
    }
  /**
   * One QoS 1 state from each listed device (all when absent), after its hello
   * again when `rehello`: proves the target turns each device's readings into
   * deliveries before anything is measured.
   */
  | { type: 'prime'; ids?: string[]; rehello: boolean }
  | { type: 'stop' }
  | { type: 'disconnect' };

/** The subscriber's progress, forwarded to the generators as credit. */
export interface CreditMessage {
  type: 'credit';
  scenario: number;
  /** readings received so far in this scenario from this generator's devices */
  received: number;
}

export type LoadReply =
  | { type: 'connected'; connected: number; failed: number; firstError?: string }
  | { type: 'started' }
  | { type: 'primed'; published: number; failed: number; firstError?: string }
  | {
      type: 'stopped';
      sentMessages: number;
      sentReadings: number;
      acked: number;
      publishErrors: number;
      firstError?: string;
    }
  | { type: 'disconnected' };

export type SinkRequest =
  | { type: 'subscribe'; kind: 'mqtt' | 'nats'; url: string; qos: QoS; generators: number }
  /** new counters; with `trackDevices`, also remember which devices were heard from (for priming) */
  | { type: 'reset'; scenario: number; trackDevices?: boolean }
  | { type: 'seen' }
  /** record latencies of readings received in [fromMs, toMs] (epoch ms, see clock.ts) */
  | { type: 'window'; fromMs: number; toMs: number }
  | { type: 'report' }
  | { type: 'unsubscribe' };

export interface SinkReport {
  type: 'report';
  /** readings received in this scenario (all of them, any time) */
  received: number;
  /** readings received inside the measured window */
  inWindow: number;
  windowMs: number;
  histogram: HistogramSnapshot;
  /** messages on the subscription that were not a generator's readings (not counted anywhere else) */
  foreign: number;
  /** readings that arrived "before" they were sent (clock trouble); recorded as 0 ms */
  negative: number;
}

export type SinkReply =
  | { type: 'subscribed' }
  | { type: 'reset' }
  | { type: 'window' }
  | { type: 'seen'; ids: string[] }
  | SinkReport
  | { type: 'unsubscribed' };

/** Unsolicited, every few ms while readings arrive: cumulative received per generator. */
export interface SinkProgress {
  type: 'progress';
  scenario: number;
  perGenerator: number[];
}

export type HolderRequest =
  | {
      type: 'hold';
      port: number;
      devices: DeviceCredentials[];
      keepaliveS: number;
      concurrency: number;
      timeoutMs: number;
    }
  | { type: 'release' };

export type HolderReply =
  | { type: 'holding'; connected: number; refused: number; failed: number; firstError?: string }
  | { type: 'released'; droppedWhileHeld: number };

export type WorkerError = { type: 'error'; message: string };

/** Picket device ids used by the benchmark: the generator index is part of the id. */
export const loadDeviceId = (generator: number, index: number): string =>
  `g${generator}-dev${String(index).padStart(5, '0')}`;
export const idleDeviceId = (index: number): string => `idle-${String(index).padStart(5, '0')}`;

/** The generator a device id (or `picket-<id>`, or a topic containing it) belongs to. */
export function generatorOf(idOrTopic: string): number | undefined {
  const match = /(?:^|[/-])g(\d+)-dev\d/.exec(idOrTopic);
  return match ? Number(match[1]) : undefined;
}
