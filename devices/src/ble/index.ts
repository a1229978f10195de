// BLE advertisement decoding: tables of formats and the engine that reads them.

export {
  BTHOME_INFO_ENCRYPTED,
  BTHOME_INFO_MAC_INCLUDED,
  BTHOME_INFO_TRIGGER,
  BTHOME_INFO_VERSION_SHIFT,
  BTHOME_OBJECTS,
  BTHOME_V1_AAD,
  BTHOME_V1_ENCRYPTED_UUID,
  BTHOME_V1_UUID,
  BTHOME_V2_UUID,
  type BthomeObject,
  bthomeObject,
  bthomeV1Nonce,
  bthomeV2Nonce,
} from './bthome.js';
export { NUM_SIZE, type NumType, readNum, writeNum } from './bytes.js';
export { ccmEncrypt } from './ccm.js';
export { decodeAdvertisement, parseMac, shortUuid } from './decode.js';
export { LAYOUT_FORMATS } from './formats.js';
export { CODECS, type CodecName, encodeLayout, type LayoutField, type LayoutFormat } from './layout.js';
export { BLE_MEASUREMENTS, type MeasurementMeta, measurementMeta } from './measurements.js';
export {
  FRCTRL,
  LEGACY_KEY_FILLER,
  legacyKey,
  MIBEACON_UUID,
  mibeaconLegacyNonce,
  mibeaconV4Nonce,
} from './mibeacon.js';
export { MIBEACON_MODELS, MIBEACON_OBJECTS, QINGPING_OBJECTS, type TlvObject } from './objects.js';
export { PacketIdFilter, type PacketIdFilterOptions, type PacketVerdict } from './packet-id.js';
export { QINGPING_UUID } from './qingping.js';
export { APPLE_COMPANY_ID, EDDYSTONE_UUID } from './special.js';
export type {
  BleAdvertisement,
  BleDecodeErrorCode,
  BleDecodeFailure,
  BleDecodeResult,
  BleDecodeSuccess,
  BleDeviceInfo,
  BleManufacturerData,
  BleServiceData,
  DecodeOptions,
  MeasurementValue,
} from './types.js';
