// Picks the transport a gateway URL asks for (see resolveGatewayEndpoint); a list
// of URLs (a cluster of gateway nodes) fails over between them.
import { failoverTransport } from './failover.js';
import { mqttTransport } from './mqtt-transport.js';
import {
  type PicketTransport,
  type QoS,
  resolveGatewayEndpoint,
  type TransportCredentials,
  type TransportTuning,
} from './transport.js';
import { picketWsTransport } from './ws-transport.js';

export function transportFor(
  gateway: string | URL | readonly (string | URL)[],
  credentials: TransportCredentials,
  qos: QoS,
  tuning: TransportTuning = {},
): PicketTransport {
  if (typeof gateway !== 'string' && !(gateway instanceof URL)) {
    const list = gateway.map((url) => transportFor(url, credentials, qos, tuning));
    return list.length === 1 ? list[0]! : failoverTransport(list);
  }
  const endpoint = resolveGatewayEndpoint(gateway);
  switch (endpoint.protocol) {
    case 'mqtt':
      return mqttTransport({ ...tuning, ...credentials, url: endpoint.url, qos });
    case 'picket-ws':
      return picketWsTransport({ ...tuning, ...credentials, url: endpoint.url, qos });
  }
}
