// The decode half of `npm run bench -- ble`: advertisements decoded per second on
// one core over a realistic mix of formats (plain and encrypted), with a peer
// measured in the same run: JSON.parse of the same advertisement as the JSON a
// proxy publishes (MAC, RSSI, hex service/manufacturer data) — the work every
// advertisement costs before any decoding, so the ratio says what decoding adds.
//
// Run alone: node bin/run-ts.js bench/ble-decode.ts [--seconds 2]
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { type BleAdvertisement, decodeAdvertisement } from '@sentinel/devices';
import {
  encodeBthome,
  encodeLayoutAdvertisement,
  encodeMibeacon,
  encodeQingping,
} from '@sentinel/simulators';
import { formatRate, formatTable } from './lib/report.js';

export interface DecodeRateOptions {
  /** how long each side is measured, in total (default 2000 ms) */
  durationMs?: number;
  /** distinct devices in the mix (default 200) */
  devices?: number;
}

export interface DecodeSample {
  adv: BleAdvertisement;
  bindkey?: Uint8Array;
  label: string;
  encrypted: boolean;
}

export interface DecodeRateResult {
  /** advertisements decoded per second, one core */
  decodedPerSecond: number;
  peer: { name: string; perSecond: number };
  /** decodedPerSecond / peer.perSecond */
  ratio: number;
  /** share of each kind of advertisement in the mix */
  mix: { label: string; encrypted: boolean; share: number }[];
  /** decodes that did not succeed (must be 0: the mix is all valid) */
  failures: number;
  durationMs: number;
}

const KEY = Uint8Array.from(Buffer.from('231d39c1d7cc1ab1aee224cd096db932', 'hex'));

/** The mix: weights roughly what a house full of cheap sensors sends. */
export function decodeMix(devices = 200): DecodeSample[] {
  const kinds: { weight: number; make: (mac: string, i: number) => DecodeSample }[] = [
    {
      weight: 25,
      make: (mac, i) => ({
        label: 'BTHome v2',
        encrypted: false,
        adv: encodeBthome({
          mac,
          packetId: i,
          measurements: { temperature: 21.5 + (i % 10), humidity: 48.2, battery: 93 },
        }),
      }),
    },
    {
      weight: 15,
      make: (mac, i) => ({
        label: 'BTHome v2 (AES-CCM)',
        encrypted: true,
        bindkey: KEY,
        adv: encodeBthome({
          mac,
          bindkey: KEY,
          counter: i + 1,
          measurements: { temperature: 20.1, humidity: 51.3, battery: 88 },
        }),
      }),
    },
    {
      weight: 10,
      make: (mac, i) => ({
        label: 'MiBeacon',
        encrypted: false,
        adv: encodeMibeacon({
          mac,
          productId: 0x01aa,
          frameCounter: i,
          version: 2,
          measurements: { temperature: 22.4, humidity: 60.1 },
        }),
      }),
    },
    {
      weight: 10,
      make: (mac, i) => ({
        label: 'MiBeacon v5 (AES-CCM)',
        encrypted: true,
        bindkey: KEY,
        adv: encodeMibeacon({
          mac,
          productId: 0x055b,
          frameCounter: i,
          version: 5,
          bindkey: KEY,
          counter: i,
          measurements: { humidity: 46 },
        }),
      }),
    },
    {
      weight: 15,
      make: (mac, i) => ({
        label: 'pvvx custom',
        encrypted: false,
        adv: encodeLayoutAdvertisement('pvvx-custom', {
          mac,
          packetId: i,
          measurements: { temperature: 23.51, humidity: 60.58, voltage: 2.877, battery: 75 },
        }),
      }),
    },
    {
      weight: 5,
      make: (mac) => ({
        label: 'ATC1441',
        encrypted: false,
        adv: encodeLayoutAdvertisement('atc1441', {
          mac,
          measurements: { temperature: 22.4, humidity: 62, battery: 73, voltage: 2.86 },
        }),
      }),
    },
    {
      weight: 10,
      make: (mac) => ({
        label: 'Govee H5075',
        encrypted: false,
        adv: encodeLayoutAdvertisement('govee-h5072', {
          mac,
          name: 'GVH5075_1234',
          measurements: { temperature: 26.8, humidity: 52.6, battery: 100 },
        }),
      }),
    },
    {
      weight: 5,
      make: (mac) => ({
        label: 'Ruuvi RAWv2',
        encrypted: false,
        adv: encodeLayoutAdvertisement('ruuvi-rawv2', {
          mac,
          measurements: {
            temperature: 24.3,
            humidity: 53.49,
            pressure: 1000.44,
            acceleration_x: 0.04,
            acceleration_y: -0.04,
            acceleration_z: 10.16,
            voltage: 2.977,
            tx_power: 4,
          },
        }),
      }),
    },
    {
      weight: 5,
      make: (mac) => ({
        label: 'Qingping',
        encrypted: false,
        adv: encodeQingping({ mac, measurements: { temperature: 24.4, humidity: 31.5, battery: 100 } }),
      }),
    },
  ];
  const total = kinds.reduce((n, k) => n + k.weight, 0);
  const samples: DecodeSample[] = [];
  for (let d = 0; d < devices; d++) {
    // deterministic spread of kinds by weight
    const pick = ((d * 37) % total) + 0.5;
    let sum = 0;
    const kind =
      kinds.find((k) => {
        sum += k.weight;
        return pick < sum;
      }) ?? kinds[0]!;
    const mac = `A4:C1:38:${((d >> 8) & 0xff).toString(16).padStart(2, '0')}:${(d & 0xff).toString(16).padStart(2, '0')}:7E`;
    samples.push(kind.make(mac, d));
  }
  return samples;
}

