// Picks the transport a gateway URL asks for (see resolveGatewayEndpoint).
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
  gateway: string | URL,
  credentials: TransportCredentials,
  qos: QoS,
  tuning: TransportTuning = {},
): PicketTransport {
  const endpoint = resolveGatewayEndpoint(gateway);
  switch (endpoint.protocol) {
    case 'mqtt':
      return mqttTransport({ ...tuning, ...credentials, url: endpoint.url, qos });
    case 'picket-ws':
      return picketWsTransport({ ...tuning, ...credentials, url: endpoint.url, qos });
  }
}
