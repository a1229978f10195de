// The firmware the gateway holds under <data>/firmware:
// - builds for the browser flasher: one folder per build, each with an esp-web-tools
//   manifest.json and the part files it names. Read on every request (the folder is
//   small and edited by hand).
// - the OTA catalog in <data>/firmware/ota/: app images validated on the way in
//   (`sentinel firmware add`), stored by SHA-256, listed in index.json with the facts a
//   rollout needs (chip, project, version, size, digest, signature, channel).
//   That is the disk implementation of OtaCatalog; on an external NATS the gateway uses
//   the object store bucket instead (ota/catalog/), so every node serves the same images.

import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import {
  inspectRelease,
  ManifestError,
  type PartitionEntry,
  parseManifest,
  SIGNING_SCHEMES,
} from '@sentinel/firmware';
import { z } from 'zod';

export interface FirmwareBuild {
  /** the folder name: the build's id in URLs */
  id: string;
  name: string;
  version: string | undefined;
  chips: string[];
  manifest: string;
}

export interface FirmwareListing {
  builds: FirmwareBuild[];
  /** folders whose manifest could not be read, with the reason (shown on the page) */
  problems: { id: string; reason: string }[];
}

const BUILD_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** the catalog's folder, never a flasher build */
const CATALOG_DIR = 'ota';

export const FIRMWARE_CHANNELS = ['stable', 'beta'] as const;
export type FirmwareChannel = (typeof FIRMWARE_CHANNELS)[number];

