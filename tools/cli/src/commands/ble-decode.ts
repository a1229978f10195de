// `sentinel ble decode`: decodes one BLE advertisement given on the command line
// (CONTRACT.md §5). Prints {"format","measurements"} on stdout, or exits 1 with
// the reason (`unsupported`, `decrypt failed`, `malformed`, `downgrade`) first
// on the error line.
import { type BleAdvertisement, decodeAdvertisement, parseMac } from '@sentinel/devices';
import type { Command } from 'commander';
import { z } from 'zod';
import { CliError, UsageError } from '../errors.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

const HexSchema = z
  .string()
  .transform((s) => s.replace(/^0x/i, '').replace(/[\s:-]/g, ''))
  .refine(
    (s) => s.length % 2 === 0 && /^[0-9a-fA-F]*$/.test(s),
    'must be hex bytes (an even number of 0-9a-f)',
  );

const UuidSchema = z
  .string()
  .transform((s) => s.replace(/^0x/i, '').toLowerCase())
  .refine(
    (s) =>
      /^[0-9a-f]{4}$/.test(s) || /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(s),
    'must be a 16-bit UUID (fcd2) or the 128-bit form',
  );

/**
 * A company id in hexadecimal, as the Bluetooth SIG assigns them and every tool
 * prints them: `ec88`, `0499` or `0x0499` (1–4 hex digits). Decimal is not read:
 * `1177` is 0x1177, and a five-digit number is refused with its hex spelling.
 */
export function parseCompanyId(raw: string): number | string {
  const digits = raw.replace(/^0x/i, '');
  if (/^[0-9a-f]{1,4}$/i.test(digits)) return Number.parseInt(digits, 16);
  const hint =
    /^\d{5}$/.test(raw) && Number(raw) <= 0xffff
      ? ` (company ids are hexadecimal: did you mean ${Number(raw).toString(16).padStart(4, '0')}?)`
      : '';
  return `must be a 16-bit company id in hex, 1–4 digits with or without 0x (e.g. 0499, ec88, 0x0499)${hint}`;
}

const CompanyIdSchema = z.string().transform((s, ctx) => {
  const id = parseCompanyId(s);
  if (typeof id === 'number') return id;
  ctx.addIssue({ code: 'custom', message: id });
  return z.NEVER;
});

function pair<K>(flag: string, raw: string, key: z.ZodType<K, string>): [K, Uint8Array] {
  const at = raw.indexOf('=');
  if (at < 0) throw new UsageError(`${flag} "${raw}": expected <key>=<hex>`);
  const k = key.safeParse(raw.slice(0, at));
  if (!k.success) throw new UsageError(`${flag} "${raw}": the key ${k.error.issues[0]!.message}`);
  const hex = HexSchema.safeParse(raw.slice(at + 1));
  if (!hex.success) throw new UsageError(`${flag} "${raw}": the data ${hex.error.issues[0]!.message}`);
  return [k.data, Uint8Array.from(Buffer.from(hex.data, 'hex'))];
}

interface DecodeFlags {
  mac: string;
  serviceData: string[];
  manufacturerData: string[];
  name?: string;
  serviceUuid: string[];
  bindkey?: string;
}

/** Builds the advertisement from the flags; bad input is a UsageError (exit 2). */
export function advertisementFromFlags(flags: DecodeFlags): { adv: BleAdvertisement; bindkey?: Uint8Array } {
  if (!parseMac(flags.mac))
    throw new UsageError(`--mac "${flags.mac}": expected six hex bytes like AA:BB:CC:DD:EE:FF`);
  const adv: BleAdvertisement = {
    mac: flags.mac,
    ...(flags.name !== undefined ? { name: flags.name } : {}),
    serviceData: flags.serviceData.map((raw) => {
      const [uuid, data] = pair('--service-data', raw, UuidSchema);
      return { uuid, data };
    }),
    manufacturerData: flags.manufacturerData.map((raw) => {
      const [companyId, data] = pair('--manufacturer-data', raw, CompanyIdSchema);
      return { companyId, data };
    }),
  };
  const listed = flags.serviceUuid.map((raw) => {
    const uuid = UuidSchema.safeParse(raw);
    if (!uuid.success) throw new UsageError(`--service-uuid "${raw}": ${uuid.error.issues[0]!.message}`);
    return uuid.data;
  });
  if (listed.length) adv.serviceUuids = listed;
  if (adv.serviceData.length === 0 && adv.manufacturerData.length === 0)
    throw new UsageError('give at least one --service-data or --manufacturer-data');
  if (flags.bindkey === undefined) return { adv };
  const key = HexSchema.safeParse(flags.bindkey);
  if (!key.success || ![12, 16].includes(key.data.length / 2))
    throw new UsageError('--bindkey: expected 16 bytes (32 hex digits), or 12 for legacy MiBeacon');
  return { adv, bindkey: Uint8Array.from(Buffer.from(key.data, 'hex')) };
}

export function registerBleDecodeCommand(ble: Command): void {
  ble
    .command('decode')
    .description(
      'decode one advertisement: prints {"format","measurements"}; exits 1 with "unsupported", "decrypt failed", "malformed" or "downgrade"',
    )
    .requiredOption(
      '--mac <MAC>',
      "the sender's address, AA:BB:CC:DD:EE:FF (BTHome and MiBeacon nonces use it)",
    )
    .option('--service-data <uuid=hex>', 'service data, e.g. fcd2=40020c09 (repeatable)', collect, [])
    .option(
      '--manufacturer-data <company-id=hex>',
      'manufacturer data without the company id bytes, e.g. ec88=00034db26400; the company id in hex (ec88, 0499 or 0x0499) as the Bluetooth SIG assigns it (repeatable)',
      collect,
      [],
    )
    .option('--name <local name>', 'the local name (some formats are told apart by it)')
    .option(
      '--service-uuid <uuid>',
      'a service UUID the advertisement lists (Govee meat thermometers are told apart by it; repeatable)',
      collect,
      [],
    )
    .option('--bindkey <hex>', 'the encryption key of the device (default: none)')
    .action((flags: DecodeFlags) => {
      const { adv, bindkey } = advertisementFromFlags(flags);
      const result = decodeAdvertisement(adv, bindkey ? { bindkey } : {});
      if (!result.ok) throw new CliError(`${result.error}: ${result.detail}`);
      process.stdout.write(
        `${JSON.stringify({ format: result.format, measurements: result.measurements })}\n`,
      );
    });
}
