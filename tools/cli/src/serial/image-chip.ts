// Refuses to flash an app or bootloader image built for another chip than the one that
// answered: it would be written and "verified", then boot into a ROM error loop.

import { chipByImageId, type FlashPart, IMAGE_MAGIC, parseImageHeader } from '@sentinel/firmware';
import { CliError } from '../errors.js';

/** An image part whose header names another chip than the board's. */
export class ImageForAnotherChipError extends CliError {
  override name = 'ImageForAnotherChipError';
}

/** 8-byte common + 16-byte extended header, where the chip id sits (esp_app_format.h) */
const HEADER_SIZE = 24;

/**
 * The chip an ESP image part was built for (from the chip id of its extended header), or
 * undefined for parts that are not images: partition tables, NVS, file systems.
 */
export function imageChip(part: FlashPart): string | undefined {
  if (part.data.length < HEADER_SIZE || part.data[0] !== IMAGE_MAGIC) return undefined;
  const { chipId } = parseImageHeader(part.data);
  return chipByImageId(chipId)?.name ?? `chip id ${chipId}`;
}

/** Throws before anything is written when an image part is for another chip than `board`. */
export function checkImagesForChip(parts: FlashPart[], board: string): void {
  for (const part of parts) {
    const built = imageChip(part);
    if (built === undefined || built === board) continue;
    throw new ImageForAnotherChipError(
      `${part.name} (at 0x${part.offset.toString(16)}) is built for ${built}, but the board is an ${board}: ` +
        `flash the ${board} build, or pass --force to write it anyway`,
    );
  }
}
