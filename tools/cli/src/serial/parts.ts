// The parts a `sentinel flash` run writes: `<offset> <file>` pairs from the command line.

import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import {
  type ChipName,
  type FlashPart,
  type Manifest,
  ManifestError,
  parseManifest,
  partsForChip,
} from '@sentinel/firmware';
import { CliError, UsageError } from '../errors.js';
import { readUserFile } from '../user-files.js';

/** "0x10000" or "65536": offsets in hex or decimal. */
export function parseOffset(text: string, what = 'offset'): number {
  const value = /^0x[0-9a-f]+$/i.test(text)
    ? Number.parseInt(text, 16)
    : /^\d+$/.test(text)
      ? Number(text)
      : Number.NaN;
  if (!Number.isSafeInteger(value) || value < 0 || value > 0xffffffff)
    throw new UsageError(`invalid ${what} "${text}": give a number like 0x10000 or 65536`);
  return value;
}

async function readPartFile(path: string, offset: number): Promise<FlashPart> {
  const data = await readUserFile(path);
  if (data.length === 0) throw new CliError(`${path} is empty`);
  return { offset, data, name: basename(path) };
}

/** Text that is meant as a number (and gets parseOffset's error if it is a bad one). */
const looksLikeNumber = (text: string) => /^(0x|\d)/i.test(text);

/**
 * `<offset> <file> [<offset> <file>]…` → parts, checked for pairs, alignment and overlaps.
 * A miscount names the argument at fault: an offset with no file after it, or a file
 * where an offset belongs.
 */
export async function partsFromArguments(args: string[]): Promise<FlashPart[]> {
  const pairs: [number, string][] = [];
  for (let i = 0; i < args.length; i += 2) {
    const offsetText = args[i] ?? '';
    if (!looksLikeNumber(offsetText))
      throw new UsageError(
        `${offsetText} is not an offset: give <offset> <file> pairs, e.g. 0x10000 ${offsetText}`,
      );
    const offset = parseOffset(offsetText);
    const file = args[i + 1];
    // with an odd count, an offset where a file belongs is the one missing its file
    if (file === undefined || (args.length % 2 === 1 && looksLikeNumber(file)))
      throw new UsageError(`${offsetText} has no file after it: give <offset> <file> pairs`);
    if (offset % 4 !== 0) throw new UsageError(`offset ${offsetText} is not a multiple of 4`);
    pairs.push([offset, file]);
  }
  const parts: FlashPart[] = [];
  for (const [offset, file] of pairs) parts.push(await readPartFile(file, offset));
  checkOverlaps(parts);
  return parts;
}

export function checkOverlaps(parts: FlashPart[]): void {
  const sorted = [...parts].sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < sorted.length; i++) {
    const previous = sorted[i - 1]!;
    const current = sorted[i]!;
    if (previous.offset + previous.data.length > current.offset)
      throw new UsageError(
        `${previous.name} (0x${previous.offset.toString(16)}, ${previous.data.length} bytes) overlaps ${current.name} at 0x${current.offset.toString(16)}`,
      );
  }
}

/** The bytes of a manifest or a part it names: a file path or an http(s) URL. */
export async function readLocation(location: string, what: string): Promise<Uint8Array> {
  if (/^https?:\/\//i.test(location)) {
    let response: Response;
    try {
      response = await fetch(location);
    } catch (error) {
      throw new CliError(`cannot fetch ${what} ${location}: ${(error as Error).message}`, { cause: error });
    }
    if (!response.ok) throw new CliError(`cannot fetch ${what} ${location}: HTTP ${response.status}`);
    return new Uint8Array(await response.arrayBuffer());
  }
  try {
    return new Uint8Array(await readFile(location));
  } catch (error) {
    throw new CliError(
      `cannot read ${what} ${location}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      { cause: error },
    );
  }
}

/** The manifest's parts for the chip that answered, read from where the manifest points. */
export async function partsFromManifest(
  manifest: Manifest,
  location: string,
  chip: ChipName,
): Promise<FlashPart[]> {
  let resolved: { path: string; offset: number }[];
  try {
    resolved = partsForChip(manifest, chip, location);
  } catch (error) {
    if (error instanceof ManifestError) throw new CliError(error.message, { cause: error });
    throw error;
  }
  const parts: FlashPart[] = [];
  for (const part of resolved) {
    const data = await readLocation(part.path, 'part');
    if (data.length === 0) throw new CliError(`${part.path} is empty`);
    parts.push({ offset: part.offset, data, name: basename(part.path) });
  }
  checkOverlaps(parts);
  return parts;
}

export async function loadManifest(location: string): Promise<Manifest> {
  const text = new TextDecoder().decode(await readLocation(location, 'manifest'));
  try {
    return parseManifest(text);
  } catch (error) {
    if (error instanceof ManifestError) throw new CliError(`${location}: ${error.message}`, { cause: error });
    throw error;
  }
}
