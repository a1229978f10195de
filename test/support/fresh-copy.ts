// A fresh clone of the working tree, as a person would get it after the next
// commit: every tracked file plus the untracked ones git does not ignore, with
// their modification times (setup.sh compares them), in a temp directory.
import { execFile } from 'node:child_process';
import { cp, lstat, mkdir, mkdtemp, readdir, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

const run = promisify(execFile);

export interface FreshCopy {
  readonly dir: string;
  remove(): Promise<void>;
}

export interface FreshCopyOptions {
  /**
   * `link`: a node_modules made of links to this checkout's packages (no install),
   * with its own `.bin`, `@sentinel` (the workspaces of the copy) and `.package-lock.json`
   * and no `.cache`, so builds and stamps stay the copy's own. `none`: no node_modules.
   */
  nodeModules: 'link' | 'none';
  /** commit the copy into a new git repository, so `git status` tells what a command changed */
  git?: boolean;
}

/** The files a clone would hold: tracked ones (minus deleted) and new unignored ones. */
export async function cloneFiles(): Promise<string[]> {
  const { stdout } = await run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: REPO_ROOT,
    maxBuffer: 64 * 1024 * 1024,
  });
  const files: string[] = [];
  for (const file of new Set(stdout.split('\0').filter(Boolean))) {
    if (await lstat(join(REPO_ROOT, file)).catch(() => undefined)) files.push(file);
  }
  return files;
}

export async function freshCopy(options: FreshCopyOptions): Promise<FreshCopy> {
  const dir = await mkdtemp(join(tmpdir(), 'sentinel-clone-'));
  try {
    for (const file of await cloneFiles()) {
      await mkdir(dirname(join(dir, file)), { recursive: true });
      await cp(join(REPO_ROOT, file), join(dir, file), { preserveTimestamps: true, verbatimSymlinks: true });
    }
    if (options.nodeModules === 'link') await linkNodeModules(dir);
    if (options.git) {
      const git = (...args: string[]) => run('git', args, { cwd: dir });
      await git('init', '-q');
      await git('add', '-A');
      await git('-c', 'user.name=test', '-c', 'user.email=test@localhost', 'commit', '-qm', 'clone');
    }
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

async function linkNodeModules(dir: string): Promise<void> {
  const from = join(REPO_ROOT, 'node_modules');
  const to = join(dir, 'node_modules');
  await mkdir(to);
  for (const entry of await readdir(from)) {
    if (entry === '.cache') continue;
    if (entry === '.bin' || entry === '@sentinel') {
      // relative links: `.bin` into the packages, `@sentinel` into the copy's own workspaces
      await cp(join(from, entry), join(to, entry), { recursive: true, verbatimSymlinks: true });
    } else if (entry === '.package-lock.json') {
      await cp(join(from, entry), join(to, entry), { preserveTimestamps: true });
    } else {
      await symlink(join(from, entry), join(to, entry));
    }
  }
}
