// Inputs for `nvs build` and the shape `nvs dump` prints.
//
// CSV: ESP-IDF nvs_partition_gen.py's format. A header row `key,type,encoding,value`,
// lines starting with '#' skipped, then rows of
//   <namespace name>,namespace,,          starts a namespace
//   <key>,data,<encoding>,<value>         encodings u8 i8 u16 i16 u32 i32 u64 i64 string hex2bin base64
//   <key>,file,<encoding>,<path>          string/hex2bin/base64 read from the file, binary = raw bytes
// JSON (what `nvs dump` prints, so a dump builds back to the same data):
//   {"namespaces":{"picket":{"device_id":{"type":"string","value":"kitchen"},
//                            "boots":{"type":"u32","value":3},"cert":{"type":"blob","hex":"00ff"}}}}
// 64-bit integers may be given as decimal strings (JSON numbers lose precision past 2^53).

import { z } from 'zod';
import { firstIssue } from '../format-error.js';
import { INTEGER_TYPES, type IntegerType, NvsFormatError, type NvsItem } from './format.js';

const INTEGER_NAMES = Object.keys(INTEGER_TYPES) as IntegerType[];

function hexBytes(text: string, where: string): Uint8Array {
  const clean = text.trim();
  if (clean.length % 2 !== 0 || !/^[0-9a-f]*$/i.test(clean))
    throw new NvsFormatError(
      'bad-input',
      `${where}: "${clean.slice(0, 20)}" is not an even number of hex digits`,
    );
  return Uint8Array.from({ length: clean.length / 2 }, (_, i) =>
    Number.parseInt(clean.slice(i * 2, i * 2 + 2), 16),
  );
}

function base64Bytes(text: string, where: string): Uint8Array {
  const clean = text.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean) || clean.length % 4 === 1)
    throw new NvsFormatError('bad-input', `${where}: not valid base64`);
  const binary = atob(clean);
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

function integer(text: string, where: string): bigint {
  const clean = text.trim();
  if (!/^-?(0x[0-9a-f]+|\d+)$/i.test(clean))
    throw new NvsFormatError('bad-input', `${where}: "${clean}" is not an integer`);
  return clean.startsWith('-') ? -BigInt(clean.slice(1)) : BigInt(clean);
}

/** Splits one CSV line, honouring double quotes ("" inside quotes is a quote). */
function splitCsvLine(line: string): string[] {
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      fields.push(field);
      field = '';
    } else field += c;
  }
  fields.push(field);
  return fields;
}

export interface NvsCsvOptions {
  /** reads the file a `file` row names (relative to the CSV); without it `file` rows are refused */
  readFile?: (path: string) => Uint8Array;
}

export function parseNvsCsv(text: string, options: NvsCsvOptions = {}): NvsItem[] {
  const lines = text.split(/\r?\n/);
  const items: NvsItem[] = [];
  let header: string[] | undefined;
  let namespace: string | undefined;
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index]!;
    if (line.trim() === '' || line.startsWith('#')) continue;
    const fields = splitCsvLine(line).map((f) => f.trim());
    const where = `line ${index + 1}`;
    if (!header) {
      header = fields;
      if (!['key', 'type', 'encoding', 'value'].every((name) => header!.includes(name)))
        throw new NvsFormatError(
          'bad-input',
          `${where}: the first row must be the header key,type,encoding,value`,
        );
      continue;
    }
    const row = Object.fromEntries(header.map((name, i) => [name, fields[i] ?? '']));
    const { key, type, encoding, value } = row as Record<'key' | 'type' | 'encoding' | 'value', string>;
    if (type === 'namespace') {
      namespace = key;
      continue;
    }
    if (type !== 'data' && type !== 'file')
      throw new NvsFormatError('bad-input', `${where}: type "${type}" is not namespace, data or file`);
    if (namespace === undefined)
      throw new NvsFormatError('bad-input', `${where}: "${key}" comes before any namespace row`);
    let raw: Uint8Array | undefined;
    if (type === 'file') {
      if (!options.readFile) throw new NvsFormatError('bad-input', `${where}: file rows need a file reader`);
      raw = options.readFile(value);
    }
    const text = raw ? new TextDecoder().decode(raw) : value;
    const label = `${where} "${key}"`;
    if ((INTEGER_NAMES as string[]).includes(encoding)) {
      items.push({ namespace, key, type: encoding as IntegerType, value: integer(text, label) });
    } else if (encoding === 'string') {
      items.push({ namespace, key, type: 'string', value: text });
    } else if (encoding === 'hex2bin') {
      items.push({ namespace, key, type: 'blob', value: hexBytes(text, label) });
    } else if (encoding === 'base64') {
      items.push({ namespace, key, type: 'blob', value: base64Bytes(text, label) });
    } else if (encoding === 'binary' && raw) {
      items.push({ namespace, key, type: 'blob', value: raw });
    } else {
      throw new NvsFormatError(
        'bad-input',
        `${label}: unsupported encoding "${encoding}" (u8, i8, u16, i16, u32, i32, u64, i64, string, hex2bin, base64; binary for files)`,
      );
    }
  }
  if (!header)
    throw new NvsFormatError('bad-input', 'the CSV is empty: expected a key,type,encoding,value header');
  return items;
}

