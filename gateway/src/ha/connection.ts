// The MQTT.js client options for Home Assistant's broker, from the gateway options.
// Certificate files are read at start, so a wrong path fails the start with its name
// instead of a connection that never succeeds.
import { readFile } from 'node:fs/promises';
import type { IClientOptions } from 'mqtt';
import type { GatewayConfig } from '../config.js';
import { haTopic } from './topics.js';

export interface HaConnection {
  url: string;
  options: IClientOptions;
}

/** How long MQTT.js waits between attempts while the broker is away. */
const RECONNECT_MS = 1000;

export async function haConnection(
  config: Pick<
    GatewayConfig,
    'haMqtt' | 'haMqttUsername' | 'haMqttPassword' | 'haMqttCa' | 'haMqttCert' | 'haMqttKey' | 'nodeId'
  >,
): Promise<HaConnection | undefined> {
  if (!config.haMqtt) return undefined;
  const read = async (file: string | undefined, option: string) => {
    if (file === undefined) return undefined;
    try {
      return await readFile(file);
    } catch (error) {
      throw new Error(`${option}: cannot read ${file}: ${(error as Error).message}`, { cause: error });
    }
  };
  const [ca, cert, key] = await Promise.all([
    read(config.haMqttCa, '--ha-mqtt-ca'),
    read(config.haMqttCert, '--ha-mqtt-cert'),
    read(config.haMqttKey, '--ha-mqtt-key'),
  ]);
  return {
    url: config.haMqtt,
    options: {
      // one client per node: two nodes never take over each other's session
      clientId: `sentinel-gateway-${config.nodeId}`,
      clean: true,
      protocolVersion: 4,
      reconnectPeriod: RECONNECT_MS,
      connectTimeout: 10_000,
      keepalive: 30,
      ...(config.haMqttUsername !== undefined ? { username: config.haMqttUsername } : {}),
      ...(config.haMqttPassword !== undefined ? { password: config.haMqttPassword } : {}),
      ...(ca ? { ca } : {}),
      ...(cert && key ? { cert, key } : {}),
      // Home Assistant marks every entity unavailable when the gateway vanishes
      will: { topic: haTopic.gatewayStatus, payload: Buffer.from('offline'), qos: 1, retain: true },
    },
  };
}
