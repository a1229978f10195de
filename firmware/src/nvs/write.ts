// Writes an NVS partition laid out the way ESP-IDF's nvs_partition_gen.py (format v2)
// lays it out, byte for byte: pages filled in order (a string moves to a new page when it
// would reach the page's last entry, a blob is split into BLOB_DATA chunks across pages
// and closed by a BLOB_IDX), full pages marked FULL, the last written page left ACTIVE,
// and the remaining pages erased (0xFF), one of which is always kept free.

import { nvsCrc32 } from '../crc.js';
import {
  BITMAP_OFFSET,
  CHUNK_ANY,
  ENTRIES_PER_PAGE,
  ENTRY_SIZE,
  entryCrcInput,
  FIRST_ENTRY_OFFSET,
  FORMAT_VERSION_2,
  INTEGER_TYPES,
  ITEM_TYPES,
  integerRange,
  MAX_KEY_LENGTH,
  MAX_STRING_SIZE,
  MIN_PARTITION_SIZE,
  NvsFormatError,
  type NvsItem,
  PAGE_SIZE,
  PAGE_STATE,
} from './format.js';

class Writer {
  readonly out: Uint8Array;
  private readonly view: DataView;
  private page = -1;
  private entry = 0;
  private readonly dataPages: number;

  constructor(readonly size: number) {
    this.out = new Uint8Array(size).fill(0xff);
    this.view = new DataView(this.out.buffer);
    // one page stays erased so nvs_flash can always garbage-collect into it
    this.dataPages = size / PAGE_SIZE - 1;
    this.newPage();
  }

  newPage(): void {
    if (this.page >= 0 && this.view.getUint32(this.page * PAGE_SIZE, true) === PAGE_STATE.active)
      this.view.setUint32(this.page * PAGE_SIZE, PAGE_STATE.full, true);
    if (this.page + 1 >= this.dataPages)
      throw new NvsFormatError(
        'does-not-fit',
        `the data needs more than ${this.dataPages} pages; a ${this.size}-byte partition keeps one of its ${this.size / PAGE_SIZE} pages free`,
      );
    this.page++;
    this.entry = 0;
    const base = this.page * PAGE_SIZE;
    this.view.setUint32(base, PAGE_STATE.active, true);
    this.view.setUint32(base + 4, this.page, true); // sequence number = page number
    this.out[base + 8] = FORMAT_VERSION_2;
    this.view.setUint32(base + 28, nvsCrc32(this.out.subarray(base + 4, base + 28)), true);
  }

  get used(): number {
    return this.entry;
  }

  /** Writes `bytes` (padded with 0xFF to whole entries) and marks `count` entries written. */
  put(bytes: Uint8Array, count: number): void {
    const base = this.page * PAGE_SIZE;
    this.out.set(bytes, base + FIRST_ENTRY_OFFSET + this.entry * ENTRY_SIZE);
    for (let i = 0; i < count; i++, this.entry++) {
      const bit = this.entry * 2;
      // clearing the low bit of the pair turns 0b11 (empty) into 0b10 (written)
      this.out[base + BITMAP_OFFSET + (bit >> 3)]! &= ~(1 << (bit & 7));
    }
  }
}

function header(nsIndex: number, type: number, span: number, chunk: number, key: string): Uint8Array {
  const entry = new Uint8Array(ENTRY_SIZE).fill(0xff);
  entry[0] = nsIndex;
  entry[1] = type;
  entry[2] = span;
  entry[3] = chunk;
  entry.fill(0, 8, 24);
  entry.set(new TextEncoder().encode(key), 8);
  return entry;
}

function seal(entry: Uint8Array): Uint8Array {
  new DataView(entry.buffer, entry.byteOffset).setUint32(4, nvsCrc32(entryCrcInput(entry)), true);
  return entry;
}

function checkKey(key: string, what: string): void {
  const length = new TextEncoder().encode(key).length;
  if (length === 0 || length > MAX_KEY_LENGTH)
    throw new NvsFormatError('bad-key', `${what} "${key}" must be 1 to ${MAX_KEY_LENGTH} bytes long`);
}

function integerEntry(item: NvsItem & { type: keyof typeof INTEGER_TYPES }, nsIndex: number): Uint8Array {
  let value: bigint;
  try {
    value = BigInt(item.value);
  } catch (error) {
    throw new NvsFormatError('bad-value', `"${item.key}": ${item.value} is not an integer`, { cause: error });
  }
  const { min, max } = integerRange(item.type);
  if (value < min || value > max)
    throw new NvsFormatError(
      'bad-value',
      `"${item.key}": ${value} is out of range for ${item.type} (${min}..${max})`,
    );
  const entry = header(nsIndex, ITEM_TYPES[item.type], 1, CHUNK_ANY, item.key);
  const { bytes } = INTEGER_TYPES[item.type];
  // two's complement, little-endian, in the first `bytes` of the data field
  let raw = BigInt.asUintN(bytes * 8, value);
  for (let i = 0; i < bytes; i++, raw >>= 8n) entry[24 + i] = Number(raw & 0xffn);
  return seal(entry);
}

