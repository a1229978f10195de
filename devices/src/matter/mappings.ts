// Matter clusters → entities of our model, as data: which endpoint clusters become which
// entity (platform, device class, unit, state class), how the reported attributes become
// its value (scaling such as centi-degrees → °C), and how a `sentinel.cmd` request becomes
// Matter cluster commands or attribute writes. Pure: the gateway's Matter adapter, tools
// and the browser can all use it. Section numbers cite the Matter 1.3 Application Cluster
// Specification.
import { type MatterEndpoint, type MatterReading, numberOf } from './endpoints.js';
import { ATTRIBUTE, CLUSTER, DEVICE_TYPE, LIGHT_DEVICE_TYPES, OUTLET_DEVICE_TYPES } from './ids.js';

export type MatterPlatform =
  | 'sensor'
  | 'binary_sensor'
  | 'switch'
  | 'light'
  | 'number'
  | 'climate'
  | 'cover'
  | 'lock';

/** What an entity is (the fields of an entity description other than its key). */
export interface MatterEntityKind {
  platform: MatterPlatform;
  device_class?: string;
  unit?: string;
  state_class?: 'measurement' | 'total' | 'total_increasing';
  min?: number;
  max?: number;
  step?: number;
}

/** One step of carrying out a command on the device. */
export type MatterAction =
  | {
      kind: 'command';
      endpoint: number;
      cluster: number;
      /** the command's name as the matter server takes it (`Toggle`, `MoveToLevelWithOnOff`) */
      command: string;
      payload: Record<string, unknown>;
      /** a timed invoke (the command requires one, e.g. door locks), in ms */
      timedMs?: number;
    }
  | { kind: 'write'; endpoint: number; cluster: number; attribute: number; value: unknown };

/** A `sentinel.cmd` request (CONTRACT.md §3). */
export interface MatterCommandRequest {
  value?: unknown;
  action?: string | undefined;
}

export type MatterCommandPlan =
  | { ok: true; actions: MatterAction[] }
  | { ok: false; code: 'invalid' | 'not_supported'; message: string };

export interface MatterEntityMapping {
  /** the entity key's stem; the key is `<stem>-<endpoint>` */
  key: string;
  cluster: number;
  /** attributes of `cluster` the value is read from: a report of any of them updates it */
  reads: readonly number[];
  /** whether this endpoint gets the entity (default: it reports the first of `reads`) */
  applies?(endpoint: MatterEndpoint): boolean;
  kind(endpoint: MatterEndpoint): MatterEntityKind;
  /** the value now; undefined when there is nothing to publish yet */
  value(endpoint: MatterEndpoint): MatterReading | undefined;
  command?(request: MatterCommandRequest, endpoint: MatterEndpoint): MatterCommandPlan;
}

const round = (value: number, digits: number) => {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
};

/** A scaled number: null stays null (the device does not know), anything else not a number is skipped. */
function scaled(raw: unknown, factor: number, digits = 2): MatterReading | undefined {
  if (raw === null) return null;
  const n = numberOf(raw);
  return n === undefined ? undefined : round(n * factor, digits);
}

const flag = (raw: unknown): MatterReading | undefined =>
  raw === null ? null : typeof raw === 'boolean' ? raw : undefined;

const plan = (...actions: MatterAction[]): MatterCommandPlan => ({ ok: true, actions });
const invalid = (message: string): MatterCommandPlan => ({ ok: false, code: 'invalid', message });
const command = (
  endpoint: MatterEndpoint,
  cluster: number,
  name: string,
  payload: Record<string, unknown> = {},
  timedMs?: number,
): MatterAction => ({
  kind: 'command',
  endpoint: endpoint.id,
  cluster,
  command: name,
  payload,
  ...(timedMs === undefined ? {} : { timedMs }),
});
const write = (
  endpoint: MatterEndpoint,
  cluster: number,
  attribute: number,
  value: unknown,
): MatterAction => ({
  kind: 'write',
  endpoint: endpoint.id,
  cluster,
  attribute,
  value,
});

const isLight = (endpoint: MatterEndpoint) =>
  endpoint.deviceTypes.some((t) => LIGHT_DEVICE_TYPES.includes(t));
