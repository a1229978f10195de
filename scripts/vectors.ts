// `npm run vectors`: runs our BLE decoders against the shared reference vectors
// (../shared/vectors/ble/*.jsonl next to the repository, read at run time and
// never copied in). Each line is one advertisement with what a reference decoder
// (govee-ble, inkbird-ble, xiaomi-ble, Theengs decoder) produced for it.
//
//   npm run vectors [-- --verbose] [-- --dir <folder>]
//
// Per source file and format it prints: total, fully asserted ("check":
// "asserted-equal"), passed, failed, skipped (with why). Only the keys a vector
// expects are compared; numbers within 0.01 or 0.1 %. Events ("events") are
// compared with our event measurements. A negative vector passes when we decode
// nothing from it (a failure, or no measurements).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  type BleAdvertisement,
  type BleDecodeResult,
  decodeAdvertisement,
  type MeasurementValue,
} from '@sentinel/devices';
import { z } from 'zod';

export const DEFAULT_VECTOR_DIR = resolve(
  dirname(fileURLToPath(import.meta.url)),
  '../../shared/vectors/ble',
);

const Hex = z.string();
export const VectorSchema = z
  .object({
    id: z.string(),
    source: z.string(),
    format: z.string(),
    data_hex: z.string().optional(),
    mac: z.string().nullish(),
    local_name: z.string().nullish(),
    service_uuid: z.string().nullish(),
    manufacturer_id: z.number().nullish(),
    manufacturer_data_full_hex: z.string().nullish(),
    bindkey: z.string().nullish(),
    adv: z
      .object({
        service_data: z.record(z.string(), Hex),
        manufacturer_data: z.record(z.string(), Hex),
        service_uuids: z.array(z.string()).optional(),
      })
      .passthrough()
      .optional(),
    theengs_input: z
      .object({
        servicedata: z.string().optional(),
        servicedatauuid: z.string().optional(),
        manufacturerdata: z.string().optional(),
        name: z.string().optional(),
      })
      .passthrough()
      .optional(),
    expected: z.record(z.string(), z.unknown()),
    events: z.record(z.string(), z.unknown()).nullish(),
    negative: z.boolean().optional(),
    check: z.string(),
    parser_config: z.unknown().optional(),
  })
  .passthrough();
export type Vector = z.infer<typeof VectorSchema>;

/** Vector formats our decoders claim; everything else is skipped as "format not supported". */
export const SUPPORTED_FORMATS: ReadonlySet<string> = new Set([
  'bthome-v2',
  'bthome-v2-encrypted',
  'xiaomi-mibeacon',
  'xiaomi-mibeacon-encrypted',
  'xiaomi-hhccjcy10',
  'xiaomi-scale',
  'xiaomi-scale-v1',
  'xiaomi-scale-v2',
  'atc1441',
  'pvvx-custom',
  'govee',
  'inkbird',
  'qingping',
  'switchbot',
  'ruuvi',
  'ibeacon',
]);

/**
 * Where a reference and we knowingly differ, listed so they show up in the table
 * as skips with a reason instead of hiding in a failure count:
 * - `ignore-keys`: the keys are left out of the comparison (a vector left with
 *   nothing to compare is skipped);
 * - `skip`: vectors whose id matches, or that expect one of the keys, are skipped.
 */
export interface KnownDifference {
  source: string;
  format?: string;
  ids?: RegExp;
  keys?: RegExp;
  /** only vectors for which this holds, given our decoding (default: all of the source/format) */
  when?: (v: Vector, ours: BleDecodeResult) => boolean;
  action: 'skip' | 'ignore-keys' | 'rename-keys';
  /** with rename-keys: their key → ours */
  rename?: Record<string, string>;
  why: string;
}

