// What an image must be before the catalog accepts it for over-the-air updates: an app
// image for a known chip, intact (checksum and the appended SHA-256 that ESP-IDF's OTA
// code checks), carrying an esp_app_desc_t (the version a device reports in its hello),
// nothing after it but, optionally, a well-formed secure boot v2 signature sector, and —
// when the target partition table is known — small enough for its OTA slots.

import { FirmwareFormatError } from '../format-error.js';
import { sha256, toHex } from '../hash.js';
import { parseImage } from '../image/parse.js';
import type { PartitionEntry } from '../partitions/types.js';
import { SIGNATURE_SECTOR_SIZE, type SigningScheme } from './format.js';
import { verifySignedImage } from './signed-image.js';

export type ReleaseErrorReason =
  | 'unknown-chip'
  | 'bad-checksum'
  | 'no-digest'
  | 'bad-digest'
  | 'no-app-description'
  | 'trailing-bytes'
  | 'bad-signature'
  | 'too-large';

export class ReleaseImageError extends FirmwareFormatError<ReleaseErrorReason> {
  readonly format = 'image';
  override name = 'ReleaseImageError';
}

export interface ReleaseInfo {
  chip: string;
  project: string;
  version: string;
  idfVersion: string;
  secureVersion: number;
  /** the whole file as it will be downloaded */
  size: number;
  /** SHA-256 of the whole file (hex): what a device checks the download against */
  sha256: string;
  /** bytes of the app image itself, before padding and signature */
  imageLength: number;
  signature: { scheme: SigningScheme; keyDigest: string } | null;
}

const APP_TYPE = 0x00;
const OTA_FIRST = 0x10;
const OTA_LAST = 0x1f;

/** The smallest ota_N slot of a partition table, or undefined when it has none. */
export function smallestOtaSlot(entries: readonly PartitionEntry[]): PartitionEntry | undefined {
  return entries
    .filter((e) => e.type === APP_TYPE && e.subtype >= OTA_FIRST && e.subtype <= OTA_LAST)
    .sort((a, b) => a.size - b.size)[0];
}

/**
 * Checks `bytes` as an OTA release and describes it; throws ImageFormatError (not an
 * image at all) or ReleaseImageError (an image the catalog must not offer) otherwise.
 */
export function inspectRelease(
  bytes: Uint8Array,
  options: { partitions?: readonly PartitionEntry[] } = {},
): ReleaseInfo {
  const image = parseImage(bytes);
  if (!image.chip)
    throw new ReleaseImageError(
      'unknown-chip',
      `the image is for an unknown chip (id ${image.header.chipId})`,
    );
  if (!image.checksum.valid)
    throw new ReleaseImageError('bad-checksum', 'the image checksum is wrong (damaged or truncated image)');
  if (!image.sha256)
    throw new ReleaseImageError(
      'no-digest',
      'the image has no appended SHA-256 (ESP-IDF appends one; devices verify OTA images with it)',
    );
  if (!image.sha256.valid)
    throw new ReleaseImageError(
      'bad-digest',
      'the appended SHA-256 does not match the image (damaged image)',
    );
  const desc = image.appDescription;
  if (!desc)
    throw new ReleaseImageError(
      'no-app-description',
      'the image has no esp_app_desc_t, so it has no version a device could report',
    );
  let signature: ReleaseInfo['signature'] = null;
  if (bytes.length !== image.length) {
    const signedLength = Math.ceil(image.length / SIGNATURE_SECTOR_SIZE) * SIGNATURE_SECTOR_SIZE;
    if (bytes.length !== signedLength + SIGNATURE_SECTOR_SIZE)
      throw new ReleaseImageError(
        'trailing-bytes',
        `${bytes.length - image.length} bytes follow the ${image.length}-byte image and are not a signature sector`,
      );
    const check = verifySignedImage(bytes);
    const block = check.blocks.find((b) => b.valid);
    if (!block) throw new ReleaseImageError('bad-signature', `signature invalid: ${check.reason}`);
    signature = { scheme: block.scheme, keyDigest: block.keyDigest };
  }
  if (options.partitions) {
    const slot = smallestOtaSlot(options.partitions);
    if (!slot)
      throw new ReleaseImageError('too-large', 'the partition table has no OTA slots (ota_0, ota_1…)');
    if (bytes.length > slot.size)
      throw new ReleaseImageError(
        'too-large',
        `${bytes.length} bytes do not fit the ${slot.size}-byte OTA slot ${slot.name}`,
      );
  }
  return {
    chip: image.chip.name,
    project: desc.projectName,
    version: desc.version,
    idfVersion: desc.idfVersion,
    secureVersion: desc.secureVersion,
    size: bytes.length,
    sha256: toHex(sha256(bytes)),
    imageLength: image.length,
    signature,
  };
}