export function buildNvsPartition(items: readonly NvsItem[], size: number): Uint8Array {
  if (!Number.isInteger(size) || size % PAGE_SIZE !== 0 || size < MIN_PARTITION_SIZE)
    throw new NvsFormatError(
      'bad-size',
      `NVS partition size ${size} must be a multiple of ${PAGE_SIZE} and at least ${MIN_PARTITION_SIZE} (0x3000)`,
    );
  const writer = new Writer(size);
  const namespaces = new Map<string, number>();

  const withRoom = (fits: () => boolean, write: () => void) => {
    if (!fits()) writer.newPage();
    write();
  };

  for (const item of items) {
    checkKey(item.namespace, 'namespace');
    checkKey(item.key, 'key');
    let nsIndex = namespaces.get(item.namespace);
    if (nsIndex === undefined) {
      nsIndex = namespaces.size + 1;
      if (nsIndex > 254) throw new NvsFormatError('too-many-namespaces', 'NVS holds at most 254 namespaces');
      namespaces.set(item.namespace, nsIndex);
      const entry = header(0, ITEM_TYPES.u8, 1, CHUNK_ANY, item.namespace);
      entry[24] = nsIndex;
      withRoom(
        () => writer.used < ENTRIES_PER_PAGE,
        () => writer.put(seal(entry), 1),
      );
    }
    const ns = nsIndex;
    switch (item.type) {
      case 'u8':
      case 'i8':
      case 'u16':
      case 'i16':
      case 'u32':
      case 'i32':
      case 'u64':
      case 'i64': {
        const entry = integerEntry(item, ns);
        withRoom(
          () => writer.used < ENTRIES_PER_PAGE,
          () => writer.put(entry, 1),
        );
        break;
      }
      case 'string': {
        if (typeof item.value !== 'string')
          throw new NvsFormatError('bad-value', `"${item.key}": not a string`);
        const data = new TextEncoder().encode(`${item.value}\0`);
        if (data.length > MAX_STRING_SIZE)
          throw new NvsFormatError(
            'bad-value',
            `"${item.key}": a string takes at most ${MAX_STRING_SIZE - 1} bytes, this one ${data.length - 1}`,
          );
        const dataEntries = Math.ceil(data.length / ENTRY_SIZE);
        const entry = header(ns, ITEM_TYPES.string, dataEntries + 1, CHUNK_ANY, item.key);
        const view = new DataView(entry.buffer);
        view.setUint16(24, data.length, true);
        view.setUint32(28, nvsCrc32(data), true);
        // like the generator, a string never takes a page's last entry
        withRoom(
          () => writer.used + dataEntries + 1 < ENTRIES_PER_PAGE,
          () => {
            writer.put(seal(entry), 1);
            writer.put(data, dataEntries);
          },
        );
        break;
      }
      case 'blob':
        writeBlob(writer, ns, item.key, item.value);
        break;
      default:
        throw new NvsFormatError(
          'bad-value',
          `"${(item as NvsItem).key}": unknown type "${(item as { type: string }).type}"`,
        );
    }
  }
  return writer.out;
}

/** Format v2 blobs: BLOB_DATA chunks filling each page's free entries, then one BLOB_IDX. */
function writeBlob(writer: Writer, ns: number, key: string, data: Uint8Array): void {
  if (!(data instanceof Uint8Array)) throw new NvsFormatError('bad-value', `"${key}": a blob needs bytes`);
  if (writer.used >= ENTRIES_PER_PAGE) writer.newPage();
  let offset = 0;
  let chunks = 0;
  for (;;) {
    const tailroom = (ENTRIES_PER_PAGE - writer.used - 1) * ENTRY_SIZE;
    const chunk = data.subarray(offset, offset + Math.min(tailroom, data.length - offset));
    const dataEntries = Math.ceil(chunk.length / ENTRY_SIZE);
    if (chunks === 0xff)
      throw new NvsFormatError('does-not-fit', `"${key}": blob needs more than 255 chunks`);
    const entry = header(ns, ITEM_TYPES.blob_data, dataEntries + 1, chunks, key);
    const view = new DataView(entry.buffer);
    view.setUint16(24, chunk.length, true);
    view.setUint32(28, nvsCrc32(chunk), true);
    writer.put(seal(entry), 1);
    writer.put(chunk, dataEntries);
    chunks++;
    offset += chunk.length;
    const remaining = data.length - offset;
    if (remaining > 0 || tailroom - chunk.length < ENTRY_SIZE) writer.newPage();
    if (remaining === 0) break;
  }
  const index = header(ns, ITEM_TYPES.blob_index, 1, CHUNK_ANY, key);
  const view = new DataView(index.buffer);
  view.setUint32(24, data.length, true);
  index[28] = chunks;
  index[29] = 0; // chunk_start: the generator always starts at 0
  writer.put(seal(index), 1);
}
