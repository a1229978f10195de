// Fixed-layout advertisement formats, one row per device family, read by
// layout.ts. Sources: pvvx/ATC_MiThermometer README ("Custom format",
// "atc1441 format"), govee-ble's parser, inkbird-ble's parser, SwitchBot's
// BLE open API (docs "Meter", "Motion Sensor"), Ruuvi's data formats
// (docs.ruuvi.com "Data format 5 (RAWv2)", "Data format 3 (RAWv1)").
// Order matters where two rows share a key: the first match wins, so
// name-specific rows come before the generic one.
import type { LayoutField, LayoutFormat } from './layout.js';

const f = (
  name: string,
  at: number,
  type: LayoutField['type'],
  factor?: number,
  more: Partial<LayoutField> = {},
) => ({ name, at, type, ...(factor !== undefined ? { factor } : {}), ...more }) as LayoutField;

const GOVEE = 'Govee';
const probe = (name: string, at: number, more: Partial<LayoutField> = {}) =>
  f(name, at, 'u16be', undefined, { codec: 'govee-probe', ...more });
const GOVEE_BATTERY_ERROR = { at: 5, mask: 0x80 };

// SwitchBot service data (0xFD3D): byte 1 bit 6 is the PIR's motion, byte 2 the
// battery %; the Meter and Meter Plus share one body after the model letter.
const SWITCHBOT_MOTION = f('motion', 1, 'u8', undefined, { mask: 0x40, bool: true });
const SWITCHBOT_BATTERY = f('battery', 2, 'u8', undefined, { mask: 0x7f });
const SWITCHBOT_METER_FIELDS = [
  SWITCHBOT_BATTERY,
  f('temperature', 3, 'u16be', undefined, { codec: 'switchbot-temperature' }),
  f('humidity', 5, 'u8', undefined, { mask: 0x7f }),
];

