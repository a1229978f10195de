// Encoders: measurements (+ key, counter) → the advertisement bytes a real device
// sends, for every format @sentinel/devices decodes.

export { type AdvertisementSpec, encodeAdvertisement } from './any.js';
export { type BthomeEncodeInput, encodeBthome } from './bthome.js';
export { BleEncodeError, type EncodeBase, type Measurements } from './common.js';
export { encodeLayoutAdvertisement, LAYOUT_FORMAT_IDS, type LayoutEncodeInput } from './layout.js';
export {
  type EddystoneEncodeInput,
  encodeEddystone,
  encodeIbeacon,
  encodeXiaomiScale,
  type IbeaconEncodeInput,
  type XiaomiScaleEncodeInput,
} from './special.js';
export { encodeMibeacon, encodeQingping, type MibeaconEncodeInput, type QingpingEncodeInput } from './tlv.js';
