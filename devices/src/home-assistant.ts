// Home Assistant platform mappings: how an entity of our model appears as a component
// of Home Assistant MQTT device-based discovery (HA 2024.11+), how its state is
// written on its state topic, and how a payload Home Assistant publishes on its
// command topic becomes a `sentinel.cmd` request. Data and pure functions only, so
// the gateway, tools and the browser can all use it.
//
// Home Assistant refuses a whole component whose device class is not one of its
// platform's, or whose unit does not fit the device class; so the tables below say
// what it accepts and a mismatch drops the device class (the unit stays) rather
// than the entity.

/** The parts of an entity record (CONTRACT.md §3) a component is built from. */
export interface HaEntity {
  id: string;
  name: string;
  platform: string;
  device_class?: string | undefined;
  unit?: string | undefined;
  state_class?: string | undefined;
  min?: number | undefined;
  max?: number | undefined;
  step?: number | undefined;
  options?: readonly string[] | undefined;
}

/** Where a component's state is read and its commands are written. */
export interface HaTopics {
  state: string;
  command: string;
  /** cover: where Home Assistant sets a position (0–100) */
  position: string;
}

/** One availability topic (payloads `online` / `offline`, Home Assistant's defaults). */
export interface HaAvailability {
  topic: string;
}

/** A `sentinel.cmd` request (CONTRACT.md §3). */
export type HaCommandRequest = { value: unknown } | { action: string };

export type HaCommandResult =
  | { ok: true; request: HaCommandRequest }
  | { ok: false; reason: 'not_supported' | 'invalid_payload'; message: string };

/** Which command topic a payload arrived on. */
export type HaCommandTopic = 'command' | 'position';

const SENSOR_CLASSES = [
  'apparent_power',
  'aqi',
  'area',
  'atmospheric_pressure',
  'battery',
  'blood_glucose_concentration',
  'carbon_dioxide',
  'carbon_monoxide',
  'conductivity',
  'current',
  'data_rate',
  'data_size',
  'date',
  'distance',
  'duration',
  'energy',
  'energy_distance',
  'energy_storage',
  'enum',
  'frequency',
  'gas',
  'humidity',
  'illuminance',
  'irradiance',
  'moisture',
  'monetary',
  'nitrogen_dioxide',
  'nitrogen_monoxide',
  'nitrous_oxide',
  'ozone',
  'ph',
  'pm1',
  'pm10',
  'pm25',
  'power',
  'power_factor',
  'precipitation',
  'precipitation_intensity',
  'pressure',
  'reactive_power',
  'signal_strength',
  'sound_pressure',
  'speed',
  'sulphur_dioxide',
  'temperature',
  'timestamp',
  'volatile_organic_compounds',
  'volatile_organic_compounds_parts',
  'voltage',
  'volume',
  'volume_flow_rate',
  'volume_storage',
  'water',
  'weight',
  'wind_direction',
  'wind_speed',
] as const;

const BINARY_SENSOR_CLASSES = [
  'battery',
  'battery_charging',
  'carbon_monoxide',
  'cold',
  'connectivity',
  'door',
  'garage_door',
  'gas',
  'heat',
  'light',
  'lock',
  'moisture',
  'motion',
  'moving',
  'occupancy',
  'opening',
  'plug',
  'power',
  'presence',
  'problem',
  'running',
  'safety',
  'smoke',
  'sound',
  'tamper',
  'update',
  'vibration',
  'window',
] as const;