export const CatalogEntrySchema = z.object({
  /** `<project>-<version>-<chip>`: one image per project, version and chip */
  id: z.string().regex(BUILD_ID),
  project: z.string(),
  version: z.string(),
  chip: z.string(),
  idf_version: z.string(),
  secure_version: z.number().int().nonnegative(),
  channel: z.enum(FIRMWARE_CHANNELS),
  size: z.number().int().positive(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  signature: z.object({ scheme: z.enum(SIGNING_SCHEMES), key_digest: z.string() }).nullable(),
  /** when it was added (ms since the epoch) */
  added_at: z.number().int(),
});
export type CatalogEntry = z.infer<typeof CatalogEntrySchema>;

const CatalogIndexSchema = z.object({ version: z.literal(1), images: z.array(CatalogEntrySchema) });

/** Why the catalog refused an image or a request; the message says what to do. */
export class FirmwareCatalogError extends Error {
  constructor(
    readonly reason: 'duplicate' | 'not-found' | 'corrupt-index' | 'corrupt-image',
    message: string,
  ) {
    super(message);
    this.name = 'FirmwareCatalogError';
  }
}

/** an id made only of characters URLs and file names take as they are */
export const catalogId = (project: string, version: string, chip: string) =>
  `${project}-${version}-${chip}`
    .replace(/[^A-Za-z0-9._-]/g, '_')
    .replace(/^[^A-Za-z0-9]/, 'x')
    .slice(0, 64);

/**
 * The OTA catalog, wherever it is kept: one small interface, two implementations
 * (DiskCatalog below; ObjectStoreCatalog in ota/catalog/ on an external NATS).
 */
export interface OtaCatalog {
  /** Every image, newest first; `channel` narrows it. */
  images(channel?: FirmwareChannel): Promise<CatalogEntry[]>;
  /**
   * Validates `bytes` as an OTA release (@sentinel/firmware inspectRelease: chip, intact
   * image, version, signature, fit in the OTA slots of `partitions` when given) and adds
   * it. The same image again only moves it to `channel`; a different image under the same
   * project, version and chip is refused: devices tell versions apart by the string.
   */
  addImage(bytes: Uint8Array, options?: AddImageOptions): Promise<{ entry: CatalogEntry; added: boolean }>;
  /** Removes an image by id. */
  removeImage(id: string): Promise<CatalogEntry>;
  /**
   * A local file with the verified bytes of the image with this SHA-256, for the download
   * route to stream with Range; undefined when the catalog no longer has it. Throws
   * FirmwareCatalogError('corrupt-image') when the stored bytes are not that image.
   */
  imageFile(sha256: string): Promise<string | undefined>;
}

export interface AddImageOptions {
  channel?: FirmwareChannel;
  partitions?: readonly PartitionEntry[];
}

/** The catalog facts of a validated release. */
export function catalogEntry(
  release: ReturnType<typeof inspectRelease>,
  channel: FirmwareChannel,
  addedAt = Date.now(),
): CatalogEntry {
  return {
    id: catalogId(release.project, release.version, release.chip),
    project: release.project,
    version: release.version,
    chip: release.chip,
    idf_version: release.idfVersion,
    secure_version: release.secureVersion,
    channel,
    size: release.size,
    sha256: release.sha256,
    signature: release.signature
      ? { scheme: release.signature.scheme, key_digest: release.signature.keyDigest }
      : null,
    added_at: addedAt,
  };
}

/** The refusal of a different image under an id the catalog already has. */
export function duplicateImage(existing: CatalogEntry, wanted: CatalogEntry): FirmwareCatalogError {
  return new FirmwareCatalogError(
    'duplicate',
    `${wanted.project} ${wanted.version} for ${wanted.chip} is already in the catalog as a different image (sha256 ${existing.sha256.slice(0, 12)}…); remove ${existing.id} first or give the build a new version`,
  );
}

export class FirmwareStore implements OtaCatalog {
  readonly root: string;
  readonly #disk: DiskCatalog;
  constructor(dataDir: string) {
    this.root = resolve(dataDir, 'firmware');
    this.#disk = new DiskCatalog(join(this.root, CATALOG_DIR));
  }

  /** the OTA catalog on disk (a gateway on an external NATS uses the shared one: ota/catalog) */
  get catalog(): OtaCatalog {
    return this.#disk;
  }

  async list(): Promise<FirmwareListing> {
    const listing: FirmwareListing = { builds: [], problems: [] };
    const entries = await readdir(this.root, { withFileTypes: true }).catch(() => []);
    for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      if (!entry.isDirectory() || !BUILD_ID.test(entry.name) || entry.name === CATALOG_DIR) continue;
      try {
        const text = await readFile(join(this.root, entry.name, 'manifest.json'), 'utf8');
        const manifest = parseManifest(text);
        listing.builds.push({
          id: entry.name,
          name: manifest.name,
          version: manifest.version,
          chips: manifest.builds.map((b) => b.chipFamily),
          manifest: `/firmware/${entry.name}/manifest.json`,
        });
      } catch (error) {
        const reason =
          error instanceof ManifestError
            ? error.message
            : (error as NodeJS.ErrnoException).code === 'ENOENT'
              ? 'no manifest.json'
              : `manifest.json: ${(error as Error).message}`;
        listing.problems.push({ id: entry.name, reason });
      }
    }
    return listing;
  }

  /** A file of a build by its URL path below /firmware/, or undefined (never outside the folder). */
  async file(relative: string): Promise<Uint8Array | undefined> {
    const [id, ...rest] = relative.split('/');
    if (
      !id ||
      !BUILD_ID.test(id) ||
      id === CATALOG_DIR ||
      rest.length === 0 ||
      rest.some((p) => p === '' || p === '.' || p === '..')
    )
      return undefined;
    const path = resolve(this.root, id, ...rest);
    if (!path.startsWith(this.root + sep)) return undefined;
    const info = await stat(path).catch(() => undefined);
    if (!info?.isFile()) return undefined;
    return new Uint8Array(await readFile(path));
  }

  // ---- the OTA catalog ----

  images(channel?: FirmwareChannel): Promise<CatalogEntry[]> {
    return this.catalog.images(channel);
  }

  addImage(
    bytes: Uint8Array,
    options: AddImageOptions = {},
  ): Promise<{ entry: CatalogEntry; added: boolean }> {
    return this.catalog.addImage(bytes, options);
  }

  removeImage(id: string): Promise<CatalogEntry> {
    return this.catalog.removeImage(id);
  }

  imageFile(sha256: string): Promise<string | undefined> {
    return this.catalog.imageFile(sha256);
  }

  /** The bytes of a catalog image, or undefined. */
  async imageBytes(id: string): Promise<Uint8Array | undefined> {
    const entry = (await this.images()).find((e) => e.id === id);
    const file = entry && (await this.imageFile(entry.sha256));
    return file ? new Uint8Array(await readFile(file)) : undefined;
  }
}

