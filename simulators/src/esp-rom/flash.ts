// A NOR flash chip as the loaders see it: erased cells read 0xFF, programming
// can only clear bits (a write over unerased data ANDs into it, as real NOR
// flash does), erasing works on whole 4 KiB sectors. Addresses past the end of
// the chip fail rather than wrap, so out-of-range requests get the loaders'
// real error codes.
import { createHash } from 'node:crypto';
import { FLASH_SECTOR_SIZE } from './protocol.js';

export interface FlashOptions {
  size: number;
  /** addresses whose bit 0 is stuck at 1: programming them does not stick (fault injection) */
  stuckCells?: readonly number[];
}

export class FlashMemory {
  readonly bytes: Uint8Array;
  private readonly stuck: ReadonlySet<number>;

  constructor(options: FlashOptions) {
    if (
      !Number.isInteger(options.size) ||
      options.size < FLASH_SECTOR_SIZE ||
      options.size % FLASH_SECTOR_SIZE
    ) {
      throw new RangeError(`flash size ${options.size} is not a positive multiple of ${FLASH_SECTOR_SIZE}`);
    }
    this.bytes = new Uint8Array(options.size).fill(0xff);
    this.stuck = new Set(options.stuckCells ?? []);
  }

  get size(): number {
    return this.bytes.length;
  }

  contains(offset: number, length: number): boolean {
    return offset >= 0 && length >= 0 && offset + length <= this.bytes.length;
  }

  /** Erases every sector touching [offset, offset + length). */
  eraseRange(offset: number, length: number): boolean {
    if (length === 0) return true;
    const first = Math.floor(offset / FLASH_SECTOR_SIZE) * FLASH_SECTOR_SIZE;
    const end = Math.ceil((offset + length) / FLASH_SECTOR_SIZE) * FLASH_SECTOR_SIZE;
    if (!this.contains(first, end - first)) return false;
    this.bytes.fill(0xff, first, end);
    return true;
  }

  eraseSector(sector: number): boolean {
    return this.eraseRange(sector * FLASH_SECTOR_SIZE, FLASH_SECTOR_SIZE);
  }

  eraseAll(): void {
    this.bytes.fill(0xff);
  }

  /** Programs bytes (bits can only go 1 → 0). False when the range is outside the chip. */
  program(offset: number, data: Uint8Array): boolean {
    if (!this.contains(offset, data.length)) return false;
    for (let i = 0; i < data.length; i++) {
      const address = offset + i;
      let value = this.bytes[address]! & data[i]!;
      if (this.stuck.has(address)) value |= 0x01;
      this.bytes[address] = value;
    }
    return true;
  }

  read(offset: number, length: number): Uint8Array | undefined {
    if (!this.contains(offset, length)) return undefined;
    return this.bytes.slice(offset, offset + length);
  }

  md5(offset: number, length: number): Uint8Array | undefined {
    if (!this.contains(offset, length)) return undefined;
    return new Uint8Array(
      createHash('md5')
        .update(this.bytes.subarray(offset, offset + length))
        .digest(),
    );
  }

  /** The JEDEC id a RDID (0x9F) returns: manufacturer, memory type, capacity (log2 of the size). */
  jedecId(): number {
    const capacity = Math.round(Math.log2(this.bytes.length));
    // 0xEF 0x40: a Winbond W25Q-series part, common on ESP32 modules
    return 0xef | (0x40 << 8) | (capacity << 16);
  }
}
