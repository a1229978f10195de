// The adapter's view of the decoders in @sentinel/devices: decode an
// advertisement (with the device's bindkey), describe a measurement, and drop
// replayed packet ids. An interface, so tests and benchmarks see the same seam.
import { decodeAdvertisement, measurementMeta, PacketIdFilter } from '@sentinel/devices';
import { colonMac, type parseAdStructures, type RawAdvertisement } from '@sentinel/protocol';

export interface BleAdvertisementInput {
  mac: string;
  name?: string;
  rssi?: number;
  serviceData: { uuid: string; data: Uint8Array }[];
  manufacturerData: { companyId: number; data: Uint8Array }[];
  serviceUuids?: string[];
}

/** A proxy's raw entry and its parsed AD structures → what the decoders take. */
export function advertisementInput(
  entry: RawAdvertisement,
  fields: ReturnType<typeof parseAdStructures>,
): BleAdvertisementInput {
  const adv: BleAdvertisementInput = {
    mac: colonMac(entry.mac),
    rssi: entry.rssi,
    serviceData: fields.serviceData.map((s) => ({ uuid: s.uuid, data: s.data })),
    manufacturerData:
      fields.manufacturerData.length >= 2
        ? [
            {
              companyId: fields.manufacturerData[0]! | (fields.manufacturerData[1]! << 8),
              data: fields.manufacturerData.subarray(2),
            },
          ]
        : [],
    serviceUuids: [...fields.serviceUuids],
  };
  if (fields.localName) adv.name = fields.localName;
  return adv;
}

export type BleMeasurementValue = number | boolean | string;

export type BleDecoded =
  | {
      ok: true;
      format: string;
      measurements: Record<string, BleMeasurementValue>;
      encrypted: boolean;
      packetId?: number;
      counter?: number;
      device?: { manufacturer?: string; model?: string; swVersion?: string };
      /** units differing from the measurement table's, by measurement name */
      units?: Record<string, string>;
    }
  | { ok: false; error: 'unsupported' | 'decrypt failed' | 'malformed' | 'downgrade'; detail: string };

export interface BleMeasurementMeta {
  platform: 'sensor' | 'binary_sensor' | 'event';
  device_class?: string;
  unit?: string;
  state_class?: 'measurement' | 'total' | 'total_increasing';
}

export interface BleDecoder {
  decode(adv: BleAdvertisementInput, bindkey: Uint8Array | undefined): BleDecoded;
  measurement(name: string): BleMeasurementMeta | undefined;
  /** whether a decoded packet is new, a repeat of the last one, or an old one replayed; remembers new ones */
  packet(mac: string, decoded: Extract<BleDecoded, { ok: true }>): 'fresh' | 'duplicate' | 'replay';
  /** a device's key changed: its counters start afresh */
  forget(mac: string): void;
}

/** The decoders of @sentinel/devices, with one packet-id filter per adapter instance. */
export function devicesDecoder(): BleDecoder {
  const filter = new PacketIdFilter();
  return {
    decode: (adv, bindkey) => decodeAdvertisement(adv, bindkey ? { bindkey } : {}),
    measurement: (name) => measurementMeta(name),
    packet(mac, decoded) {
      const verdict = filter.check(mac, decoded);
      return verdict.accept ? 'fresh' : verdict.reason;
    },
    forget: (mac) => filter.forget(mac),
  };
}
