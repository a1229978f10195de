import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { Aedes, type AedesOptions } from 'aedes';
export interface BrokerLimits {
  maxPacketBytes: number;
  maxOutgoingBytes: number;
  stallTimeoutMs: number;
}
export type GuardDisconnectReason = 'packet_too_large' | 'outgoing_queue_full' | 'stalled';
export interface BrokerGuardEvents {
  onGuardDisconnect?(clientId: string | null, reason: GuardDisconnectReason): void;
}
export async function createGuardedBroker(
  options: AedesOptions,
  _limits: BrokerLimits,
  _events?: BrokerGuardEvents,
): Promise<Aedes> {
  return Aedes.createBroker(options);
}
export function attachConnection(broker: Aedes, stream: Duplex, req?: IncomingMessage): void {
  broker.handle(stream, req);
}