/** Units Home Assistant accepts with a device class, for the classes our devices report. */
export const HA_DEVICE_CLASS_UNITS: Readonly<Record<string, readonly string[]>> = {
  temperature: ['°C', '°F', 'K'],
  humidity: ['%'],
  battery: ['%'],
  moisture: ['%'],
  carbon_dioxide: ['ppm'],
  carbon_monoxide: ['ppm'],
  pm1: ['µg/m³'],
  pm10: ['µg/m³'],
  pm25: ['µg/m³'],
  volatile_organic_compounds: ['µg/m³', 'mg/m³'],
  illuminance: ['lx'],
  pressure: ['cbar', 'bar', 'hPa', 'mmHg', 'inHg', 'kPa', 'mbar', 'Pa', 'psi'],
  atmospheric_pressure: ['cbar', 'bar', 'hPa', 'mmHg', 'inHg', 'kPa', 'mbar', 'Pa', 'psi'],
  voltage: ['V', 'mV', 'µV', 'kV', 'MV'],
  current: ['A', 'mA'],
  power: ['mW', 'W', 'kW', 'MW', 'GW', 'TW', 'BTU/h'],
  energy: ['J', 'kJ', 'MJ', 'GJ', 'mWh', 'Wh', 'kWh', 'MWh', 'GWh', 'TWh', 'cal', 'kcal', 'Mcal', 'Gcal'],
  signal_strength: ['dB', 'dBm'],
  conductivity: ['S/cm', 'mS/cm', 'µS/cm'],
  distance: ['km', 'm', 'cm', 'mm', 'mi', 'nmi', 'yd', 'in', 'ft'],
  duration: ['d', 'h', 'min', 's', 'ms', 'µs'],
  weight: ['kg', 'g', 'mg', 'µg', 'oz', 'lb', 'st'],
  speed: ['mm/d', 'mm/h', 'mm/s', 'in/d', 'in/h', 'in/s', 'ft/s', 'km/h', 'kn', 'm/s', 'mph', 'Beaufort'],
  precipitation: ['cm', 'in', 'mm'],
  volume: ['L', 'mL', 'gal', 'fl. oz.', 'm³', 'ft³', 'CCF', 'MCF'],
  volume_storage: ['L', 'mL', 'gal', 'fl. oz.', 'm³', 'ft³', 'CCF', 'MCF'],
  water: ['L', 'gal', 'm³', 'ft³', 'CCF', 'MCF'],
  gas: ['L', 'm³', 'ft³', 'CCF', 'MCF'],
  volume_flow_rate: ['m³/h', 'm³/s', 'ft³/min', 'L/h', 'L/min', 'L/s', 'gal/h', 'gal/min', 'mL/s'],
};

/** BTHome's button events (and the rotary ones), the event types Home Assistant is told about. */
export const HA_EVENT_TYPES = [
  'press',
  'double_press',
  'triple_press',
  'long_press',
  'long_double_press',
  'long_triple_press',
  'hold_press',
  'rotate_left',
  'rotate_right',
] as const;

const ON = 'ON';
const OFF = 'OFF';
/** Home Assistant's MQTT platforms read this payload as "unknown". */
export const HA_PAYLOAD_NONE = 'None';

interface PlatformMapping {
  /** the Home Assistant platform (`p`) */
  component: string;
  /** device classes Home Assistant accepts for it (none listed: it takes none) */
  deviceClasses: readonly string[];
  /** whether Home Assistant gets a command topic */
  commandable: boolean;
  /** retained states would replay to Home Assistant as new events on every reconnect */
  retainState: boolean;
}

/**
 * Our platforms (CONTRACT.md §3) → Home Assistant's. `climate` is not exported yet:
 * its MQTT platform needs separate mode and temperature topics we do not model.
 */
export const HA_PLATFORMS: Readonly<Record<string, PlatformMapping>> = {
  sensor: { component: 'sensor', deviceClasses: SENSOR_CLASSES, commandable: false, retainState: true },
  binary_sensor: {
    component: 'binary_sensor',
    deviceClasses: BINARY_SENSOR_CLASSES,
    commandable: false,
    retainState: true,
  },
  switch: { component: 'switch', deviceClasses: ['outlet', 'switch'], commandable: true, retainState: true },
  light: { component: 'light', deviceClasses: [], commandable: true, retainState: true },
  fan: { component: 'fan', deviceClasses: [], commandable: true, retainState: true },
  lock: { component: 'lock', deviceClasses: [], commandable: true, retainState: true },
  cover: {
    component: 'cover',
    deviceClasses: [
      'awning',
      'blind',
      'curtain',
      'damper',
      'door',
      'garage',
      'gate',
      'shade',
      'shutter',
      'window',
    ],
    commandable: true,
    retainState: true,
  },
  number: {
    component: 'number',
    deviceClasses: SENSOR_CLASSES.filter((c) => !['date', 'enum', 'timestamp', 'monetary'].includes(c)),
    commandable: true,
    retainState: true,
  },
  select: { component: 'select', deviceClasses: [], commandable: true, retainState: true },
  text: { component: 'text', deviceClasses: [], commandable: true, retainState: true },
  button: {
    component: 'button',
    deviceClasses: ['identify', 'restart', 'update'],
    commandable: true,
    retainState: false,
  },
  event: {
    component: 'event',
    deviceClasses: ['button', 'doorbell', 'motion'],
    commandable: false,
    retainState: false,
  },
};

