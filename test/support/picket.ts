// A picket device as CONTRACT.md §4 describes it, for tests that need one.
import mqtt, { type MqttClient } from 'mqtt';

/** The hello example of CONTRACT.md §4: a temperature sensor and a relay. */
export const CONTRACT_HELLO = {
  v: 1,
  fw: '1.4.0',
  chip: 'esp32p4',
  entities: [
    {
      key: 'temperature',
      platform: 'sensor',
      device_class: 'temperature',
      unit: '°C',
      state_class: 'measurement',
    },
    { key: 'relay', platform: 'switch' },
  ],
};

/** Connects over MQTT as the contract says: client id = username = id, token as password, a retained `offline` will. */
export function connectDevice(
  gateway: { mqttPort: number },
  id: string,
  token: string,
  options: mqtt.IClientOptions = {},
): Promise<MqttClient> {
  return mqtt.connectAsync(`mqtt://127.0.0.1:${gateway.mqttPort}`, {
    clientId: id,
    username: id,
    password: token,
    reconnectPeriod: 0,
    will: { topic: `picket/${id}/status`, payload: Buffer.from('offline'), qos: 1, retain: true },
    ...options,
  });
}

/**
 * Makes a connected device confirm every command as firmware does (`cmd/result` ok);
 * `onCommand` sees each one first (to record it, or to publish the new state).
 */
export async function confirmCommands(
  device: MqttClient,
  id: string,
  onCommand: (command: { cid: string; key: string; value?: unknown; action?: string }) => void = () => {},
): Promise<void> {
  await device.subscribeAsync(`picket/${id}/cmd`, { qos: 1 });
  device.on('message', (topic, payload) => {
    if (topic !== `picket/${id}/cmd`) return;
    const command = JSON.parse(payload.toString()) as { cid: string; key: string; value?: unknown };
    onCommand(command);
    void device.publishAsync(`picket/${id}/cmd/result`, JSON.stringify({ cid: command.cid, ok: true }), {
      qos: 1,
    });
  });
}