const hasFeature = (endpoint: MatterEndpoint, cluster: number, bit: number) =>
  ((numberOf(endpoint.get(cluster, ATTRIBUTE.global.featureMap)) ?? 0) & (1 << bit)) !== 0;

// ---- On/Off, Level Control, Color Control (1.5, 1.6, 3.2) ----

/** Level Control levels are 1…254 (254 = full); we speak percent. */
export const levelToPercent = (level: number) => Math.round((level * 100) / 254);
export const percentToLevel = (percent: number) =>
  Math.max(1, Math.min(254, Math.round((percent * 254) / 100)));
/** Color temperatures travel in mireds (10⁶ / kelvin). */
export const miredsToKelvin = (mireds: number) => Math.round(1_000_000 / mireds);
export const kelvinToMireds = (kelvin: number) => Math.round(1_000_000 / kelvin);

// Bitmap fields as numbers, as the matter server takes them: 0 = no options.
const moveToLevel = (endpoint: MatterEndpoint, percent: number) =>
  command(endpoint, CLUSTER.levelControl, 'MoveToLevelWithOnOff', {
    level: percentToLevel(percent),
    transitionTime: 0,
    optionsMask: 0,
    optionsOverride: 0,
  });

function colorTemperature(endpoint: MatterEndpoint, kelvin: number): MatterAction {
  const { colorTempPhysicalMinMireds: minId, colorTempPhysicalMaxMireds: maxId } = ATTRIBUTE.colorControl;
  const min = numberOf(endpoint.get(CLUSTER.colorControl, minId)) ?? 1;
  const max = numberOf(endpoint.get(CLUSTER.colorControl, maxId)) ?? 0xfeff;
  const mireds = Math.max(min, Math.min(max, kelvinToMireds(kelvin)));
  return command(endpoint, CLUSTER.colorControl, 'MoveToColorTemperature', {
    colorTemperatureMireds: mireds,
    transitionTime: 0,
    optionsMask: 0,
    optionsOverride: 0,
  });
}

function onOffCommand(request: MatterCommandRequest, endpoint: MatterEndpoint): MatterCommandPlan {
  if (request.action === 'toggle') return plan(command(endpoint, CLUSTER.onOff, 'Toggle'));
  if (typeof request.value === 'boolean')
    return plan(command(endpoint, CLUSTER.onOff, request.value ? 'On' : 'Off'));
  return invalid('takes true, false or the action toggle');
}

const LIGHT_FIELDS = ['on', 'brightness', 'color_temp_kelvin'];

/** A light takes true/false, toggle, or `{on?, brightness? (0–100), color_temp_kelvin?}`. */
function lightCommand(request: MatterCommandRequest, endpoint: MatterEndpoint): MatterCommandPlan {
  if (request.value === null || typeof request.value !== 'object' || Array.isArray(request.value))
    return onOffCommand(request, endpoint);
  const fields = request.value as Record<string, unknown>;
  const unknown = Object.keys(fields).filter((k) => !LIGHT_FIELDS.includes(k));
  if (unknown.length > 0)
    return invalid(`a light takes ${LIGHT_FIELDS.join(', ')}; not ${unknown.join(', ')}`);
  const { on, brightness, color_temp_kelvin: kelvin } = fields;
  if (on !== undefined && typeof on !== 'boolean') return invalid('on is true or false');
  if (on === false) return plan(command(endpoint, CLUSTER.onOff, 'Off'));
  const actions: MatterAction[] = [];
  if (brightness !== undefined) {
    if (typeof brightness !== 'number' || !(brightness >= 0 && brightness <= 100))
      return invalid('brightness is a number from 0 to 100');
    if (!endpoint.clusters.has(CLUSTER.levelControl))
      return { ok: false, code: 'not_supported', message: 'this light cannot dim' };
  } else actions.push(command(endpoint, CLUSTER.onOff, 'On'));
  if (kelvin !== undefined) {
    if (typeof kelvin !== 'number' || !(kelvin >= 1000 && kelvin <= 20000))
      return invalid('color_temp_kelvin is a number from 1000 to 20000');
    if (!endpoint.clusters.has(CLUSTER.colorControl))
      return { ok: false, code: 'not_supported', message: 'this light has no color temperature' };
    actions.push(colorTemperature(endpoint, kelvin));
  }
  if (typeof brightness === 'number') actions.push(moveToLevel(endpoint, brightness));
  return { ok: true, actions };
}

