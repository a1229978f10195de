// The firmware the gateway holds under <data>/firmware:
// - builds for the browser flasher: one folder per build, each with an esp-web-tools
//   manifest.json and the part files it names. Read on every request (the folder is
//   small and edited by hand).
// - the OTA catalog in <data>/firmware/ota/: app images validated on the way in
//   (`sentinel firmware add`), stored by SHA-256, listed in index.json with the facts a
//   rollout needs (chip, project, version, size, digest, signature, channel).

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

const CatalogEntrySchema = z.object({
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
    readonly reason: 'duplicate' | 'not-found' | 'corrupt-index',
    message: string,
  ) {
    super(message);
    this.name = 'FirmwareCatalogError';
  }
}

/** an id made only of characters URLs and file names take as they are */
const catalogId = (project: string, version: string, chip: string) =>
  `${project}-${version}-${chip}`
    .replace(/[^A-Za-z0-9._-]/g, '_')
    .replace(/^[^A-Za-z0-9]/, 'x')
    .slice(0, 64);

export class FirmwareStore {
  readonly root: string;
  constructor(dataDir: string) {
    this.root = resolve(dataDir, 'firmware');
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

  private get catalogDir(): string {
    return join(this.root, CATALOG_DIR);
  }

  /** Every image in the catalog, newest first; `channel` narrows it. */
  async images(channel?: FirmwareChannel): Promise<CatalogEntry[]> {
    const all = await this.readIndex();
    return all
      .filter((e) => channel === undefined || e.channel === channel)
      .sort((a, b) => b.added_at - a.added_at);
  }

  /**
   * Validates `bytes` as an OTA release (@sentinel/firmware inspectRelease: chip, intact
   * image, version, signature, fit in the OTA slots of `partitions` when given) and adds
   * it. The same image again only moves it to `channel`; a different image under the same
   * project, version and chip is refused: devices tell versions apart by the string.
   */
  async addImage(
    bytes: Uint8Array,
    options: { channel?: FirmwareChannel; partitions?: readonly PartitionEntry[] } = {},
  ): Promise<{ entry: CatalogEntry; added: boolean }> {
    const release = inspectRelease(bytes, { partitions: options.partitions });
    const channel = options.channel ?? 'stable';
    const images = await this.readIndex();
    const id = catalogId(release.project, release.version, release.chip);
    const existing = images.find((e) => e.id === id);
    if (existing && existing.sha256 !== release.sha256)
      throw new FirmwareCatalogError(
        'duplicate',
        `${release.project} ${release.version} for ${release.chip} is already in the catalog as a different image (sha256 ${existing.sha256.slice(0, 12)}…); remove ${id} first or give the build a new version`,
      );
    if (existing) {
      existing.channel = channel;
      await this.writeIndex(images);
      return { entry: existing, added: false };
    }
    const entry: CatalogEntry = {
      id,
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
      added_at: Date.now(),
    };
    await mkdir(this.catalogDir, { recursive: true });
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

  /** The bytes of a catalog image, or undefined. */
  async imageBytes(id: string): Promise<Uint8Array | undefined> {
    const entry = (await this.readIndex()).find((e) => e.id === id);
    if (!entry) return undefined;
    return new Uint8Array(await readFile(this.imagePath(entry.sha256)));
  }

  private imagePath(sha256: string): string {
    return join(this.catalogDir, `${sha256}.bin`);
  }

  private async readIndex(): Promise<CatalogEntry[]> {
    let text: string;
    try {
      text = await readFile(join(this.catalogDir, 'index.json'), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new FirmwareCatalogError(
        'corrupt-index',
        `${this.catalogDir}/index.json: ${(error as Error).message}`,
      );
    }
    const index = CatalogIndexSchema.safeParse(parsed);
    if (!index.success)
      throw new FirmwareCatalogError(
        'corrupt-index',
        `${this.catalogDir}/index.json: ${index.error.issues[0]?.path.join('.')}: ${index.error.issues[0]?.message}`,
      );
    return index.data.images;
  }

  private async writeIndex(images: CatalogEntry[]): Promise<void> {
    await mkdir(this.catalogDir, { recursive: true });
    await writeAtomically(
      join(this.catalogDir, 'index.json'),
      `${JSON.stringify({ version: 1, images }, null, 2)}\n`,
    );
  }
}

/** write-then-rename, so a gateway reading meanwhile sees the old file or the new one */
async function writeAtomically(path: string, data: Uint8Array | string): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, data);
  await rename(temporary, path);
}
