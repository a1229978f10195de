// Reads an NVS partition (layout in format.ts) the way nvs_flash loads one: pages in
// sequence-number order, empty pages skipped, written entries only, every CRC checked.
// By default the first damaged structure throws a NvsFormatError naming it; with
// `lenient`, damaged entries are skipped (as nvs_flash erases them) and listed in `problems`.

import { nvsCrc32 } from '../crc.js';
import {
  BITMAP_OFFSET,
  ENTRIES_PER_PAGE,
  ENTRY_SIZE,
  ENTRY_STATE,
  entryCrcInput,
  FIRST_ENTRY_OFFSET,
  FORMAT_VERSION_2,
  INTEGER_TYPES,
  type IntegerType,
  ITEM_TYPES,
  type NvsErrorReason,
  NvsFormatError,
  type NvsItem,
  PAGE_SIZE,
  PAGE_STATE,
} from './format.js';

export type PageStateName = keyof typeof PAGE_STATE | 'unknown';

export interface NvsPageInfo {
  /** position in the partition */
  index: number;
  state: PageStateName;
  seq: number | null;
  /** entries marked written */
  written: number;
}

export interface NvsProblem {
  reason: NvsErrorReason;
  message: string;
  page: number;
  entry?: number;
}

export interface NvsContents {
  items: NvsItem[];
  pages: NvsPageInfo[];
  problems: NvsProblem[];
}

export interface ReadNvsOptions {
  lenient?: boolean;
}

const stateName = (value: number): PageStateName =>
  (Object.entries(PAGE_STATE).find(([, v]) => v === value)?.[0] as PageStateName | undefined) ?? 'unknown';

const TYPE_NAMES = new Map<number, IntegerType>(
  (Object.keys(INTEGER_TYPES) as IntegerType[]).map((name) => [ITEM_TYPES[name], name]),
);

function readKey(entry: Uint8Array): string {
  const field = entry.subarray(8, 24);
  const end = field.indexOf(0);
  return new TextDecoder().decode(end === -1 ? field : field.subarray(0, end));
}

interface RawItem {
  ns: number;
  key: string;
  type: number;
  chunk: number;
  /** integer values, or the BLOB_IDX fields */
  data: Uint8Array;
  /** SZ / BLOB_DATA payload */
  payload?: Uint8Array;
  page: number;
  entry: number;
}