const onOffValue = (endpoint: MatterEndpoint) => flag(endpoint.get(CLUSTER.onOff, ATTRIBUTE.onOff.onOff));

// ---- the table ----

export const MATTER_ENTITY_MAPPINGS: readonly MatterEntityMapping[] = [
  {
    key: 'light',
    cluster: CLUSTER.onOff,
    reads: [ATTRIBUTE.onOff.onOff],
    applies: (e) => e.has(CLUSTER.onOff, ATTRIBUTE.onOff.onOff) && isLight(e),
    kind: () => ({ platform: 'light' }),
    value: onOffValue,
    command: lightCommand,
  },
  {
    key: 'switch',
    cluster: CLUSTER.onOff,
    reads: [ATTRIBUTE.onOff.onOff],
    applies: (e) => e.has(CLUSTER.onOff, ATTRIBUTE.onOff.onOff) && !isLight(e),
    kind: (e) => ({
      platform: 'switch',
      ...(e.deviceTypes.some((t) => OUTLET_DEVICE_TYPES.includes(t)) ? { device_class: 'outlet' } : {}),
    }),
    value: onOffValue,
    command: onOffCommand,
  },
  {
    key: 'brightness',
    cluster: CLUSTER.levelControl,
    reads: [ATTRIBUTE.levelControl.currentLevel],
    kind: () => ({ platform: 'number', unit: '%', min: 0, max: 100, step: 1 }),
    value: (e) => {
      const level = e.get(CLUSTER.levelControl, ATTRIBUTE.levelControl.currentLevel);
      if (level === null) return null;
      const n = numberOf(level);
      return n === undefined ? undefined : levelToPercent(n);
    },
    command: (request, e) =>
      typeof request.value === 'number' ? plan(moveToLevel(e, request.value)) : invalid('takes a percentage'),
  },
  {
    key: 'color_temp',
    cluster: CLUSTER.colorControl,
    reads: [ATTRIBUTE.colorControl.colorTemperatureMireds],
    kind: (e) => {
      const { colorTempPhysicalMinMireds: minId, colorTempPhysicalMaxMireds: maxId } = ATTRIBUTE.colorControl;
      // the warmest color (most mireds) is the fewest kelvin
      const warmest = numberOf(e.get(CLUSTER.colorControl, maxId));
      const coolest = numberOf(e.get(CLUSTER.colorControl, minId));
      return {
        platform: 'number',
        unit: 'K',
        step: 1,
        ...(warmest ? { min: miredsToKelvin(warmest) } : {}),
        ...(coolest ? { max: miredsToKelvin(coolest) } : {}),
      };
    },
    value: (e) => {
      const raw = e.get(CLUSTER.colorControl, ATTRIBUTE.colorControl.colorTemperatureMireds);
      const mireds = numberOf(raw);
      return raw === null ? null : mireds ? miredsToKelvin(mireds) : undefined;
    },
    command: (request, e) =>
      typeof request.value === 'number' && request.value > 0
        ? plan(colorTemperature(e, request.value))
        : invalid('takes a color temperature in kelvin'),
  },
  {
    key: 'temperature',
    cluster: CLUSTER.temperatureMeasurement,
    reads: [ATTRIBUTE.temperatureMeasurement.measuredValue],
    // 2.3.4.1: MeasuredValue = 100 × °C
    kind: () => ({ platform: 'sensor', device_class: 'temperature', unit: '°C', state_class: 'measurement' }),
    value: (e) =>
      scaled(e.get(CLUSTER.temperatureMeasurement, ATTRIBUTE.temperatureMeasurement.measuredValue), 0.01),
  },
  {
    key: 'humidity',
    cluster: CLUSTER.relativeHumidityMeasurement,
    reads: [ATTRIBUTE.relativeHumidityMeasurement.measuredValue],
    // 2.6.4.1: MeasuredValue = 100 × %RH
    kind: () => ({ platform: 'sensor', device_class: 'humidity', unit: '%', state_class: 'measurement' }),
    value: (e) =>
      scaled(
        e.get(CLUSTER.relativeHumidityMeasurement, ATTRIBUTE.relativeHumidityMeasurement.measuredValue),
        0.01,
      ),
  },
  {
    key: 'occupancy',
    cluster: CLUSTER.occupancySensing,
    reads: [ATTRIBUTE.occupancySensing.occupancy],
    kind: () => ({ platform: 'binary_sensor', device_class: 'occupancy' }),
    // 2.7.6.1: bit 0 Occupied (a bitmap: a number on the wire, a struct from some servers)
    value: (e) => {
      const raw = e.get(CLUSTER.occupancySensing, ATTRIBUTE.occupancySensing.occupancy);
      if (raw === null) return null;
      if (raw !== null && typeof raw === 'object') return (raw as Record<string, unknown>).occupied === true;
      const n = numberOf(raw);
      return n === undefined ? undefined : (n & 1) === 1;
    },
  },
  {
    key: 'contact',
    cluster: CLUSTER.booleanState,
    reads: [ATTRIBUTE.booleanState.stateValue],
    applies: (e) =>
      e.has(CLUSTER.booleanState, ATTRIBUTE.booleanState.stateValue) &&
      e.deviceTypes.includes(DEVICE_TYPE.contactSensor),
    // Device Library 7.1: StateValue TRUE = contact (closed); our door is "on" when open
    kind: () => ({ platform: 'binary_sensor', device_class: 'door' }),
    value: (e) => {
      const state = flag(e.get(CLUSTER.booleanState, ATTRIBUTE.booleanState.stateValue));
      return typeof state === 'boolean' ? !state : state;
    },
  },
  {
    key: 'leak',
    cluster: CLUSTER.booleanState,
    reads: [ATTRIBUTE.booleanState.stateValue],
    applies: (e) =>
      e.has(CLUSTER.booleanState, ATTRIBUTE.booleanState.stateValue) &&
      (e.deviceTypes.includes(DEVICE_TYPE.waterLeakDetector) ||
        e.deviceTypes.includes(DEVICE_TYPE.rainSensor)),
    kind: () => ({ platform: 'binary_sensor', device_class: 'moisture' }),
    value: (e) => flag(e.get(CLUSTER.booleanState, ATTRIBUTE.booleanState.stateValue)),
  },
  {
    key: 'state',
    cluster: CLUSTER.booleanState,
    reads: [ATTRIBUTE.booleanState.stateValue],
    applies: (e) =>
      e.has(CLUSTER.booleanState, ATTRIBUTE.booleanState.stateValue) &&
      ![DEVICE_TYPE.contactSensor, DEVICE_TYPE.waterLeakDetector, DEVICE_TYPE.rainSensor].some((t) =>
        e.deviceTypes.includes(t),
      ),
    kind: () => ({ platform: 'binary_sensor' }),
    value: (e) => flag(e.get(CLUSTER.booleanState, ATTRIBUTE.booleanState.stateValue)),
  },
  {
    key: 'battery',
    cluster: CLUSTER.powerSource,
    reads: [ATTRIBUTE.powerSource.batPercentRemaining],
    // 11.7.7.12: half-percent steps, 200 = 100 %
    kind: () => ({ platform: 'sensor', device_class: 'battery', unit: '%', state_class: 'measurement' }),
    value: (e) => scaled(e.get(CLUSTER.powerSource, ATTRIBUTE.powerSource.batPercentRemaining), 0.5, 1),
  },
  {
    key: 'battery_voltage',
    cluster: CLUSTER.powerSource,
    reads: [ATTRIBUTE.powerSource.batVoltage],
    kind: () => ({ platform: 'sensor', device_class: 'voltage', unit: 'V', state_class: 'measurement' }),
    value: (e) => scaled(e.get(CLUSTER.powerSource, ATTRIBUTE.powerSource.batVoltage), 0.001, 3),
  },
  {
    key: 'power',
    cluster: CLUSTER.electricalPowerMeasurement,
    reads: [ATTRIBUTE.electricalPowerMeasurement.activePower],
    // 2.13.6: power in mW, voltage in mV, current in mA
    kind: () => ({ platform: 'sensor', device_class: 'power', unit: 'W', state_class: 'measurement' }),
    value: (e) =>
      scaled(
        e.get(CLUSTER.electricalPowerMeasurement, ATTRIBUTE.electricalPowerMeasurement.activePower),
        0.001,
        3,
      ),
  },
  {
    key: 'voltage',
    cluster: CLUSTER.electricalPowerMeasurement,
    reads: [ATTRIBUTE.electricalPowerMeasurement.voltage],
    kind: () => ({ platform: 'sensor', device_class: 'voltage', unit: 'V', state_class: 'measurement' }),
    value: (e) =>
      scaled(
        e.get(CLUSTER.electricalPowerMeasurement, ATTRIBUTE.electricalPowerMeasurement.voltage),
        0.001,
        3,
      ),
  },
  {
    key: 'current',
    cluster: CLUSTER.electricalPowerMeasurement,
    reads: [ATTRIBUTE.electricalPowerMeasurement.activeCurrent],
    kind: () => ({ platform: 'sensor', device_class: 'current', unit: 'A', state_class: 'measurement' }),
    value: (e) =>
      scaled(
        e.get(CLUSTER.electricalPowerMeasurement, ATTRIBUTE.electricalPowerMeasurement.activeCurrent),
        0.001,
        3,
      ),
  },
  {
    key: 'energy',
    cluster: CLUSTER.electricalEnergyMeasurement,
    reads: [ATTRIBUTE.electricalEnergyMeasurement.cumulativeEnergyImported],
    // 2.12.5.1: EnergyMeasurementStruct, field 0 Energy in mWh
    kind: () => ({
      platform: 'sensor',
      device_class: 'energy',
      unit: 'kWh',
      state_class: 'total_increasing',
    }),
    value: (e) => {
      const raw = e.get(
        CLUSTER.electricalEnergyMeasurement,
        ATTRIBUTE.electricalEnergyMeasurement.cumulativeEnergyImported,
      );
      if (raw === null) return null;
      if (typeof raw !== 'object') return undefined;
      const struct = raw as Record<string, unknown>;
      return scaled(struct['0'] ?? struct.energy, 1e-6, 6);
    },
  },
  {
    key: 'lock',
    cluster: CLUSTER.doorLock,
    reads: [ATTRIBUTE.doorLock.lockState],
    kind: () => ({ platform: 'lock' }),
    // 5.2.6.2 LockState: 0 not fully locked, 1 locked, 2 unlocked, 3 unlatched
    value: (e) => {
      const raw = e.get(CLUSTER.doorLock, ATTRIBUTE.doorLock.lockState);
      if (raw === null) return null;
      const n = numberOf(raw);
      return n === undefined ? undefined : n === 1;
    },
    command: (request, e) => {
      // 5.2.10: lock commands need a timed invoke
      const timed = 10_000;
      const unbolt = hasFeature(e, CLUSTER.doorLock, 12) ? 'UnboltDoor' : 'UnlockDoor';
      const name =
        request.action === 'lock' || request.value === true
          ? 'LockDoor'
          : request.action === 'unlock' || request.value === false
            ? 'UnlockDoor'
            : request.action === 'open'
              ? unbolt
              : undefined;
      return name
        ? plan(command(e, CLUSTER.doorLock, name, {}, timed))
        : invalid('takes true, false or the actions lock, unlock, open');
    },
  },
  {
    key: 'cover',
    cluster: CLUSTER.windowCovering,
    reads: [ATTRIBUTE.windowCovering.currentPositionLiftPercent100ths],
    kind: () => ({ platform: 'cover' }),
    // 5.3.6.11: 0 = fully open, 10000 = fully closed; our position is 100 = open
    value: (e) => {
      const raw = e.get(CLUSTER.windowCovering, ATTRIBUTE.windowCovering.currentPositionLiftPercent100ths);
      if (raw === null) return null;
      const n = numberOf(raw);
      return n === undefined ? undefined : round(100 - n / 100, 1);
    },
    command: (request, e) => {
      const actions: Record<string, string> = { open: 'UpOrOpen', close: 'DownOrClose', stop: 'StopMotion' };
      if (request.action !== undefined) {
        const name = actions[request.action];
        return name ? plan(command(e, CLUSTER.windowCovering, name)) : invalid('takes open, close or stop');
      }
      if (typeof request.value !== 'number' || !(request.value >= 0 && request.value <= 100))
        return invalid('takes a position from 0 (closed) to 100 (open)');
      return plan(
        command(e, CLUSTER.windowCovering, 'GoToLiftPercentage', {
          liftPercent100thsValue: Math.round((100 - request.value) * 100),
        }),
      );
    },
  },
  {
    key: 'thermostat',
    cluster: CLUSTER.thermostat,
    reads: [
      ATTRIBUTE.thermostat.occupiedHeatingSetpoint,
      ATTRIBUTE.thermostat.occupiedCoolingSetpoint,
      ATTRIBUTE.thermostat.systemMode,
    ],
    applies: (e) =>
      e.has(CLUSTER.thermostat, ATTRIBUTE.thermostat.occupiedHeatingSetpoint) ||
      e.has(CLUSTER.thermostat, ATTRIBUTE.thermostat.occupiedCoolingSetpoint),
    // 4.3.9: temperatures in centi-°C; the value is the setpoint the current mode works to
    kind: (e) => {
      const min = numberOf(e.get(CLUSTER.thermostat, ATTRIBUTE.thermostat.minHeatSetpointLimit));
      const max = numberOf(e.get(CLUSTER.thermostat, ATTRIBUTE.thermostat.maxHeatSetpointLimit));
      return {
        platform: 'climate',
        unit: '°C',
        step: 0.5,
        ...(min === undefined ? {} : { min: min / 100 }),
        ...(max === undefined ? {} : { max: max / 100 }),
      };
    },
    value: (e) => scaled(e.get(CLUSTER.thermostat, setpointAttribute(e)), 0.01),
    command: thermostatCommand,
  },
  {
    key: 'local_temperature',
    cluster: CLUSTER.thermostat,
    reads: [ATTRIBUTE.thermostat.localTemperature],
    kind: () => ({ platform: 'sensor', device_class: 'temperature', unit: '°C', state_class: 'measurement' }),
    value: (e) => scaled(e.get(CLUSTER.thermostat, ATTRIBUTE.thermostat.localTemperature), 0.01),
  },
];