/** The OTA catalog on disk: `<dir>/<sha256>.bin` and index.json. */
/** A catalog's listing: the entries of `channel` (all without one), newest added first. */
export function inChannel(entries: CatalogEntry[], channel: FirmwareChannel | undefined): CatalogEntry[] {
  return entries
    .filter((e) => channel === undefined || e.channel === channel)
    .sort((a, b) => b.added_at - a.added_at);
}

export class DiskCatalog implements OtaCatalog {
  /** the index as last read, and the file identity it was read at */
  #cached: { stamp: string; entries: CatalogEntry[] } | undefined;
  constructor(readonly dir: string) {}

  /**
   * Newest first. Read again only when index.json changed: a rollout offers one image to
   * many devices in a row, and parsing the index for each offer delayed the later
   * devices' downloads. The index is written by write-then-rename, so a change shows as
   * a new inode (or mtime, or size) of the file.
   */
  async images(channel?: FirmwareChannel): Promise<CatalogEntry[]> {
    const info = await stat(join(this.dir, 'index.json')).catch(() => undefined);
    let all: CatalogEntry[];
    if (!info) all = await this.readIndex();
    else {
      const stamp = `${info.ino}:${info.mtimeMs}:${info.size}`;
      if (this.#cached?.stamp !== stamp) this.#cached = { stamp, entries: await this.readIndex() };
      all = this.#cached.entries;
    }
    return inChannel(all, channel);
  }

  async addImage(
    bytes: Uint8Array,
    options: AddImageOptions = {},
  ): Promise<{ entry: CatalogEntry; added: boolean }> {
    const release = inspectRelease(bytes, { partitions: options.partitions });
    const entry = catalogEntry(release, options.channel ?? 'stable');
    const images = await this.readIndex();
    const existing = images.find((e) => e.id === entry.id);
    if (existing && existing.sha256 !== entry.sha256) throw duplicateImage(existing, entry);
    if (existing) {
      existing.channel = entry.channel;
      await this.writeIndex(images);
      return { entry: existing, added: false };
    }
    await mkdir(this.dir, { recursive: true });
    // the file before the index line that names it, so a reader never sees a missing file
    await writeAtomically(this.imagePath(entry.sha256), bytes);
    await this.writeIndex([...images, entry]);
    return { entry, added: true };
  }

  /** Removes an image by id; its file goes too unless another entry shares it. */
  async removeImage(id: string): Promise<CatalogEntry> {
    const images = await this.readIndex();
    const entry = images.find((e) => e.id === id);
    if (!entry) throw new FirmwareCatalogError('not-found', `no image ${id} in the firmware catalog`);
    const rest = images.filter((e) => e !== entry);
    await this.writeIndex(rest);
    if (!rest.some((e) => e.sha256 === entry.sha256)) await rm(this.imagePath(entry.sha256), { force: true });
    return entry;
  }

  async imageFile(sha256: string): Promise<string | undefined> {
    if (!/^[0-9a-f]{64}$/.test(sha256)) return undefined;
    const path = this.imagePath(sha256);
    const info = await stat(path).catch(() => undefined);
    return info?.isFile() ? path : undefined;
  }

  private imagePath(sha256: string): string {
    return join(this.dir, `${sha256}.bin`);
  }

  private async readIndex(): Promise<CatalogEntry[]> {
    let text: string;
    try {
      text = await readFile(join(this.dir, 'index.json'), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new FirmwareCatalogError('corrupt-index', `${this.dir}/index.json: ${(error as Error).message}`);
    }
    const index = CatalogIndexSchema.safeParse(parsed);
    if (!index.success)
      throw new FirmwareCatalogError(
        'corrupt-index',
        `${this.dir}/index.json: ${index.error.issues[0]?.path.join('.')}: ${index.error.issues[0]?.message}`,
      );
    return index.data.images;
  }

  private async writeIndex(images: CatalogEntry[]): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await writeAtomically(
      join(this.dir, 'index.json'),
      `${JSON.stringify({ version: 1, images }, null, 2)}\n`,
    );
  }
}

/** write-then-rename, so a gateway reading meanwhile sees the old file or the new one */
export async function writeAtomically(path: string, data: Uint8Array | string): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, data);
  await rename(temporary, path);
}