const IntegerValue = z.union([z.number().int(), z.string().regex(/^-?\d+$/, 'a decimal integer')]);

const JsonValueSchema = z.union([
  z.string(),
  z.object({ type: z.enum(INTEGER_NAMES as [IntegerType, ...IntegerType[]]), value: IntegerValue }).strict(),
  z.object({ type: z.literal('string'), value: z.string() }).strict(),
  z
    .object({
      type: z.literal('blob'),
      hex: z.string().regex(/^([0-9a-fA-F]{2})*$/, 'an even number of hex digits'),
    })
    .strict(),
]);

export const NvsJsonSchema = z
  .object({
    namespaces: z.record(z.string(), z.record(z.string(), JsonValueSchema)),
  })
  .passthrough();

export type NvsJson = z.infer<typeof NvsJsonSchema>;

export function parseNvsJson(input: unknown): NvsItem[] {
  const parsed = NvsJsonSchema.safeParse(input);
  if (!parsed.success) {
    throw new NvsFormatError('bad-input', firstIssue(parsed.error, '(top)'), { cause: parsed.error });
  }
  const items: NvsItem[] = [];
  for (const [namespace, keys] of Object.entries(parsed.data.namespaces))
    for (const [key, entry] of Object.entries(keys)) {
      if (typeof entry === 'string') items.push({ namespace, key, type: 'string', value: entry });
      else if (entry.type === 'string') items.push({ namespace, key, type: 'string', value: entry.value });
      else if (entry.type === 'blob')
        items.push({ namespace, key, type: 'blob', value: hexBytes(entry.hex, key) });
      else items.push({ namespace, key, type: entry.type, value: BigInt(entry.value) });
    }
  return items;
}

type JsonEntry =
  | { type: IntegerType; value: number | string }
  | { type: 'string'; value: string }
  | { type: 'blob'; hex: string };

/** Items as the JSON `parseNvsJson` reads (a later value of the same key wins, as in nvs_get). */
export function nvsItemsToJson(items: readonly NvsItem[]): {
  namespaces: Record<string, Record<string, JsonEntry>>;
} {
  const namespaces: Record<string, Record<string, JsonEntry>> = {};
  for (const item of items) {
    namespaces[item.namespace] ??= {};
    const ns = namespaces[item.namespace]!;
    if (item.type === 'string') ns[item.key] = { type: 'string', value: item.value };
    else if (item.type === 'blob')
      ns[item.key] = {
        type: 'blob',
        hex: Array.from(item.value, (b) => b.toString(16).padStart(2, '0')).join(''),
      };
    else {
      const value = BigInt(item.value);
      ns[item.key] = {
        type: item.type,
        value:
          value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
            ? Number(value)
            : value.toString(),
      };
    }
  }
  return { namespaces };
}