/** 4.3.9.24 SystemMode values we speak. */
export const THERMOSTAT_MODES: Readonly<Record<string, number>> = { off: 0, auto: 1, cool: 3, heat: 4 };

function setpointAttribute(e: MatterEndpoint): number {
  const cooling =
    numberOf(e.get(CLUSTER.thermostat, ATTRIBUTE.thermostat.systemMode)) === THERMOSTAT_MODES.cool ||
    !e.has(CLUSTER.thermostat, ATTRIBUTE.thermostat.occupiedHeatingSetpoint);
  return cooling
    ? ATTRIBUTE.thermostat.occupiedCoolingSetpoint
    : ATTRIBUTE.thermostat.occupiedHeatingSetpoint;
}

/** A number (the setpoint in °C) or `{temperature?, mode?: off|heat|cool|auto}`: attribute writes. */
function thermostatCommand(request: MatterCommandRequest, e: MatterEndpoint): MatterCommandPlan {
  const fields: Record<string, unknown> =
    typeof request.value === 'number'
      ? { temperature: request.value }
      : request.value !== null && typeof request.value === 'object'
        ? (request.value as Record<string, unknown>)
        : {};
  const { temperature, mode } = fields;
  if (temperature === undefined && mode === undefined)
    return invalid('takes a setpoint in °C or {temperature, mode}');
  const actions: MatterAction[] = [];
  if (mode !== undefined) {
    const value = typeof mode === 'string' ? THERMOSTAT_MODES[mode] : undefined;
    if (value === undefined) return invalid(`mode is one of ${Object.keys(THERMOSTAT_MODES).join(', ')}`);
    actions.push(write(e, CLUSTER.thermostat, ATTRIBUTE.thermostat.systemMode, value));
  }
  if (temperature !== undefined) {
    if (
      typeof temperature !== 'number' ||
      !Number.isFinite(temperature) ||
      temperature < -50 ||
      temperature > 100
    )
      return invalid('temperature is a number of °C');
    const attribute =
      mode === 'cool'
        ? ATTRIBUTE.thermostat.occupiedCoolingSetpoint
        : mode === 'heat'
          ? ATTRIBUTE.thermostat.occupiedHeatingSetpoint
          : setpointAttribute(e);
    actions.push(write(e, CLUSTER.thermostat, attribute, Math.round(temperature * 100)));
  }
  return { ok: true, actions };
}
