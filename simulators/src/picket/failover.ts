// A device provisioned with several gateway URLs (firmware provisioning carries a
// list): each connection attempt starts with the gateway that last worked and
// moves down the list at once when it cannot be reached, so a node's death costs
// one reconnect, not a backoff cycle. Unconfirmed readings are resent by the device
// after every connect (UnackedStates), whichever gateway it reached; the gateways
// drop the ones already stored.
import { ConnectFailure, type LinkHandlers, type PicketLink, type PicketTransport } from './transport.js';

export interface FailoverTransport extends PicketTransport {
  /** the index in the list of the gateway the current (or last) connection went to */
  readonly current: number;
}

export function failoverTransport(transports: readonly PicketTransport[]): FailoverTransport {
  if (transports.length === 0) throw new RangeError('failover needs at least one gateway');
  let current = 0;
  return {
    target: transports.map((t) => t.target).join(' | '),
    confirmsStates: transports.every((t) => t.confirmsStates),
    get current() {
      return current;
    },
    async connect(handlers: LinkHandlers, signal: AbortSignal): Promise<PicketLink> {
      let lastError: unknown;
      for (let i = 0; i < transports.length; i++) {
        const index = (current + i) % transports.length;
        if (signal.aborted) break;
        try {
          const link = await transports[index]!.connect(handlers, signal);
          current = index;
          return link;
        } catch (error) {
          lastError = error;
          // refused credentials are the same answer everywhere, but another node may know a newer token
        }
      }
      // start the next attempt one further down the list
      current = (current + 1) % transports.length;
      if (lastError instanceof ConnectFailure) throw lastError;
      throw new ConnectFailure(
        { code: 'unreachable', message: `no gateway reachable: ${String(lastError)}` },
        { cause: lastError },
      );
    },
  };
}