export const KNOWN_DIFFERENCES: readonly KnownDifference[] = [
  {
    source: 'theengs-decoder',
    format: 'ruuvi',
    keys: /^acceleration_[xyz]$/,
    action: 'ignore-keys',
    why: 'Theengs scales Ruuvi milli-g by 0.000980665 (a tenth of m/s²); we report m/s²',
  },
  {
    source: 'theengs-decoder',
    format: 'xiaomi-scale',
    // a reading Theengs gives in kg is compared; lb and jin readings are not
    when: (v) => (v.expected_other_theengs_keys as { unit?: string } | undefined)?.unit !== 'kg',
    action: 'skip',
    why: 'Theengs reports scale mass in the display unit (lb, jin); we follow xiaomi-ble (kg)',
  },
  {
    source: 'theengs-decoder',
    format: 'xiaomi-scale',
    when: (_v, ours) => ours.ok && ours.measurements.stabilized === false,
    keys: /^impedance$/,
    action: 'rename-keys',
    rename: { mass: 'mass_non_stabilized' },
    why: 'Theengs calls a reading that is not stabilized (or whose load was removed) `mass`; we follow xiaomi-ble: `mass_non_stabilized`, and no impedance',
  },
  {
    source: 'theengs-decoder',
    format: 'switchbot',
    ids: /BlindTilt/,
    keys: /^motion$/,
    action: 'ignore-keys',
    why: 'Theengs reports motion: false for the SwitchBot Blind Tilt, which has no motion sensor',
  },
  {
    source: 'theengs-decoder',
    format: 'bthome-v2',
    keys: /^opening$/,
    action: 'ignore-keys',
    why: 'Theengs calls BTHome object 0x2D `opening`; bthome-ble and we call it `window`',
  },
  {
    source: 'theengs-decoder',
    format: 'qingping',
    ids: /Qingping Door (Open|Close)$/,
    action: 'skip',
    why: 'a door state in a second 0x0F object is Theengs-only; we read 0x0F as the packet id',
  },
  {
    source: 'theengs-decoder',
    format: 'govee',
    ids: /mfgdata\[9\]:H5075$/,
    action: 'skip',
    why: 'Theengs gives -7.3481 °C from a 0.1 °C field (its own rounding artefact)',
  },
  {
    source: 'theengs-decoder',
    format: 'ibeacon',
    keys: /^voltage$/,
    action: 'skip',
    why: 'vendor-specific iBeacon payloads (a battery voltage in major/minor) are not decoded',
  },
  {
    source: 'xiaomi-ble',
    keys: /^(button_(left|right|middle|on)|cube|dimmer|power)$/,
    action: 'skip',
    why: 'per-model multi-button, dimmer and cube event maps are not built',
  },
  {
    source: 'xiaomi-ble',
    keys: /^voltage$/,
    action: 'ignore-keys',
    why: 'xiaomi-ble derives a voltage from the battery % for some models; we report the battery only',
  },
  {
    source: 'xiaomi-ble',
    format: 'xiaomi-mibeacon-encrypted',
    keys: /^moisture$/,
    action: 'ignore-keys',
    why: 'a binary leak state is `moisture_detected` here (`moisture` is the % sensor)',
  },
  {
    source: 'xiaomi-ble',
    ids: /MUE4094RT|LYWSD03MMC_encrypted#/,
    action: 'skip',
    why: 'per-model quirks of xiaomi-ble (motion as an event; humidity truncated to whole %)',
  },
];

export type Outcome = { kind: 'pass' } | { kind: 'fail'; diff: string[] } | { kind: 'skip'; why: string };

const isHex = (s: string) => s.length % 2 === 0 && /^[0-9a-fA-F]*$/.test(s);
const bytes = (hex: string) => Uint8Array.from(Buffer.from(hex, 'hex'));

/** The advertisement a vector describes, or why it cannot be built. */
export function advertisementOf(v: Vector): BleAdvertisement | string {
  const mac = v.mac ?? '';
  const name = v.local_name ?? v.theengs_input?.name ?? undefined;
  if (v.adv) {
    const all = [...Object.values(v.adv.service_data), ...Object.values(v.adv.manufacturer_data)];
    if (!all.every(isHex)) return 'vector data is not hex';
    return {
      mac,
      ...(name ? { name } : {}),
      serviceData: Object.entries(v.adv.service_data).map(([uuid, hex]) => ({
        uuid: uuid.toLowerCase(),
        data: bytes(hex),
      })),
      manufacturerData: Object.entries(v.adv.manufacturer_data).map(([id, hex]) => ({
        companyId: Number(id),
        data: bytes(hex),
      })),
      ...(v.adv.service_uuids ? { serviceUuids: v.adv.service_uuids } : {}),
    };
  }
  const t = v.theengs_input;
  if (!t) return 'vector has neither adv nor theengs_input';
  const adv: BleAdvertisement = { mac, ...(name ? { name } : {}), serviceData: [], manufacturerData: [] };
  if (t.servicedata !== undefined) {
    if (!isHex(t.servicedata)) return 'vector data is not hex';
    // Theengs matches MiBeacon service data without its UUID; the radio would have sent 0xFE95
    const uuid = t.servicedatauuid?.replace(/^0x/, '').toLowerCase() ?? v.service_uuid ?? 'fe95';
    adv.serviceData.push({ uuid, data: bytes(t.servicedata) });
  }
  if (t.manufacturerdata !== undefined) {
    if (!isHex(t.manufacturerdata) || t.manufacturerdata.length < 4) return 'vector data is not hex';
    const full = bytes(t.manufacturerdata);
    adv.manufacturerData.push({ companyId: full[0]! | (full[1]! << 8), data: full.subarray(2) });
  }
  return adv;
}

