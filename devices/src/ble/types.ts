// The shape every BLE decoder takes in and gives back. A proxy or the noble
// bindings fill a BleAdvertisement; decodeAdvertisement answers with a result
// the gateway can turn into entities without knowing the format.

export interface BleServiceData {
  /** lowercase: 4 hex digits for a 16-bit UUID ('fcd2') or the full 128-bit form */
  uuid: string;
  data: Uint8Array;
}

export interface BleManufacturerData {
  companyId: number;
  /** without the two company-id bytes */
  data: Uint8Array;
}

export interface BleAdvertisement {
  /** 'AA:BB:CC:DD:EE:FF', any case */
  mac: string;
  name?: string;
  rssi?: number;
  serviceData: BleServiceData[];
  manufacturerData: BleManufacturerData[];
  serviceUuids?: string[];
}

export type MeasurementValue = number | boolean | string;

export interface BleDeviceInfo {
  manufacturer?: string;
  model?: string;
  /** firmware version the device announces (BTHome 0xF1/0xF2: '4.2.1.0', '6.1.0') */
  swVersion?: string;
  /** BTHome device type id (0xF0) */
  deviceTypeId?: number;
}

export type BleDecodeErrorCode = 'unsupported' | 'decrypt failed' | 'malformed' | 'downgrade';

export type BleDecodeResult =
  | {
      ok: true;
      format: string;
      measurements: Record<string, MeasurementValue>;
      encrypted: boolean;
      /** BTHome packet id or MiBeacon frame counter: what PacketIdFilter compares */
      packetId?: number;
      /** the 32-bit (BTHome) or 24-bit (MiBeacon) encryption counter of an encrypted packet */
      counter?: number;
      device?: BleDeviceInfo;
      /**
       * the unit of a measurement whose unit is not BLE_MEASUREMENTS' for its name
       * (BTHome 0x48: `volume` in mL, where 0x47/0x4E give L), by measurement key
       */
      units?: Record<string, string>;
      /** decoding stopped early and kept what came before (BTHome: an unknown object id, as bthome-ble does) */
      warning?: string;
    }
  | { ok: false; error: BleDecodeErrorCode; detail: string };

export type BleDecodeSuccess = Extract<BleDecodeResult, { ok: true }>;
export type BleDecodeFailure = Extract<BleDecodeResult, { ok: false }>;

export interface DecodeOptions {
  /** the device's key: 16 bytes (BTHome, MiBeacon v4/v5) or 12/16 bytes (MiBeacon v2/v3) */
  bindkey?: Uint8Array;
}