/** The advertisement as a proxy would publish it: JSON with hex payloads. */
function asJson(adv: BleAdvertisement): string {
  return JSON.stringify({
    mac: adv.mac,
    rssi: -70,
    service_data: Object.fromEntries(
      adv.serviceData.map((s) => [s.uuid, Buffer.from(s.data).toString('hex')]),
    ),
    manufacturer_data: Object.fromEntries(
      adv.manufacturerData.map((m) => [m.companyId, Buffer.from(m.data).toString('hex')]),
    ),
  });
}

function rate(durationMs: number, work: () => number): { perSecond: number; extra: number } {
  let n = 0;
  let extra = 0;
  const start = performance.now();
  let now = start;
  while (now - start < durationMs) {
    extra += work();
    n += 1;
    now = performance.now();
  }
  return { perSecond: (n * 1000) / (now - start), extra };
}

/** Decode rate vs the JSON.parse peer, measured alternately in rounds so both see the same machine. */
export async function measureDecodeRate(options: DecodeRateOptions = {}): Promise<DecodeRateResult> {
  const durationMs = options.durationMs ?? 2000;
  const samples = decodeMix(options.devices);
  const jsons = samples.map((s) => asJson(s.adv));
  const batch = samples.length;
  const decodeBatch = () => {
    let failed = 0;
    for (const s of samples)
      if (!decodeAdvertisement(s.adv, s.bindkey ? { bindkey: s.bindkey } : {}).ok) failed++;
    return failed;
  };
  const parseBatch = () => {
    let keys = 0;
    for (const j of jsons) keys += (JSON.parse(j) as { mac: string }).mac.length > 0 ? 0 : 1;
    return keys;
  };
  // warm-up: JIT, key cache
  rate(100, decodeBatch);
  rate(100, parseBatch);
  const rounds = 4;
  let decoded = 0;
  let parsed = 0;
  let failures = 0;
  for (let r = 0; r < rounds; r++) {
    const d = rate(durationMs / rounds, decodeBatch);
    decoded += d.perSecond * batch;
    failures += d.extra;
    parsed += rate(durationMs / rounds, parseBatch).perSecond * batch;
    await new Promise((resolve) => setImmediate(resolve));
  }
  const counts = new Map<string, { encrypted: boolean; n: number }>();
  for (const s of samples)
    counts.set(s.label, { encrypted: s.encrypted, n: (counts.get(s.label)?.n ?? 0) + 1 });
  const decodedPerSecond = decoded / rounds;
  const peer = { name: 'JSON.parse of the same advertisement as proxy JSON', perSecond: parsed / rounds };
  return {
    decodedPerSecond,
    peer,
    ratio: decodedPerSecond / peer.perSecond,
    mix: [...counts].map(([label, c]) => ({ label, encrypted: c.encrypted, share: c.n / samples.length })),
    failures,
    durationMs,
  };
}

export function formatDecodeRate(result: DecodeRateResult): string {
  return formatTable(
    ['what (one core)', 'advertisements/s', 'ratio'],
    [
      ['decodeAdvertisement, mixed formats', formatRate(result.decodedPerSecond), result.ratio.toFixed(2)],
      [result.peer.name, formatRate(result.peer.perSecond), '1.00'],
    ],
    [false, true, true],
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const at = process.argv.indexOf('--seconds');
  const seconds = at > 0 ? Number(process.argv[at + 1]) : 2;
  const result = await measureDecodeRate({ durationMs: seconds * 1000 });
  process.stdout.write(
    `${formatDecodeRate(result)}\n\nmix: ${result.mix.map((m) => `${m.label} ${Math.round(m.share * 100)}%`).join(', ')}\n`,
  );
  if (result.failures) process.stdout.write(`FAILED decodes: ${result.failures}\n`);
}
