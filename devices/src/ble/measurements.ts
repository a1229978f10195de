// What each measurement name means to the entity model: platform, device class,
// unit, state class. Names and units follow the Home Assistant BLE parser
// libraries (sensor-state-data keys) as CONTRACT.md §5 requires; formats those
// libraries do not cover use BTHome's object names. A second object of a kind
// is `<name>_2`, `<name>_3`, … and shares its base name's metadata.

export interface MeasurementMeta {
  platform: 'sensor' | 'binary_sensor' | 'event';
  device_class?: string;
  unit?: string;
  state_class?: 'measurement' | 'total_increasing';
}

const m = (device_class: string | undefined, unit?: string): MeasurementMeta => ({
  platform: 'sensor',
  ...(device_class ? { device_class } : {}),
  ...(unit ? { unit } : {}),
  state_class: 'measurement',
});
const total = (device_class: string | undefined, unit?: string): MeasurementMeta => ({
  platform: 'sensor',
  ...(device_class ? { device_class } : {}),
  ...(unit ? { unit } : {}),
  state_class: 'total_increasing',
});
const plain = (unit?: string): MeasurementMeta => ({ platform: 'sensor', ...(unit ? { unit } : {}) });
const plainTemperature = (): MeasurementMeta => ({
  platform: 'sensor',
  device_class: 'temperature',
  unit: '°C',
});
const bin = (device_class?: string): MeasurementMeta => ({
  platform: 'binary_sensor',
  ...(device_class ? { device_class } : {}),
});
const event = (device_class: string): MeasurementMeta => ({ platform: 'event', device_class });

export const BLE_MEASUREMENTS: Record<string, MeasurementMeta> = {
  // sensors
  packet_id: plain(),
  signal_strength: m('signal_strength', 'dBm'),
  tx_power: m('signal_strength', 'dBm'),
  battery: m('battery', '%'),
  temperature: m('temperature', '°C'),
  humidity: m('humidity', '%'),
  pressure: m('pressure', 'hPa'),
  illuminance: m('illuminance', 'lx'),
  mass: m('weight', 'kg'),
  mass_non_stabilized: m('weight', 'kg'),
  impedance: m(undefined, 'Ω'),
  impedance_low: m(undefined, 'Ω'),
  impedance_high: m(undefined, 'Ω'),
  dew_point: m('temperature', '°C'),
  // set points of a meat thermometer's probe alarms
  temperature_alarm: plainTemperature(),
  low_temperature_alarm: plainTemperature(),
  count: m(undefined),
  energy: total('energy', 'kWh'),
  power: m('power', 'W'),
  voltage: m('voltage', 'V'),
  current: m('current', 'A'),
  pm25: m('pm25', 'µg/m³'),
  pm10: m('pm10', 'µg/m³'),
  carbon_dioxide: m('carbon_dioxide', 'ppm'),
  volatile_organic_compounds: m('volatile_organic_compounds', 'µg/m³'),
  formaldehyde: m(undefined, 'mg/m³'),
  moisture: m('moisture', '%'),
  conductivity: m('conductivity', 'µS/cm'),
  consumable: m(undefined, '%'),
  rotation: m(undefined, '°'),
  distance: m('distance', 'mm'),
  duration: m('duration', 's'),
  speed: m('speed', 'm/s'),
  uv_index: m(undefined),
  volume: total('volume', 'L'),
  volume_flow_rate: m('volume_flow_rate', 'm³/h'),
  gas: total('gas', 'm³'),
  water: total('water', 'L'),
  volume_storage: m('volume_storage', 'L'),
  timestamp: plain(),
  acceleration: m(undefined, 'm/s²'),
  acceleration_x: m(undefined, 'm/s²'),
  acceleration_y: m(undefined, 'm/s²'),
  acceleration_z: m(undefined, 'm/s²'),
  gyroscope: m(undefined, '°/s'),
  direction: m(undefined, '°'),
  precipitation: m('precipitation', 'mm'),
  channel: plain(),
  rotational_speed: m(undefined, 'rpm'),
  // BTHome 0x64: 0 dark, 1 twilight, 2 bright
  light_level: m(undefined),
  // BTHome 0x65: which revision of its settings the device runs
  settings_revision: plain(),
  movement_counter: total(undefined),
  measurement_sequence: plain(),
  steps: total(undefined),
  heart_rate: m(undefined, 'bpm'),
  text: plain(),
  raw: plain(),
  instance_id: plain(),
  major: plain(),
  minor: plain(),
  uuid: plain(),
  url: plain(),
  uptime: m('duration', 's'),
  dimmer_steps: m(undefined),
  // BTHome 0x3B command arguments: steps of step_up / step_down, or the raw arguments of other opcodes
  command_steps: m(undefined),
  command_args: plain(),
  counter: m('duration', 's'),
  score: m(undefined, '%'),
  profile_id: plain(),
  // binary sensors
  generic: bin(),
  power_on: bin('power'),
  opening: bin('opening'),
  battery_low: bin('battery'),
  battery_charging: bin('battery_charging'),
  carbon_monoxide: bin('carbon_monoxide'),
  cold: bin('cold'),
  connectivity: bin('connectivity'),
  door: bin('door'),
  garage_door: bin('garage_door'),
  gas_detected: bin('gas'),
  heat: bin('heat'),
  light: bin('light'),
  lock: bin('lock'),
  moisture_detected: bin('moisture'),
  motion: bin('motion'),
  moving: bin('moving'),
  occupancy: bin('occupancy'),
  plug: bin('plug'),
  presence: bin('presence'),
  problem: bin('problem'),
  running: bin('running'),
  safety: bin('safety'),
  smoke: bin('smoke'),
  sound: bin('sound'),
  tamper: bin('tamper'),
  vibration: bin('vibration'),
  window: bin('window'),
  stabilized: bin(),
  toothbrush: bin('running'),
  door_left_open: bin('problem'),
  device_forcibly_removed: bin('tamper'),
  occupancy_close_range: bin('occupancy'),
  pressure_present_duration: m('duration', 's'),
  pressure_not_present_duration: m('duration', 's'),
  duration_detected: m('duration', 'min'),
  duration_cleared: m('duration', 'min'),
  // events
  button: event('button'),
  dimmer: event('dimmer'),
  command: event('command'),
};

/** Metadata for a name: `temperature_2` and `temperature_probe_2` resolve to `temperature`. */
export function measurementMeta(name: string): MeasurementMeta | undefined {
  const direct = BLE_MEASUREMENTS[name];
  if (direct) return direct;
  return BLE_MEASUREMENTS[name.replace(/_\d+$/, '').replace(/_probe$/, '')];
}
