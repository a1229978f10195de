// esp-web-tools manifests (https://esphome.github.io/esp-web-tools/, "Creating your
// manifest"): a name, a version and one build per chip family, each a list of binary parts
// with their flash offsets. Paths are relative to the manifest's own URL.

import { z } from 'zod';
import { CHIPS, type ChipName } from '../chips.js';
import { FirmwareFormatError, firstIssue } from '../format-error.js';

/** Every chipFamily esp-web-tools knows; we flash the four in chips.ts. */
export const CHIP_FAMILIES = [
  'ESP32',
  'ESP32-C2',
  'ESP32-C3',
  'ESP32-C5',
  'ESP32-C6',
  'ESP32-C61',
  'ESP32-H2',
  'ESP32-P4',
  'ESP32-S2',
  'ESP32-S3',
  'ESP8266',
] as const;

export const ManifestPartSchema = z.object({
  path: z.string().min(1),
  offset: z.number().int().nonnegative(),
});

export const ManifestBuildSchema = z
  .object({
    chipFamily: z.enum(CHIP_FAMILIES),
    improv: z.boolean().optional(),
    parts: z.array(ManifestPartSchema).min(1),
  })
  .passthrough();

export const ManifestSchema = z
  .object({
    name: z.string().min(1),
    version: z.string().min(1),
    home_assistant_domain: z.string().optional(),
    funding_url: z.string().optional(),
    new_install_prompt_erase: z.boolean().optional(),
    new_install_improv_wait_time: z.number().nonnegative().optional(),
    builds: z.array(ManifestBuildSchema).min(1),
  })
  .passthrough();

export type Manifest = z.infer<typeof ManifestSchema>;
export type ManifestPart = z.infer<typeof ManifestPartSchema>;

export type ManifestErrorReason = 'invalid' | 'no-build-for-chip' | 'overlapping-parts';

export class ManifestError extends FirmwareFormatError<ManifestErrorReason> {
  readonly format = 'manifest';
  override name = 'ManifestError';
}

/** Validates a manifest (JSON text or an already parsed object). */
export function parseManifest(input: string | unknown): Manifest {
  let json = input;
  if (typeof input === 'string') {
    try {
      json = JSON.parse(input);
    } catch (error) {
      throw new ManifestError('invalid', `manifest is not JSON: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }
  const parsed = ManifestSchema.safeParse(json);
  if (!parsed.success) {
    throw new ManifestError('invalid', `manifest ${firstIssue(parsed.error, '(top)')}`, {
      cause: parsed.error,
    });
  }
  const families = new Set<string>();
  for (const build of parsed.data.builds) {
    if (families.has(build.chipFamily))
      throw new ManifestError('invalid', `manifest has two builds for ${build.chipFamily}`);
    families.add(build.chipFamily);
  }
  return parsed.data;
}

/** The manifest as esp-web-tools reads it (validated first). */
export function formatManifest(manifest: Manifest): string {
  return `${JSON.stringify(parseManifest(manifest), null, 2)}\n`;
}

const SCHEME = /^[a-z][a-z0-9+.-]+:/i;

/** Resolves a part's path against where the manifest came from (a URL or a file path). */
export function resolvePartPath(path: string, manifestLocation: string): string {
  if (SCHEME.test(path)) return path;
  if (SCHEME.test(manifestLocation)) return new URL(path, manifestLocation).href;
  if (path.startsWith('/')) return path;
  const slash = Math.max(manifestLocation.lastIndexOf('/'), manifestLocation.lastIndexOf('\\'));
  return slash === -1 ? path : `${manifestLocation.slice(0, slash + 1)}${path}`;
}

export interface ResolvedPart {
  /** absolute URL, or a file path joined to the manifest's directory */
  path: string;
  offset: number;
}

/**
 * The parts to flash on `chip`, paths resolved against `manifestLocation`, in offset order.
 * Throws when the manifest has no build for the chip or two parts overlap at the same offset.
 */
export function partsForChip(manifest: Manifest, chip: ChipName, manifestLocation: string): ResolvedPart[] {
  const family = CHIPS[chip].family;
  const build = manifest.builds.find((b) => b.chipFamily === family);
  if (!build)
    throw new ManifestError(
      'no-build-for-chip',
      `manifest "${manifest.name}" has no build for ${family} (it has ${manifest.builds.map((b) => b.chipFamily).join(', ')})`,
    );
  const parts = build.parts
    .map((part) => ({ path: resolvePartPath(part.path, manifestLocation), offset: part.offset }))
    .sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < parts.length; i++)
    if (parts[i]!.offset === parts[i - 1]!.offset)
      throw new ManifestError(
        'overlapping-parts',
        `two parts of the ${family} build start at offset 0x${parts[i]!.offset.toString(16)}`,
      );
  return parts;
}