/** Theengs vectors may give service data without its UUID; advertisementOf then assumes MiBeacon. */
function guessedUuid(v: Vector): boolean {
  return (
    !v.adv &&
    v.theengs_input?.servicedata !== undefined &&
    !v.theengs_input.servicedatauuid &&
    !v.service_uuid
  );
}

function same(expected: unknown, actual: MeasurementValue | undefined): boolean {
  if (actual === undefined) return false;
  if (typeof expected === 'number' && typeof actual === 'number')
    return Math.abs(expected - actual) <= Math.max(0.01, Math.abs(expected) * 0.001);
  if (expected && typeof expected === 'object' && 'event_type' in expected)
    return (expected as { event_type: unknown }).event_type === actual;
  return expected === actual;
}

export function runVector(v: Vector): Outcome {
  if (!SUPPORTED_FORMATS.has(v.format)) return { kind: 'skip', why: 'format not supported' };
  if (v.parser_config !== undefined)
    return { kind: 'skip', why: 'needs a parser_config (device type forced by the user)' };
  const adv = advertisementOf(v);
  if (typeof adv === 'string') return { kind: 'skip', why: adv };
  const result = decodeAdvertisement(adv, v.bindkey ? { bindkey: bytes(v.bindkey) } : {});
  const expected: Record<string, unknown> = { ...v.expected, ...(v.events ?? {}) };
  const hadExpectations = Object.keys(expected).length > 0;
  for (const d of KNOWN_DIFFERENCES) {
    if (v.source !== d.source || (d.format !== undefined && v.format !== d.format)) continue;
    if (d.when && !d.when(v, result)) continue;
    if (d.action === 'skip') {
      const byId = d.ids?.test(v.id) ?? false;
      const byKey = d.keys ? Object.keys(expected).some((k) => d.keys!.test(k)) : false;
      if (byId || byKey || (!d.ids && !d.keys)) return { kind: 'skip', why: `known difference: ${d.why}` };
    } else if (!d.ids || d.ids.test(v.id)) {
      for (const k of Object.keys(expected)) if (d.keys?.test(k)) delete expected[k];
      for (const [theirs, ours] of Object.entries(d.rename ?? {}))
        if (theirs in expected) {
          expected[ours] = expected[theirs];
          delete expected[theirs];
        }
    }
  }
  if (hadExpectations && Object.keys(expected).length === 0)
    return { kind: 'skip', why: 'known difference: every expected key is a known difference' };
  const keys = Object.keys(expected);
  if (keys.length === 0) {
    if (!result.ok) return { kind: 'pass' };
    const got = Object.keys(result.measurements).filter((k) => k !== 'packet_id');
    return got.length === 0
      ? { kind: 'pass' }
      : { kind: 'fail', diff: [`expected nothing, got ${JSON.stringify(result.measurements)}`] };
  }
  if (!result.ok) {
    if (result.error === 'malformed' && guessedUuid(v))
      return { kind: 'skip', why: 'Theengs input without a service UUID, not MiBeacon data' };
    if (result.error === 'unsupported')
      return { kind: 'skip', why: `model not supported (${result.detail})` };
    return { kind: 'fail', diff: [`${result.error}: ${result.detail}`] };
  }
  const diff: string[] = [];
  for (const key of keys)
    if (!same(expected[key], result.measurements[key]))
      diff.push(
        `${key}: expected ${JSON.stringify(expected[key])}, got ${JSON.stringify(result.measurements[key])}`,
      );
  return diff.length ? { kind: 'fail', diff } : { kind: 'pass' };
}

