// Which OTA catalog a gateway uses (docs/ota.md "The catalog"): with its own nats-server,
// <data>/firmware/ota on disk; on an external NATS, the object store bucket
// `sentinel_firmware`, shared by every node. Images a node still has on disk from before
// are offered by that node too (read only), so moving to an external NATS strands nothing.
import { join, resolve } from 'node:path';
import type { ObjectStore } from '@nats-io/obj';
import {
  type AddImageOptions,
  type CatalogEntry,
  DiskCatalog,
  FirmwareCatalogError,
  type FirmwareChannel,
  type OtaCatalog,
} from '../../firmware-store.js';
import { ObjectStoreCatalog } from './object-store.js';

export { ObjectStoreCatalog } from './object-store.js';

/** The bucket first; this node's disk catalog only for what the bucket lacks. */
export class SharedCatalog implements OtaCatalog {
  constructor(
    readonly shared: ObjectStoreCatalog,
    readonly local: DiskCatalog,
  ) {}

  async images(channel?: FirmwareChannel): Promise<CatalogEntry[]> {
    const [shared, local] = await Promise.all([this.shared.images(channel), this.local.images(channel)]);
    const ids = new Set(shared.map((e) => e.id));
    return [...shared, ...local.filter((e) => !ids.has(e.id))].sort((a, b) => b.added_at - a.added_at);
  }

  addImage(bytes: Uint8Array, options?: AddImageOptions): Promise<{ entry: CatalogEntry; added: boolean }> {
    return this.shared.addImage(bytes, options);
  }

  async removeImage(id: string): Promise<CatalogEntry> {
    try {
      return await this.shared.removeImage(id);
    } catch (error) {
      if (error instanceof FirmwareCatalogError && error.reason === 'not-found')
        return this.local.removeImage(id);
      throw error;
    }
  }

  async imageFile(sha256: string): Promise<string | undefined> {
    return (await this.shared.imageFile(sha256)) ?? this.local.imageFile(sha256);
  }
}

/** The gateway's catalog: `firmware` is the bucket when NATS is external, else undefined. */
export function gatewayOtaCatalog(dataDir: string, firmware: ObjectStore | undefined): OtaCatalog {
  const disk = new DiskCatalog(diskCatalogDir(dataDir));
  if (!firmware) return disk;
  const shared = new ObjectStoreCatalog(firmware, join(diskCatalogDir(dataDir), 'cache'));
  // copies of images removed while this node was away go; nothing waits for it (a
  // download of a removed image is refused by the bucket's answer, not by the cache)
  shared.pruneCache().catch(() => undefined);
  return new SharedCatalog(shared, disk);
}

const diskCatalogDir = (dataDir: string) => join(resolve(dataDir), 'firmware', 'ota');
