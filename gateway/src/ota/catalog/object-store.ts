// The OTA catalog in the JetStream object store bucket `sentinel_firmware`, used when the
// gateway runs on an external NATS: every node (and `sentinel firmware add --nats`) sees
// the same images, so a device on any node downloads what was added through any other.
//
// One object per image, named by its SHA-256 (hex); the catalog facts (CatalogEntry: chip,
// project, version, size, SHA-256, signature, channel…) ride along as the object's
// metadata, so the object and its facts are written and removed together, with no index
// to keep in step. Downloads stream from a local copy per digest (<data>/firmware/ota/cache),
// fetched once per node and checked against the SHA-256 the catalog names: the HTTP
// route then serves Range requests from a file, as it does on disk.
import { createHash } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ObjectInfo, ObjectStore } from '@nats-io/obj';
import { inspectRelease } from '@sentinel/firmware';
import {
  type AddImageOptions,
  type CatalogEntry,
  CatalogEntrySchema,
  catalogEntry,
  duplicateImage,
  FirmwareCatalogError,
  type FirmwareChannel,
  inChannel,
  type OtaCatalog,
} from '../../firmware-store.js';

/** the object metadata key holding the catalog entry (JSON) */
const ENTRY_KEY = 'sentinel-entry';
const SHA256_HEX = /^[0-9a-f]{64}$/;

export class ObjectStoreCatalog implements OtaCatalog {
  /** fetches under way, by digest: fifty devices asking at once fetch the object once */
  readonly #fetching = new Map<string, Promise<string>>();

  /** `cacheDir`: where this node keeps verified copies by digest (absent for the CLI) */
  constructor(
    private readonly store: ObjectStore,
    private readonly cacheDir?: string,
  ) {}

