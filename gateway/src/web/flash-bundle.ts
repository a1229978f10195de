// The /flash page's script: the page logic and firmware's flasher core (esptool-js
// inside) as one browser bundle. `npm run build` writes it next to the compiled page;
// a gateway running from sources (the tests' TypeScript loader) bundles on first use.
import { readFile, writeFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = fileURLToPath(import.meta.url);
/** flash-app.ts beside this module's source, flash-app.js beside its compiled form */
const ENTRY = fileURLToPath(new URL(`./flash-app${extname(HERE)}`, import.meta.url));
const BUNDLE = new URL('./flash-app.bundle.js', import.meta.url);

async function bundle(): Promise<string> {
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: [ENTRY],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'chrome110',
    minify: true,
    write: false,
    logLevel: 'silent',
  });
  const [output] = result.outputFiles;
  if (output === undefined) throw new Error('esbuild produced no bundle for the flasher page');
  return output.text;
}

/** Called by scripts/build.mjs on the compiled gateway. */
export async function writeFlashAppBundle(): Promise<void> {
  await writeFile(BUNDLE, await bundle());
}

export async function flashAppScript(): Promise<string> {
  try {
    return await readFile(BUNDLE, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    return bundle();
  }
}
