// The firmware builds the gateway holds for the browser flasher: one folder per build
// under <data>/firmware, each with an esp-web-tools manifest.json and the part files it
// names. Read on every request (the folder is small and edited by hand).

import { readdir, readFile, stat } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { ManifestError, parseManifest } from '@sentinel/firmware';

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

export class FirmwareStore {
  readonly root: string;
  constructor(dataDir: string) {
    this.root = resolve(dataDir, 'firmware');
  }

  async list(): Promise<FirmwareListing> {
    const listing: FirmwareListing = { builds: [], problems: [] };
    const entries = await readdir(this.root, { withFileTypes: true }).catch(() => []);
    for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      if (!entry.isDirectory() || !BUILD_ID.test(entry.name)) continue;
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
}
