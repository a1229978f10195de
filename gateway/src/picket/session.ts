// What the picket adapter needs from a transport connection (MQTT or WebSocket).
import type { Command, OtaMessage } from '@sentinel/firmware';
import type { RejectReason } from '../metrics.js';

export type PicketTransport = 'mqtt' | 'ws';

export interface PicketSession {
  readonly picketId: string;
  /** `picket-<id>`, the id on the bus */
  readonly deviceId: string;
  readonly transport: PicketTransport;
  /** true once the connection ended: work on its behalf (durable retries) stops */
  readonly ended: boolean;
  /** false when the device cannot receive commands (MQTT: not subscribed to picket/<id>/cmd) */
  deliverCommand(command: Command): boolean;
  /** OTA offer, confirm or rollback (MQTT: picket/<id>/ota; WebSocket: an `ota` frame); false when it cannot be delivered */
  deliverOta(message: OtaMessage): boolean;
  /** the local address the device reached the gateway on (for OTA download URLs), when known */
  readonly localAddress?: string | undefined;
  /** tells the device why a message was dropped, where the transport has a way to */
  reportRejected(reason: RejectReason, message: string, seq?: number): void;
  close(reason: string): void;
}