  async images(channel?: FirmwareChannel): Promise<CatalogEntry[]> {
    // a gateway keeps the listing in memory, kept current by a watch: a rollout offers one
    // image to many devices in a row, and listing the bucket for each offer (a consumer
    // each time) delayed the later devices' downloads. The CLI lists once.
    const entries = this.cacheDir ? [...(await this.#watched()).values()] : await this.#list();
    return inChannel(entries, channel);
  }

  async #list(): Promise<CatalogEntry[]> {
    return (await this.store.list()).flatMap((info) => {
      const entry = entryOf(info);
      return entry ? [entry] : [];
    });
  }

  #entries: Promise<Map<string, CatalogEntry>> | undefined;

  /** the bucket's entries by object name: listed once, then followed (ends with the connection) */
  #watched(): Promise<Map<string, CatalogEntry>> {
    this.#entries ??= (async () => {
      const entries = new Map<string, CatalogEntry>();
      const touched = new Set<string>();
      // the watch first, then the listing: nothing written in between is missed, and what
      // the watch reported meanwhile is newer than the listing
      const updates = await this.store.watch({ includeHistory: false });
      void (async () => {
        for await (const info of updates) {
          touched.add(info.name);
          const entry = info.deleted ? undefined : entryOf(info);
          if (entry) entries.set(info.name, entry);
          else {
            entries.delete(info.name);
            // its copy goes with it, once, here (not on every download asking for it)
            if (this.cacheDir && SHA256_HEX.test(info.name))
              void rm(join(this.cacheDir, `${info.name}.bin`), { force: true });
          }
        }
        this.#entries = undefined; // the connection ended: list again next time
      })();
      for (const entry of await this.#list())
        if (!touched.has(entry.sha256)) entries.set(entry.sha256, entry);
      return entries;
    })().catch((error: unknown) => {
      this.#entries = undefined;
      throw error;
    });
    return this.#entries;
  }

  async addImage(
    bytes: Uint8Array,
    options: AddImageOptions = {},
  ): Promise<{ entry: CatalogEntry; added: boolean }> {
    const release = inspectRelease(bytes, { partitions: options.partitions });
    const entry = catalogEntry(release, options.channel ?? 'stable');
    const existing = (await this.images()).find((e) => e.id === entry.id);
    if (existing && existing.sha256 !== entry.sha256) throw duplicateImage(existing, entry);
    if (existing) {
      const moved = { ...existing, channel: entry.channel };
      await this.store.update(existing.sha256, { name: existing.sha256, metadata: metadataOf(moved) });
      return { entry: moved, added: false };
    }
    await this.store.putBlob({ name: entry.sha256, metadata: metadataOf(entry) }, bytes);
    return { entry, added: true };
  }

  async removeImage(id: string): Promise<CatalogEntry> {
    const entry = (await this.images()).find((e) => e.id === id);
    if (!entry) throw new FirmwareCatalogError('not-found', `no image ${id} in the firmware catalog`);
    await this.store.delete(entry.sha256);
    if (this.cacheDir) await rm(join(this.cacheDir, `${entry.sha256}.bin`), { force: true });
    return entry;
  }

  /**
   * The verified local copy of an image, fetched on first use; none for an image no longer
   * in the bucket, so an image removed through another node is refused here too.
   */
  async imageFile(sha256: string): Promise<string | undefined> {
    if (!this.cacheDir || !SHA256_HEX.test(sha256)) return undefined;
    const file = join(this.cacheDir, `${sha256}.bin`);
    // the followed listing, not a round trip per request: an image removed through another
    // node is gone from it within moments
    const entry = (await this.#watched()).get(sha256);
    if (!entry) return undefined;
    const local = await stat(file).catch(() => undefined);
    if (local?.isFile() && local.size === entry.size) return file;
    let fetching = this.#fetching.get(sha256);
    if (!fetching) {
      fetching = this.#fetch(entry, file).finally(() => this.#fetching.delete(sha256));
      this.#fetching.set(sha256, fetching);
    }
    return fetching;
  }

  /** Copies of images no longer in the bucket go (called when the gateway starts). */
  async pruneCache(): Promise<void> {
    if (!this.cacheDir) return;
    const wanted = new Set((await this.images()).map((e) => e.sha256));
    for (const name of await readdir(this.cacheDir).catch(() => [])) {
      if (!wanted.has(name.replace(/\.bin$/, ''))) await rm(join(this.cacheDir, name), { force: true });
    }
  }

  /** Streams the object to a temporary file, hashing as it goes; renamed into place only if intact. */
  async #fetch(entry: CatalogEntry, file: string): Promise<string> {
    const dir = this.cacheDir!;
    await mkdir(dir, { recursive: true });
    const temporary = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    const corrupt = (why: string) =>
      new FirmwareCatalogError(
        'corrupt-image',
        `the stored image ${entry.id} (sha256 ${entry.sha256.slice(0, 12)}…) is corrupt: ${why}; remove it and add the image again`,
      );
    const handle = await open(temporary, 'w');
    try {
      const result = await this.store.get(entry.sha256);
      if (!result)
        throw new FirmwareCatalogError('not-found', `no image ${entry.id} in the firmware catalog`);
      const hash = createHash('sha256');
      let size = 0;
      try {
        for await (const chunk of result.data) {
          hash.update(chunk);
          size += chunk.length;
          await handle.write(chunk);
        }
      } catch (error) {
        // the client's own check of the object's digest, or a chunk that never came
        throw corrupt((error as Error).message.split('\n')[0] ?? 'unreadable');
      }
      const failed = await result.error;
      if (failed) throw corrupt(failed.message.split('\n')[0] ?? 'unreadable');
      const digest = hash.digest('hex');
      if (size !== entry.size) throw corrupt(`${size} bytes where the catalog says ${entry.size}`);
      if (digest !== entry.sha256) throw corrupt(`its bytes hash to ${digest.slice(0, 12)}…`);
      await handle.close();
      await rename(temporary, file);
      return file;
    } catch (error) {
      await handle.close().catch(() => undefined);
      await rm(temporary, { force: true });
      throw error;
    }
  }
}

function metadataOf(entry: CatalogEntry): Record<string, string> {
  return { [ENTRY_KEY]: JSON.stringify(entry) };
}

/** The entry an object carries, or undefined for an object that is not a catalog image. */
function entryOf(info: ObjectInfo): CatalogEntry | undefined {
  if (info.deleted) return undefined;
  const text = info.metadata?.[ENTRY_KEY];
  if (!text) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  const entry = CatalogEntrySchema.safeParse(parsed);
  // the name is the digest: an entry naming another digest is not this object's
  return entry.success && entry.data.sha256 === info.name ? entry.data : undefined;
}
