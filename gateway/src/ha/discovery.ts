// Home Assistant MQTT device-based discovery payloads (HA 2024.11+): one retained
// `<prefix>/device/<device_id>/config` per device, `cmps` holding one component per
// entity whose `unique_id` is our entity id. The platform mapping is data in
// @sentinel/devices; this module only puts records and topics together.
import { type HaEntity, haComponent } from '@sentinel/devices';
import type { DeviceRecord, EntityRecord } from '../model/records.js';
import { GATEWAY_DEVICE_ID, haTopic } from './topics.js';

export interface HaOrigin {
  name: string;
  sw: string;
  url?: string | undefined;
}

export interface DeviceConfig {
  dev: Record<string, unknown>;
  o: HaOrigin;
  cmps: Record<string, Record<string, unknown>>;
}

/** Both must be online for Home Assistant to show an entity available (availability_mode all). */
const availabilityOf = (deviceId: string) => [
  { topic: haTopic.gatewayStatus },
  { topic: haTopic.deviceAvailability(deviceId) },
];

/** The discovery payload of a device, or undefined when none of its entities is exported. */
export function deviceConfig(
  device: DeviceRecord,
  entities: readonly EntityRecord[],
  origin: HaOrigin,
): DeviceConfig | undefined {
  const cmps: Record<string, Record<string, unknown>> = {};
  for (const entity of [...entities].sort((a, b) => a.id.localeCompare(b.id))) {
    const component = haComponent(
      entity as HaEntity,
      {
        state: haTopic.state(device.id, entity.id),
        command: haTopic.command(device.id, entity.id),
        position: haTopic.position(device.id, entity.id),
      },
      availabilityOf(device.id),
    );
    if (component) cmps[entity.id] = component;
  }
  if (Object.keys(cmps).length === 0) return undefined;
  const dev: Record<string, unknown> = { identifiers: [device.id], name: device.name };
  if (device.model !== undefined) dev.model = device.model;
  if (device.manufacturer !== undefined) dev.manufacturer = device.manufacturer;
  if (device.sw_version !== undefined) dev.sw_version = device.sw_version;
  // a BLE device reaches Home Assistant through our proxies and the gateway, which
  // Home Assistant shows as the device it is connected via
  if (device.protocol === 'ble') dev.via_device = GATEWAY_DEVICE_ID;
  return { dev, o: origin, cmps };
}

/**
 * The gateway as a device of its own: what BLE devices are connected via, with a
 * connectivity sensor that follows the gateway status topic (it has no availability
 * of its own, so it shows "disconnected" rather than "unavailable").
 */
export function gatewayConfig(origin: HaOrigin): DeviceConfig {
  return {
    dev: {
      identifiers: [GATEWAY_DEVICE_ID],
      name: 'Sentinel Edge',
      manufacturer: 'Sentinel',
      sw_version: origin.sw,
    },
    o: origin,
    cmps: {
      status: {
        p: 'binary_sensor',
        name: 'Gateway',
        unique_id: `${GATEWAY_DEVICE_ID}-status`,
        default_entity_id: 'binary_sensor.sentinel_edge_gateway',
        device_class: 'connectivity',
        state_topic: haTopic.gatewayStatus,
        payload_on: 'online',
        payload_off: 'offline',
      },
    },
  };
}
