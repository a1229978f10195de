// Checks that every workspace declares what it imports, and that the arrows between
// our own packages point the way DESIGN.md draws them ("Layout"). Run by
// `npm run build`; `node scripts/check-deps.mjs [root]` alone prints the same verdict.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Which of our packages each kind of workspace may import (DESIGN.md, "Layout"):
 * pure libraries import none of ours, the gateway and bridges compose them, tools and
 * simulators sit on top, and nothing imports tools.
 */
const MAY_IMPORT = {
  '@sentinel/protocol': [],
  '@sentinel/firmware': [],
  '@sentinel/devices': [],
  '@sentinel/web': ['@sentinel/protocol', '@sentinel/firmware', '@sentinel/devices'],
  '@sentinel/gateway': ['@sentinel/protocol', '@sentinel/firmware', '@sentinel/devices', '@sentinel/web'],
  '@sentinel/ble-proxy': ['@sentinel/protocol', '@sentinel/firmware', '@sentinel/devices'],
  '@sentinel/matter': ['@sentinel/protocol', '@sentinel/firmware', '@sentinel/devices'],
  '@sentinel/automations': ['@sentinel/protocol'], // DESIGN: the protocol, never gateway internals
  '@sentinel/simulators': ['@sentinel/protocol', '@sentinel/firmware', '@sentinel/devices'],
  '@sentinel/cli': '*',
};
/** libraries that must also run in a browser: no node: imports in their sources */
const BROWSER_SAFE = new Set(['@sentinel/firmware', '@sentinel/devices', '@sentinel/web']);

const SPECIFIER =
  /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\.meta\.resolve\s*\(\s*|\brequire\s*\(\s*|^\s*import\s+)['"]([^'"\s]+)['"]/gm;

/** The package a bare specifier names: `@scope/name/sub` → `@scope/name`, `name/sub` → `name`. */
function packageOf(specifier) {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

function* typescriptFiles(dir) {
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return;
  }
  for (const entry of entries) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) yield* typescriptFiles(path);
    else if (/\.(ts|tsx|mts|js|mjs)$/.test(entry) && !entry.endsWith('.d.ts')) yield path;
  }
}

function* importsOf(file) {
  // comments name packages too ("unlike aedes' ...") — drop them before matching
  const text = readFileSync(file, 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
  for (const match of text.matchAll(SPECIFIER)) {
    const line = text.slice(0, match.index).split('\n').length;
    yield { specifier: match[1], line };
  }
}

function workspaceDirs(root, patterns) {
  const dirs = [];
  for (const pattern of patterns) {
    if (pattern.endsWith('/*')) {
      const parent = join(root, pattern.slice(0, -2));
      for (const entry of readdirSync(parent)) {
        if (existsSync(join(parent, entry, 'package.json'))) dirs.push(join(parent, entry));
      }
    } else dirs.push(join(root, pattern));
  }
  return dirs;
}

/**
 * Every problem found, one line each: `errors` (an undeclared import, a wrong arrow)
 * fail the build; `warnings` (a declared dependency nobody imports yet) do not.
 */
export function checkDependencies(root) {
  const rootPackage = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const rootDev = new Set(Object.keys(rootPackage.devDependencies ?? {}));
  const builtins = new Set(builtinModules);
  const problems = [];
  const warnings = [];
  for (const dir of workspaceDirs(root, rootPackage.workspaces ?? [])) {
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    const runtime = new Set([
      ...Object.keys(pkg.dependencies ?? {}),
      ...Object.keys(pkg.peerDependencies ?? {}),
      ...Object.keys(pkg.optionalDependencies ?? {}),
    ]);
    const forTests = new Set([...runtime, ...Object.keys(pkg.devDependencies ?? {}), ...rootDev]);
    const allowed = MAY_IMPORT[pkg.name];
    if (allowed === undefined)
      problems.push(`${pkg.name}: not in the dependency-direction table of scripts/check-deps.mjs`);
    for (const name of Object.keys(pkg.dependencies ?? {})) {
      if (name.startsWith('@sentinel/') && allowed !== '*' && !allowed?.includes(name))
        problems.push(`${pkg.name} depends on ${name}, against the direction in DESIGN.md`);
    }
    const used = new Set();
    for (const [folder, declared, kind] of [
      ['src', runtime, 'dependencies'],
      ['test', forTests, 'dependencies or devDependencies'],
    ]) {
      for (const file of typescriptFiles(join(dir, folder))) {
        for (const { specifier, line } of importsOf(file)) {
          if (specifier.startsWith('.') || specifier.startsWith('#')) continue;
          const where = `${relative(root, file)}:${line}`;
          if (specifier.startsWith('node:')) {
            if (folder === 'src' && BROWSER_SAFE.has(pkg.name))
              problems.push(`${where}: imports ${specifier}, but ${pkg.name} must also run in a browser`);
            continue;
          }
          if (builtins.has(specifier)) {
            problems.push(`${where}: imports '${specifier}': write 'node:${specifier}'`);
            continue;
          }
          const name = packageOf(specifier);
          if (name === pkg.name) continue;
          if (folder === 'src') used.add(name);
          if (!declared.has(name))
            problems.push(
              `${where}: imports ${name}, which ${pkg.name}'s package.json does not list in ${kind}`,
            );
          if (
            folder === 'src' &&
            name.startsWith('@sentinel/') &&
            allowed !== '*' &&
            !allowed?.includes(name)
          )
            problems.push(`${where}: ${pkg.name} may not import ${name} (DESIGN.md dependency direction)`);
          if (name === '@sentinel/cli' && pkg.name !== '@sentinel/cli')
            problems.push(`${where}: nothing imports from tools/ (DESIGN.md)`);
        }
      }
    }
    for (const name of Object.keys(pkg.dependencies ?? {})) {
      if (!used.has(name))
        warnings.push(`${pkg.name} lists ${name} in dependencies, but its sources never import it`);
    }
  }
  return { errors: problems, warnings };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = process.argv[2] ?? join(fileURLToPath(import.meta.url), '..', '..');
  const { errors, warnings } = checkDependencies(root);
  for (const warning of warnings) console.error(`check-deps: warning: ${warning}`);
  for (const error of errors) console.error(`check-deps: ${error}`);
  if (errors.length > 0) process.exit(1);
}