export function readNvsPartition(bytes: Uint8Array, options: ReadNvsOptions = {}): NvsContents {
  if (bytes.length === 0 || bytes.length % PAGE_SIZE !== 0)
    throw new NvsFormatError(
      'bad-size',
      `an NVS partition is whole ${PAGE_SIZE}-byte pages; this one is ${bytes.length} bytes`,
    );
  const problems: NvsProblem[] = [];
  const report = (problem: NvsProblem) => {
    if (!options.lenient) throw new NvsFormatError(problem.reason, problem.message);
    problems.push(problem);
  };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const pages: NvsPageInfo[] = [];
  const loaded: { seq: number; raw: RawItem[] }[] = [];

  for (let index = 0; index < bytes.length / PAGE_SIZE; index++) {
    const base = index * PAGE_SIZE;
    const state = view.getUint32(base, true);
    const info: NvsPageInfo = { index, state: stateName(state), seq: null, written: 0 };
    pages.push(info);
    // an erased page (and a page mid-erase or marked corrupt) holds nothing to load
    if (state === PAGE_STATE.empty || state === PAGE_STATE.corrupt || state === PAGE_STATE.invalid) continue;
    if (info.state === 'unknown') {
      report({
        reason: 'bad-page-crc',
        message: `page ${index}: unknown page state 0x${state.toString(16)}`,
        page: index,
      });
      continue;
    }
    const storedCrc = view.getUint32(base + 28, true);
    const crc = nvsCrc32(bytes.subarray(base + 4, base + 28));
    if (storedCrc !== crc) {
      report({
        reason: 'bad-page-crc',
        message: `page ${index}: header CRC 0x${storedCrc.toString(16)} does not match 0x${crc.toString(16)}`,
        page: index,
      });
      continue;
    }
    if (bytes[base + 8] !== FORMAT_VERSION_2) {
      report({
        reason: 'bad-page-version',
        message: `page ${index}: format version 0x${bytes[base + 8]!.toString(16)}, only version 2 (0xfe) is supported`,
        page: index,
      });
      continue;
    }
    info.seq = view.getUint32(base + 4, true);
    const raw: RawItem[] = [];
    const entryState = (i: number) => (bytes[base + BITMAP_OFFSET + (i >> 2)]! >> ((i & 3) * 2)) & 3;
    for (let i = 0; i < ENTRIES_PER_PAGE; ) {
      if (entryState(i) !== ENTRY_STATE.written) {
        i++;
        continue;
      }
      const at = base + FIRST_ENTRY_OFFSET + i * ENTRY_SIZE;
      const entry = bytes.subarray(at, at + ENTRY_SIZE);
      const where = `page ${index} entry ${i}`;
      const storedEntryCrc = view.getUint32(at + 4, true);
      const entryCrc = nvsCrc32(entryCrcInput(entry));
      info.written++;
      if (storedEntryCrc !== entryCrc) {
        report({
          reason: 'bad-entry-crc',
          message: `${where}: entry CRC 0x${storedEntryCrc.toString(16)} does not match 0x${entryCrc.toString(16)}`,
          page: index,
          entry: i,
        });
        i++;
        continue;
      }
      const type = entry[1]!;
      const span = entry[2]!;
      const key = readKey(entry);
      const item: RawItem = {
        ns: entry[0]!,
        key,
        type,
        chunk: entry[3]!,
        data: entry.subarray(24, 32),
        page: index,
        entry: i,
      };
      if (type === ITEM_TYPES.string || type === ITEM_TYPES.blob_data || type === ITEM_TYPES.blob_v1) {
        const size = view.getUint16(at + 24, true);
        if (span < 1 || i + span > ENTRIES_PER_PAGE || size > (span - 1) * ENTRY_SIZE) {
          report({
            reason: 'bad-span',
            message: `${where} "${key}": span ${span} cannot hold ${size} bytes`,
            page: index,
            entry: i,
          });
          i++;
          continue;
        }
        const payload = bytes.subarray(at + ENTRY_SIZE, at + ENTRY_SIZE + size);
        const storedDataCrc = view.getUint32(at + 28, true);
        const dataCrc = nvsCrc32(payload);
        if (storedDataCrc !== dataCrc) {
          report({
            reason: 'bad-data-crc',
            message: `${where} "${key}": data CRC 0x${storedDataCrc.toString(16)} does not match 0x${dataCrc.toString(16)}`,
            page: index,
            entry: i,
          });
          i += span;
          continue;
        }
        item.payload = payload;
        info.written += span - 1;
        i += span;
      } else if (TYPE_NAMES.has(type) || type === ITEM_TYPES.blob_index) {
        if (span !== 1) {
          report({
            reason: 'bad-span',
            message: `${where} "${key}": span ${span}, expected 1`,
            page: index,
            entry: i,
          });
        }
        i++;
      } else {
        report({
          reason: 'unknown-type',
          message: `${where} "${key}": unknown item type 0x${type.toString(16).padStart(2, '0')}`,
          page: index,
          entry: i,
        });
        i += Math.max(1, span);
        continue;
      }
      raw.push(item);
    }
    loaded.push({ seq: info.seq, raw });
  }

  // nvs_flash orders pages by sequence number, not by position
  const all = loaded.sort((a, b) => a.seq - b.seq).flatMap((p) => p.raw);
  const namespaces = new Map<number, string>();
  for (const item of all)
    if (item.ns === 0 && item.type === ITEM_TYPES.u8) namespaces.set(item.data[0]!, item.key);

  const chunks = new Map<string, RawItem>();
  for (const item of all)
    if (item.type === ITEM_TYPES.blob_data) chunks.set(`${item.ns}/${item.key}/${item.chunk}`, item);

  const items: NvsItem[] = [];
  for (const item of all) {
    if (item.ns === 0 || item.type === ITEM_TYPES.blob_data) continue;
    const namespace = namespaces.get(item.ns);
    const where = `page ${item.page} entry ${item.entry}`;
    if (namespace === undefined) {
      report({
        reason: 'unknown-namespace',
        message: `${where} "${item.key}": namespace index ${item.ns} is never defined`,
        page: item.page,
        entry: item.entry,
      });
      continue;
    }
    const integer = TYPE_NAMES.get(item.type);
    if (integer) {
      const { bytes: width, signed } = INTEGER_TYPES[integer];
      let raw = 0n;
      for (let b = width - 1; b >= 0; b--) raw = (raw << 8n) | BigInt(item.data[b]!);
      const value = signed ? BigInt.asIntN(width * 8, raw) : raw;
      items.push({ namespace, key: item.key, type: integer, value: width === 8 ? value : Number(value) });
    } else if (item.type === ITEM_TYPES.string) {
      const text = new TextDecoder().decode(item.payload!);
      items.push({
        namespace,
        key: item.key,
        type: 'string',
        value: text.endsWith('\0') ? text.slice(0, -1) : text,
      });
    } else if (item.type === ITEM_TYPES.blob_v1) {
      items.push({ namespace, key: item.key, type: 'blob', value: item.payload!.slice() });
    } else if (item.type === ITEM_TYPES.blob_index) {
      const idx = new DataView(item.data.buffer, item.data.byteOffset, 8);
      const size = idx.getUint32(0, true);
      const count = item.data[4]!;
      const start = item.data[5]!;
      const parts: Uint8Array[] = [];
      for (let c = start; c < start + count; c++) {
        const chunk = chunks.get(`${item.ns}/${item.key}/${c}`);
        if (chunk) parts.push(chunk.payload!);
      }
      const total = parts.reduce((n, p) => n + p.length, 0);
      if (parts.length !== count || total !== size) {
        report({
          reason: 'incomplete-blob',
          message: `${where} "${item.key}": blob index wants ${count} chunks / ${size} bytes, found ${parts.length} / ${total}`,
          page: item.page,
          entry: item.entry,
        });
        continue;
      }
      const value = new Uint8Array(size);
      let offset = 0;
      for (const part of parts) {
        value.set(part, offset);
        offset += part.length;
      }
      items.push({ namespace, key: item.key, type: 'blob', value });
    }
  }
  return { items, pages, problems };
}