export const LAYOUT_FORMATS: readonly LayoutFormat[] = [
  // --- ATC1441 / pvvx custom firmware, service data 0x181A, told apart by length ---
  {
    format: 'atc1441',
    id: 'atc1441',
    device: { manufacturer: 'Xiaomi', model: 'ATC1441 firmware' },
    match: { serviceUuid: '181a', length: [13] },
    // MAC (6, big-endian), temperature 0.1 °C BE, humidity %, battery %, battery mV BE, frame counter
    fields: [
      f('temperature', 6, 's16be', 0.1),
      f('humidity', 8, 'u8'),
      f('battery', 9, 'u8'),
      f('voltage', 10, 'u16be', 0.001),
    ],
    packetId: { at: 12, type: 'u8' },
    mac: { at: 0, reversed: false },
  },
  {
    format: 'pvvx-custom',
    id: 'pvvx-custom',
    device: { manufacturer: 'Xiaomi', model: 'pvvx firmware' },
    match: { serviceUuid: '181a', length: [15] },
    // MAC (6, little-endian), temperature 0.01 °C, humidity 0.01 %, battery mV, battery %, counter, flags
    fields: [
      f('temperature', 6, 's16le', 0.01),
      f('humidity', 8, 'u16le', 0.01),
      f('voltage', 10, 'u16le', 0.001),
      f('battery', 12, 'u8'),
    ],
    packetId: { at: 13, type: 'u8' },
    mac: { at: 0, reversed: true },
  },
  {
    format: 'xiaomi-hhccjcy10',
    id: 'xiaomi-hhccjcy10',
    device: { manufacturer: 'Xiaomi', model: 'HHCCJCY10' },
    match: { serviceUuid: 'fd50', length: [9] },
    // moisture %, temperature 0.1 °C BE, illuminance lx (24-bit BE), battery %, conductivity µS/cm BE
    fields: [
      f('moisture', 0, 'u8'),
      f('temperature', 1, 's16be', 0.1),
      f('illuminance', 3, 'u24be'),
      f('battery', 6, 'u8'),
      f('conductivity', 7, 'u16be'),
    ],
  },
  // --- Govee, manufacturer data ---
  {
    format: 'govee',
    id: 'govee-h5072',
    device: { manufacturer: GOVEE, model: 'H5072/H5075' },
    match: { otherLengthsUnsupported: true, companyId: 0xec88, length: [6] },
    fields: [
      f('temperature', 1, 'u24be', undefined, { codec: 'govee-packed-temperature' }),
      f('humidity', 1, 'u24be', undefined, { codec: 'govee-packed-humidity' }),
      f('battery', 4, 'u8', undefined, { mask: 0x7f }),
    ],
  },
  {
    format: 'govee',
    id: 'govee-h5074',
    device: { manufacturer: GOVEE, model: 'H5074' },
    match: { otherLengthsUnsupported: true, companyId: 0xec88, length: [7] },
    fields: [f('temperature', 1, 's16le', 0.01), f('humidity', 3, 'u16le', 0.01), f('battery', 5, 'u8')],
  },
  {
    format: 'govee',
    id: 'govee-h5051',
    device: { manufacturer: GOVEE, model: 'H5051/H5052/H5071' },
    match: { otherLengthsUnsupported: true, companyId: 0xec88, length: [9] },
    fields: [f('temperature', 1, 's16le', 0.01), f('humidity', 3, 'u16le', 0.01), f('battery', 5, 'u8')],
  },
  {
    format: 'govee',
    id: 'govee-h5179',
    device: { manufacturer: GOVEE, model: 'H5179' },
    match: { otherLengthsUnsupported: true, companyId: 0x8801, length: [9] },
    fields: [f('temperature', 4, 's16le', 0.01), f('humidity', 6, 'u16le', 0.01), f('battery', 8, 'u8')],
  },
  {
    format: 'govee',
    id: 'govee-h5106',
    device: { manufacturer: GOVEE, model: 'H5106' },
    match: { otherLengthsUnsupported: true, companyId: 0x0001, length: [6], namePrefix: ['GVH5106'] },
    fields: [
      f('temperature', 2, 'u32be', undefined, { codec: 'govee-h5106-temperature' }),
      f('humidity', 2, 'u32be', undefined, { codec: 'govee-h5106-humidity' }),
      f('pm25', 2, 'u32be', undefined, { codec: 'govee-h5106-pm25' }),
    ],
  },
  {
    format: 'govee',
    id: 'govee-h5101',
    device: { manufacturer: GOVEE, model: 'H5100/H5101/H5102/H5104/H5105/H5110/H5174/H5177' },
    match: { otherLengthsUnsupported: true, companyId: 0x0001, length: [6] },
    fields: [
      f('temperature', 2, 'u24be', undefined, {
        codec: 'govee-packed-temperature',
        errorFlag: GOVEE_BATTERY_ERROR,
      }),
      f('humidity', 2, 'u24be', undefined, {
        codec: 'govee-packed-humidity',
        errorFlag: GOVEE_BATTERY_ERROR,
      }),
      f('battery', 5, 'u8', undefined, { mask: 0x7f }),
    ],
  },
  {
    format: 'govee',
    id: 'govee-h5140',
    device: { manufacturer: GOVEE, model: 'H5140' },
    match: { otherLengthsUnsupported: true, companyId: 0x0001, length: [8], namePrefix: ['GV5140'] },
    fields: [
      f('temperature', 2, 'u24be', undefined, {
        codec: 'govee-packed-temperature',
        errorFlag: { at: 7, mask: 0x01 },
      }),
      f('humidity', 2, 'u24be', undefined, {
        codec: 'govee-packed-humidity',
        errorFlag: { at: 7, mask: 0x01 },
      }),
      f('carbon_dioxide', 5, 'u16be', undefined, { errorFlag: { at: 7, mask: 0x01 } }),
    ],
  },
  {
    format: 'govee',
    id: 'govee-h5112',
    device: { manufacturer: GOVEE, model: 'H5112' },
    match: { otherLengthsUnsupported: true, companyId: 0x0001, length: [8], namePrefix: ['GV5112'] },
    unsupported: 'two-probe frames (probe id in byte 7) are not decoded yet',
    fields: [],
  },
  {
    format: 'govee',
    id: 'govee-h5108',
    device: { manufacturer: GOVEE, model: 'H5108' },
    match: { otherLengthsUnsupported: true, companyId: 0x0001, length: [8] },
    fields: [
      f('temperature', 2, 'u24be', undefined, {
        codec: 'govee-packed-temperature',
        errorFlag: GOVEE_BATTERY_ERROR,
      }),
      f('humidity', 2, 'u24be', undefined, {
        codec: 'govee-packed-humidity',
        errorFlag: GOVEE_BATTERY_ERROR,
      }),
      f('battery', 5, 'u8', undefined, { mask: 0x7f }),
    ],
  },
  ...[0x8803, 0x8843].map(
    (companyId): LayoutFormat => ({
      format: 'govee',
      id: `govee-h5127-${companyId.toString(16)}`,
      device: { manufacturer: GOVEE, model: 'H5127' },
      // presence sensor: status byte 5, bit 0 occupancy, bit 4 motion
      match: { otherLengthsUnsupported: true, companyId, length: [6] },
      fields: [
        f('occupancy', 5, 'u8', undefined, { mask: 0x01, bool: true }),
        f('motion', 5, 'u8', undefined, { mask: 0x10, bool: true }),
      ],
    }),
  ),
  // Meat thermometers: told apart by the model UUID they list (8151 = H5181, …); the
  // company-id bytes are their first payload bytes. Probes: 0.01 °C big-endian
  // temperature and alarm set point; 0xFFFF reads 0 (govee-ble).
  ...(
    [
      ['8151', 'H5181'],
      ['8351', 'H5183'],
    ] as const
  ).map(
    ([uuid, model]): LayoutFormat => ({
      format: 'govee',
      id: `govee-${model.toLowerCase()}`,
      device: { manufacturer: GOVEE, model },
      match: { listedUuid: uuid, length: [14] },
      fields: [probe('temperature_probe_1', 8), probe('temperature_alarm_probe_1', 10)],
    }),
  ),
  {
    format: 'govee',
    id: 'govee-h5182',
    device: { manufacturer: GOVEE, model: 'H5182' },
    match: { listedUuid: '8251', length: [17] },
    fields: [
      probe('temperature_probe_1', 8),
      probe('temperature_alarm_probe_1', 10),
      probe('temperature_probe_2', 13),
      probe('temperature_alarm_probe_2', 15),
    ],
  },
  {
    format: 'govee',
    id: 'govee-h5184',
    device: { manufacturer: GOVEE, model: 'H5184' },
    // byte 6 says which pair of probes the frame carries: 1 → probes 1 and 2, 2 → 3 and 4
    match: { listedUuid: '8451', length: [17] },
    fields: [1, 2].flatMap((pair) => {
      const [a, b] = [2 * pair - 1, 2 * pair];
      const onlyIf = { at: 6, equals: pair };
      return [
        probe(`temperature_probe_${a}`, 8, { onlyIf }),
        probe(`temperature_alarm_probe_${a}`, 10, { onlyIf }),
        probe(`temperature_probe_${b}`, 13, { onlyIf }),
        probe(`temperature_alarm_probe_${b}`, 15, { onlyIf }),
      ];
    }),
  },
  ...(
    [
      ['8551', 'H5185', false],
      ['9851', 'H5198', true],
    ] as const
  ).map(
    ([uuid, model, lowAlarms]): LayoutFormat => ({
      format: 'govee',
      id: `govee-${model.toLowerCase()}`,
      device: { manufacturer: GOVEE, model },
      // low nibble of byte 6: the pair of probes (1 → probes 1 and 2, 2 → 3 and 4)
      match: { listedUuid: uuid, length: [20] },
      fields: [1, 2].flatMap((pair) => {
        const [a, b] = [2 * pair - 1, 2 * pair];
        const onlyIf = { at: 6, mask: 0x0f, equals: pair };
        return [
          probe(`temperature_probe_${a}`, 8, { onlyIf }),
          probe(`temperature_alarm_probe_${a}`, 10, { onlyIf }),
          ...(lowAlarms ? [probe(`low_temperature_alarm_probe_${a}`, 12, { onlyIf })] : []),
          probe(`temperature_probe_${b}`, 14, { onlyIf }),
          probe(`temperature_alarm_probe_${b}`, 16, { onlyIf }),
          ...(lowAlarms ? [probe(`low_temperature_alarm_probe_${b}`, 18, { onlyIf })] : []),
        ];
      }),
    }),
  ),
  {
    format: 'govee',
    id: 'govee-h5191',
    device: { manufacturer: GOVEE, model: 'H5191' },
    match: { listedUuid: '9151', length: [20] },
    fields: [
      probe('temperature_probe_1', 8),
      probe('temperature_alarm_probe_1', 10),
      probe('temperature', 14),
    ],
  },
  // --- Inkbird, manufacturer data; IBS-TH keeps the temperature in the company-id bytes ---
  {
    format: 'inkbird',
    id: 'inkbird-ibs-th',
    device: { manufacturer: 'INKBIRD', model: 'IBS-TH' },
    match: { length: [9], namePrefix: ['sps'] },
    withCompanyId: true,
    fields: [
      f('temperature', 0, 's16le', 0.01),
      f('humidity', 2, 'u16le', 0.01, { reject: [0xffff] }),
      f('battery', 7, 'u8', undefined, { rejectAbove: 100 }),
    ],
  },
  {
    format: 'inkbird',
    id: 'inkbird-ibs-th2',
    device: { manufacturer: 'INKBIRD', model: 'IBS-TH2/P01B' },
    match: { length: [9], namePrefix: ['tps'] },
    withCompanyId: true,
    // a TH2 without the humidity probe sends 0 there, a P01B (no humidity sensor) 0xFFFF
    fields: [
      f('temperature', 0, 's16le', 0.01),
      f('humidity', 2, 'u16le', 0.01, { absent: [0, 0xffff] }),
      f('battery', 7, 'u8', undefined, { rejectAbove: 100 }),
    ],
  },
  {
    format: 'inkbird',
    id: 'inkbird-ibbq',
    device: { manufacturer: 'INKBIRD', model: 'iBBQ/xBBQ' },
    match: { length: [12, 16, 20], namePrefix: ['xBBQ', 'iBBQ'] },
    // probes: 0.1 °C little-endian from byte 8; 0xFFFF = probe unplugged
    fields: [1, 2, 3, 4, 5, 6].map((p) =>
      f(`temperature_probe_${p}`, 6 + 2 * p, 's16le', 0.1, { absent: [-1] }),
    ),
  },
  {
    format: 'inkbird',
    id: 'inkbird-16',
    device: { manufacturer: 'INKBIRD', model: 'IBS-P02B/ITH-11-B/ITH-13-B/ITH-21-B' },
    // company id 0x2449: temperature 0.1 °C LE at 4, humidity 0.1 % LE at 6 (0 = no probe, 0xFFFF = invalid frame), battery at 8
    match: { companyId: 0x2449, length: [16] },
    fields: [
      f('temperature', 4, 's16le', 0.1),
      f('humidity', 6, 'u16le', 0.1, { absent: [0], reject: [0xffff] }),
      f('battery', 8, 'u8', undefined, { rejectAbove: 100 }),
    ],
  },
  {
    format: 'inkbird',
    id: 'inkbird-iam-t2',
    device: { manufacturer: 'INKBIRD', model: 'IAM-T2' },
    // temperature 0.1 ° big-endian at 8, in °F when bit 1 of byte 7 is set; humidity 0.1 % at 10; CO₂ ppm at 12
    match: { companyId: 0x3254, length: [15] },
    fields: [
      f('temperature', 8, 's16be', 0.1, { onlyIf: { at: 7, mask: 0x02, equals: 0 } }),
      f('temperature', 8, 's16be', undefined, {
        codec: 'fahrenheit-tenths',
        onlyIf: { at: 7, mask: 0x02, equals: 0x02 },
      }),
      // more than 100.0 %: a corrupt frame (inkbird-ble drops it)
      f('humidity', 10, 'u16be', 0.1, { rejectAbove: 1000 }),
      f('carbon_dioxide', 12, 'u16be'),
    ],
  },
  // --- SwitchBot ---
  {
    format: 'switchbot',
    id: 'switchbot-meter',
    device: { manufacturer: 'SwitchBot', model: 'Meter' },
    match: { serviceUuid: 'fd3d', length: [6], firstByte: { mask: 0x7f, value: 0x54 } },
    fields: SWITCHBOT_METER_FIELDS,
  },
  {
    format: 'switchbot',
    id: 'switchbot-meter-plus',
    device: { manufacturer: 'SwitchBot', model: 'Meter Plus' },
    match: { serviceUuid: 'fd3d', length: [6], firstByte: { mask: 0x7f, value: 0x69 } },
    fields: SWITCHBOT_METER_FIELDS,
  },
  {
    format: 'switchbot',
    id: 'switchbot-motion',
    device: { manufacturer: 'SwitchBot', model: 'Motion Sensor' },
    match: { serviceUuid: 'fd3d', length: [6], firstByte: { mask: 0x7f, value: 0x73 } },
    fields: [SWITCHBOT_MOTION, SWITCHBOT_BATTERY],
  },
  // Bot 'H', Curtain 'c', Contact Sensor 'd', Outdoor Meter 'w', Blind Tilt 'x': battery in byte 2
  ...(
    [
      [0x48, 'Bot'],
      [0x63, 'Curtain'],
      [0x77, 'Outdoor Meter'],
      [0x78, 'Blind Tilt'],
    ] as const
  ).map(
    ([letter, model]): LayoutFormat => ({
      format: 'switchbot',
      id: `switchbot-${model.toLowerCase().replace(' ', '-')}`,
      device: { manufacturer: 'SwitchBot', model },
      match: { serviceUuid: 'fd3d', minLength: 3, firstByte: { mask: 0x7f, value: letter } },
      fields: [SWITCHBOT_BATTERY],
    }),
  ),
  {
    format: 'switchbot',
    id: 'switchbot-contact',
    device: { manufacturer: 'SwitchBot', model: 'Contact Sensor' },
    match: { serviceUuid: 'fd3d', minLength: 3, firstByte: { mask: 0x7f, value: 0x64 } },
    // byte 1 bit 6: the PIR beside the contact saw motion
    fields: [SWITCHBOT_MOTION, SWITCHBOT_BATTERY],
  },
  {
    format: 'switchbot',
    id: 'switchbot-meter-manufacturer',
    device: { manufacturer: 'SwitchBot', model: 'Meter (manufacturer data)' },
    // MAC (6), sequence, state, then the meter's temperature and humidity bytes
    match: { companyId: 0x0969, length: [11, 12] },
    mac: { at: 0, reversed: false },
    fields: [
      f('temperature', 8, 'u16be', undefined, { codec: 'switchbot-temperature' }),
      f('humidity', 10, 'u8', undefined, { mask: 0x7f }),
    ],
  },
  // --- Ruuvi, manufacturer data 0x0499 ---
  {
    format: 'ruuvi',
    id: 'ruuvi-rawv2',
    device: { manufacturer: 'Ruuvi Innovations', model: 'RuuviTag (RAWv2)' },
    match: { companyId: 0x0499, length: [24], prefix: [0x05] },
    fields: [
      f('temperature', 1, 's16be', 0.005, { absent: [-32768] }),
      f('humidity', 3, 'u16be', 0.0025, { absent: [0xffff] }),
      f('pressure', 5, 'u16be', 0.01, { add: 500, absent: [0xffff] }),
      // milli-g → m/s²
      f('acceleration_x', 7, 's16be', 0.00980665, { absent: [-32768] }),
      f('acceleration_y', 9, 's16be', 0.00980665, { absent: [-32768] }),
      f('acceleration_z', 11, 's16be', 0.00980665, { absent: [-32768] }),
      f('voltage', 13, 'u16be', undefined, { codec: 'ruuvi-v2-voltage' }),
      f('tx_power', 13, 'u16be', undefined, { codec: 'ruuvi-v2-tx-power' }),
      f('movement_counter', 15, 'u8', undefined, { absent: [0xff] }),
    ],
    packetId: { at: 16, type: 'u16be' },
  },
  {
    format: 'ruuvi',
    id: 'ruuvi-rawv1',
    device: { manufacturer: 'Ruuvi Innovations', model: 'RuuviTag (RAWv1)' },
    match: { companyId: 0x0499, length: [14], prefix: [0x03] },
    fields: [
      f('humidity', 1, 'u8', 0.5),
      f('temperature', 2, 'u16be', undefined, { codec: 'ruuvi-v1-temperature' }),
      f('pressure', 4, 'u16be', 0.01, { add: 500 }),
      f('acceleration_x', 6, 's16be', 0.00980665),
      f('acceleration_y', 8, 's16be', 0.00980665),
      f('acceleration_z', 10, 's16be', 0.00980665),
      f('voltage', 12, 'u16be', 0.001),
    ],
  },
];
