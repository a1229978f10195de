// Matter cluster, attribute and device type ids the mappings read (Matter 1.3 Application
// Cluster Specification and Device Library), named once so the tables stay legible.

export const CLUSTER = {
  descriptor: 0x001d,
  basicInformation: 0x0028,
  bridgedDeviceBasicInformation: 0x0039,
  onOff: 0x0006,
  levelControl: 0x0008,
  booleanState: 0x0045,
  powerSource: 0x002f,
  doorLock: 0x0101,
  windowCovering: 0x0102,
  thermostat: 0x0201,
  colorControl: 0x0300,
  temperatureMeasurement: 0x0402,
  relativeHumidityMeasurement: 0x0405,
  occupancySensing: 0x0406,
  electricalPowerMeasurement: 0x0090,
  electricalEnergyMeasurement: 0x0091,
} as const;

/** Attribute ids per cluster (spec section in the comment). */
export const ATTRIBUTE = {
  /** 9.5 Descriptor */
  descriptor: { deviceTypeList: 0x0000, serverList: 0x0001 },
  /** 11.1 Basic Information */
  basicInformation: {
    vendorName: 0x0001,
    productName: 0x0003,
    nodeLabel: 0x0005,
    softwareVersionString: 0x000a,
    serialNumber: 0x000f,
  },
  /** 1.5 On/Off */
  onOff: { onOff: 0x0000 },
  /** 1.6 Level Control */
  levelControl: { currentLevel: 0x0000, minLevel: 0x0002, maxLevel: 0x0003 },
  /** 1.7 Boolean State */
  booleanState: { stateValue: 0x0000 },
  /** 11.7 Power Source */
  powerSource: { batVoltage: 0x000b, batPercentRemaining: 0x000c },
  /** 5.2 Door Lock */
  doorLock: { lockState: 0x0000, doorState: 0x0003 },
  /** 5.3 Window Covering */
  windowCovering: { currentPositionLiftPercent100ths: 0x000e },
  /** 4.3 Thermostat */
  thermostat: {
    localTemperature: 0x0000,
    occupiedCoolingSetpoint: 0x0011,
    occupiedHeatingSetpoint: 0x0012,
    minHeatSetpointLimit: 0x0015,
    maxHeatSetpointLimit: 0x0016,
    systemMode: 0x001c,
  },
  /** 3.2 Color Control */
  colorControl: {
    colorTemperatureMireds: 0x0007,
    colorTempPhysicalMinMireds: 0x400b,
    colorTempPhysicalMaxMireds: 0x400c,
  },
  /** 2.3 Temperature Measurement */
  temperatureMeasurement: { measuredValue: 0x0000 },
  /** 2.6 Relative Humidity Measurement */
  relativeHumidityMeasurement: { measuredValue: 0x0000 },
  /** 2.7 Occupancy Sensing */
  occupancySensing: { occupancy: 0x0000 },
  /** 2.13 Electrical Power Measurement */
  electricalPowerMeasurement: { voltage: 0x0004, activeCurrent: 0x0005, activePower: 0x0008 },
  /** 2.12 Electrical Energy Measurement */
  electricalEnergyMeasurement: { cumulativeEnergyImported: 0x0001 },
  /** global attributes (7.13) */
  global: { featureMap: 0xfffc },
} as const;

/** Device types (Device Library) whose On/Off is a light, and other types a mapping tells apart. */
export const DEVICE_TYPE = {
  aggregator: 0x000e,
  bridgedNode: 0x0013,
  contactSensor: 0x0015,
  waterLeakDetector: 0x0043,
  rainSensor: 0x0044,
  onOffLight: 0x0100,
  dimmableLight: 0x0101,
  colorTemperatureLight: 0x010c,
  extendedColorLight: 0x010d,
  onOffPlugInUnit: 0x010a,
  dimmablePlugInUnit: 0x010b,
  mountedOnOffControl: 0x010f,
  mountedDimmableLoadControl: 0x0110,
} as const;

export const LIGHT_DEVICE_TYPES: readonly number[] = [
  DEVICE_TYPE.onOffLight,
  DEVICE_TYPE.dimmableLight,
  DEVICE_TYPE.colorTemperatureLight,
  DEVICE_TYPE.extendedColorLight,
];

export const OUTLET_DEVICE_TYPES: readonly number[] = [
  DEVICE_TYPE.onOffPlugInUnit,
  DEVICE_TYPE.dimmablePlugInUnit,
];
