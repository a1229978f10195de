// One entry point for scenario files and load generators: the format by name,
// then that encoder's own input.
import type { BleAdvertisement } from '@sentinel/devices';
import { type BthomeEncodeInput, encodeBthome } from './bthome.js';
import { encodeLayoutAdvertisement, type LayoutEncodeInput } from './layout.js';
import {
  type EddystoneEncodeInput,
  encodeEddystone,
  encodeIbeacon,
  encodeXiaomiScale,
  type IbeaconEncodeInput,
  type XiaomiScaleEncodeInput,
} from './special.js';
import { encodeMibeacon, encodeQingping, type MibeaconEncodeInput, type QingpingEncodeInput } from './tlv.js';

export type AdvertisementSpec =
  | ({ format: 'bthome' } & BthomeEncodeInput)
  | ({ format: 'mibeacon' } & MibeaconEncodeInput)
  | ({ format: 'qingping' } & QingpingEncodeInput)
  /** a fixed-layout row of @sentinel/devices' LAYOUT_FORMATS by id ('govee-h5072', 'pvvx-custom', …) */
  | ({ format: 'layout'; id: string } & LayoutEncodeInput)
  | ({ format: 'xiaomi-scale' } & XiaomiScaleEncodeInput)
  | ({ format: 'ibeacon' } & IbeaconEncodeInput)
  | ({ format: 'eddystone' } & EddystoneEncodeInput);

export function encodeAdvertisement(spec: AdvertisementSpec): BleAdvertisement {
  switch (spec.format) {
    case 'bthome':
      return encodeBthome(spec);
    case 'mibeacon':
      return encodeMibeacon(spec);
    case 'qingping':
      return encodeQingping(spec);
    case 'layout':
      return encodeLayoutAdvertisement(spec.id, spec);
    case 'xiaomi-scale':
      return encodeXiaomiScale(spec);
    case 'ibeacon':
      return encodeIbeacon(spec);
    case 'eddystone':
      return encodeEddystone(spec);
  }
}