export interface Row {
  file: string;
  format: string;
  total: number;
  fullyAsserted: number;
  passed: number;
  failed: number;
  skipped: number;
  skipReasons: Map<string, number>;
  failures: { id: string; fully: boolean; diff: string[] }[];
  /** fully asserted vectors that failed */
  fullyFailed: number;
}

export function loadVectors(dir: string): { file: string; vectors: Vector[] }[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .sort()
    .map((file) => ({
      file,
      vectors: readFileSync(join(dir, file), 'utf8')
        .split('\n')
        .filter((l) => l.trim())
        .map((l) => VectorSchema.parse(JSON.parse(l))),
    }));
}

export function runVectors(dir: string): Row[] {
  const rows = new Map<string, Row>();
  for (const { file, vectors } of loadVectors(dir)) {
    for (const v of vectors) {
      const format = v.format.split(':')[0]!;
      const key = `${file}\u0000${format}`;
      let row = rows.get(key);
      if (!row) {
        row = {
          file,
          format,
          total: 0,
          fullyAsserted: 0,
          passed: 0,
          failed: 0,
          skipped: 0,
          skipReasons: new Map(),
          failures: [],
          fullyFailed: 0,
        };
        rows.set(key, row);
      }
      const fully = v.check === 'asserted-equal';
      row.total++;
      if (fully) row.fullyAsserted++;
      const outcome = runVector(v);
      if (outcome.kind === 'pass') row.passed++;
      else if (outcome.kind === 'skip') {
        row.skipped++;
        const why = outcome.why.replace(/ \(.*\)$/, '').replace(/^known difference: .*/, 'known difference');
        row.skipReasons.set(why, (row.skipReasons.get(why) ?? 0) + 1);
      } else {
        row.failed++;
        if (fully) row.fullyFailed++;
        row.failures.push({ id: v.id, fully, diff: outcome.diff });
      }
    }
  }
  return [...rows.values()];
}

function printTable(rows: Row[], verbose: boolean): void {
  const head = ['file', 'format', 'total', 'fully asserted', 'passed', 'failed', 'skipped', 'why skipped'];
  const lines = rows.map((r) => [
    r.file,
    r.format,
    String(r.total),
    String(r.fullyAsserted),
    String(r.passed),
    String(r.failed),
    String(r.skipped),
    [...r.skipReasons].map(([why, n]) => `${n}× ${why}`).join('; '),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: string[]) =>
    cells
      .map((c, i) => (i >= 2 && i <= 6 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  process.stdout.write(`${fmt(head)}\n`);
  for (const l of lines) process.stdout.write(`${fmt(l)}\n`);
  const sum = (k: 'total' | 'fullyAsserted' | 'passed' | 'failed' | 'skipped' | 'fullyFailed') =>
    rows.reduce((a, r) => a + r[k], 0);
  process.stdout.write(
    `\nall: ${sum('total')} vectors, ${sum('fullyAsserted')} fully asserted, ${sum('passed')} passed, ${sum('failed')} failed (${sum('fullyFailed')} of them fully asserted), ${sum('skipped')} skipped\n`,
  );
  process.stdout.write('\nknown differences (skipped, or keys left out of the comparison):\n');
  for (const d of KNOWN_DIFFERENCES)
    process.stdout.write(`  ${d.source}${d.format ? ` ${d.format}` : ''}: ${d.why}\n`);
  if (verbose)
    for (const r of rows)
      for (const f of r.failures)
        process.stdout.write(
          `\nFAIL ${f.fully ? '' : '(partially asserted) '}${f.id}\n  ${f.diff.join('\n  ')}\n`,
        );
}

async function main(argv: string[]): Promise<number> {
  const verbose = argv.includes('--verbose') || argv.includes('-v');
  const at = argv.indexOf('--dir');
  const dir = at >= 0 && argv[at + 1] ? resolve(argv[at + 1]!) : DEFAULT_VECTOR_DIR;
  if (argv.includes('--help')) {
    process.stdout.write('usage: npm run vectors [-- --verbose] [-- --dir <folder of *.jsonl>]\n');
    return 0;
  }
  if (!existsSync(dir)) {
    const where = dir === DEFAULT_VECTOR_DIR ? '../shared/vectors/ble next to the repository' : dir;
    process.stdout.write(`vectors: skipped, no vector folder at ${where}\n`);
    return 0;
  }
  printTable(runVectors(dir), verbose);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}