export const haPlatform = (platform: string): PlatformMapping | undefined => HA_PLATFORMS[platform];

/** The device class Home Assistant will accept for this entity, if any. */
export function haDeviceClass(entity: HaEntity): string | undefined {
  const mapping = HA_PLATFORMS[entity.platform];
  const deviceClass = entity.device_class;
  if (!mapping || deviceClass === undefined || !mapping.deviceClasses.includes(deviceClass)) return undefined;
  const units = HA_DEVICE_CLASS_UNITS[deviceClass];
  if (units && entity.unit !== undefined && !units.includes(entity.unit)) return undefined;
  return deviceClass;
}

/** `default_entity_id`: `<platform>.<slug of the name>`, Home Assistant's own style (used once, when it creates the entity). */
export function haDefaultEntityId(component: string, name: string): string {
  const slug = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
  return `${component}.${slug || 'sentinel'}`;
}

/**
 * One `cmps` entry for an entity, or undefined for a platform we do not export.
 * `availability` is the gateway's and the device's (both must be online).
 */
export function haComponent(
  entity: HaEntity,
  topics: HaTopics,
  availability: readonly HaAvailability[],
): Record<string, unknown> | undefined {
  const mapping = HA_PLATFORMS[entity.platform];
  if (!mapping) return undefined;
  const p = mapping.component;
  const component: Record<string, unknown> = {
    p,
    name: entity.name,
    unique_id: entity.id,
    default_entity_id: haDefaultEntityId(p, entity.name),
    availability: availability.map((a) => ({ topic: a.topic })),
    availability_mode: 'all',
  };
  const deviceClass = haDeviceClass(entity);
  if (deviceClass !== undefined) component.device_class = deviceClass;
  switch (entity.platform) {
    case 'sensor':
      component.state_topic = topics.state;
      if (entity.unit !== undefined) component.unit_of_measurement = entity.unit;
      if (entity.state_class !== undefined) component.state_class = entity.state_class;
      break;
    case 'binary_sensor':
      component.state_topic = topics.state;
      break;
    case 'switch':
    case 'light':
    case 'fan':
      // ON/OFF are Home Assistant's default payloads for all three
      component.state_topic = topics.state;
      component.command_topic = topics.command;
      break;
    case 'lock':
      Object.assign(component, {
        state_topic: topics.state,
        command_topic: topics.command,
        payload_lock: 'LOCK',
        payload_unlock: 'UNLOCK',
        payload_open: 'OPEN',
        state_locked: 'LOCKED',
        state_unlocked: 'UNLOCKED',
      });
      break;
    case 'cover':
      // our cover state is its position: Home Assistant derives open/closed from it
      Object.assign(component, {
        command_topic: topics.command,
        position_topic: topics.state,
        set_position_topic: topics.position,
        position_open: 100,
        position_closed: 0,
      });
      break;
    case 'number':
      component.state_topic = topics.state;
      component.command_topic = topics.command;
      if (entity.min !== undefined) component.min = entity.min;
      if (entity.max !== undefined) component.max = entity.max;
      if (entity.step !== undefined) component.step = entity.step;
      if (entity.unit !== undefined) component.unit_of_measurement = entity.unit;
      break;
    case 'select':
      component.state_topic = topics.state;
      component.command_topic = topics.command;
      component.options = [...(entity.options ?? [])];
      break;
    case 'text':
      component.state_topic = topics.state;
      component.command_topic = topics.command;
      break;
    case 'button':
      component.command_topic = topics.command;
      component.payload_press = 'PRESS';
      break;
    case 'event':
      component.state_topic = topics.state;
      component.event_types = [...HA_EVENT_TYPES];
      break;
  }
  return component;
}

/**
 * The payload of a state topic for a value of ours, or undefined when there is
 * nothing Home Assistant could read (an event type it was not told about, a button).
 */
export function haStatePayload(platform: string, value: unknown): string | undefined {
  if (platform === 'button') return undefined;
  if (value === null || value === undefined) return platform === 'event' ? undefined : HA_PAYLOAD_NONE;
  switch (platform) {
    case 'binary_sensor':
    case 'switch':
    case 'light':
    case 'fan':
      return onOf(value);
    case 'lock': {
      const locked = truthOf(value);
      return locked === undefined ? HA_PAYLOAD_NONE : locked ? 'LOCKED' : 'UNLOCKED';
    }
    case 'event':
      return typeof value === 'string' && (HA_EVENT_TYPES as readonly string[]).includes(value)
        ? JSON.stringify({ event_type: value })
        : undefined;
    default:
      return typeof value === 'object' ? JSON.stringify(value) : String(value);
  }
}

/** ON/OFF from a boolean, a level (fan percentage, brightness) or a `{ on | state }` object. */
function onOf(value: unknown): string {
  const truth = truthOf(value);
  return truth === undefined ? HA_PAYLOAD_NONE : truth ? ON : OFF;
}

function truthOf(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number') return value > 0;
  if (typeof value === 'object' && value !== null) {
    const record = value as Record<string, unknown>;
    for (const key of ['on', 'state']) {
      const v = record[key];
      if (typeof v === 'boolean') return v;
      if (v === ON || v === OFF) return v === ON;
    }
  }
  return undefined;
}

/** A payload Home Assistant published on an entity's command topic → our command request. */
export function haCommandRequest(entity: HaEntity, topic: HaCommandTopic, payload: string): HaCommandResult {
  const mapping = HA_PLATFORMS[entity.platform];
  if (!mapping?.commandable) {
    return { ok: false, reason: 'not_supported', message: `a ${entity.platform} takes no commands` };
  }
  const bad = (message: string): HaCommandResult => ({ ok: false, reason: 'invalid_payload', message });
  const fromTable = (table: Record<string, HaCommandRequest>) =>
    Object.hasOwn(table, payload)
      ? ({ ok: true, request: table[payload]! } as const)
      : bad(`a ${entity.platform} takes ${Object.keys(table).join(', ')}`);
  if (topic === 'position') {
    if (entity.platform !== 'cover') return bad(`a ${entity.platform} has no position`);
    const position = Number(payload);
    return payload.trim() !== '' && Number.isFinite(position) && position >= 0 && position <= 100
      ? { ok: true, request: { value: position } }
      : bad('a cover position is a number from 0 to 100');
  }
  switch (entity.platform) {
    case 'switch':
    case 'light':
    case 'fan':
      return fromTable({ ON: { value: true }, OFF: { value: false } });
    case 'lock':
      return fromTable({ LOCK: { action: 'lock' }, UNLOCK: { action: 'unlock' }, OPEN: { action: 'open' } });
    case 'cover':
      return fromTable({ OPEN: { action: 'open' }, CLOSE: { action: 'close' }, STOP: { action: 'stop' } });
    case 'button':
      return fromTable({ PRESS: { action: 'press' } });
    case 'number': {
      const value = Number(payload);
      if (payload.trim() === '' || !Number.isFinite(value)) return bad('a number takes a number');
      if (
        (entity.min !== undefined && value < entity.min) ||
        (entity.max !== undefined && value > entity.max)
      )
        return bad(`a number from ${entity.min ?? '-∞'} to ${entity.max ?? '∞'}`);
      return { ok: true, request: { value } };
    }
    case 'select':
      return entity.options && !entity.options.includes(payload)
        ? bad(`a select takes ${entity.options.join(', ')}`)
        : { ok: true, request: { value: payload } };
    case 'text':
      return payload.length > 255
        ? bad('a text is at most 255 characters')
        : { ok: true, request: { value: payload } };
    default:
      return { ok: false, reason: 'not_supported', message: `a ${entity.platform} takes no commands` };
  }
}
