// The container image: its recipe agrees with the repository (always), and, where a
// container engine runs, the image builds and the gateway in it prints its ready line.
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './support/fresh-copy.js';

const run = promisify(execFile);
const containerfile = await readFile(join(REPO_ROOT, 'Containerfile'), 'utf8');
const pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
  bin: Record<string, string>;
};

/** podman or docker, whichever has a working engine; otherwise why neither does */
async function engine(): Promise<{ tool: string } | { missing: string }> {
  const problems: string[] = [];
  for (const tool of ['podman', 'docker']) {
    try {
      await run(tool, ['info'], { timeout: 20_000 });
      return { tool };
    } catch (error) {
      const e = error as NodeJS.ErrnoException & { stderr?: string };
      problems.push(e.code === 'ENOENT' ? `${tool} is not installed` : `${tool} has no running engine`);
    }
  }
  return { missing: problems.join(', ') };
}

describe('Containerfile', () => {
  it('runs npm scripts and files that exist, in exec form, as a non-root user', () => {
    for (const [, script] of containerfile.matchAll(/npm run ([\w:-]+)/g))
      expect(pkg.scripts, `npm run ${script}`).toHaveProperty(script!);
    for (const [, file] of containerfile.matchAll(/^COPY (?!--)(\S+) \S+$/gm))
      if (file !== '.') expect(existsSync(join(REPO_ROOT, file!)), file).toBe(true);
    const cmd = /^CMD (\[.*\])$/m.exec(containerfile);
    expect(cmd, 'CMD in exec form').not.toBeNull();
    const argv = JSON.parse(cmd![1]!) as string[];
    expect(argv.slice(0, 2)).toEqual(['node', pkg.bin.sentinel]);
    expect(argv.slice(2)).toEqual(['gateway', '--data', '/data']);
    expect(containerfile).toMatch(/^USER (?!root\b)\S+$/m);
    expect(containerfile).toMatch(/^VOLUME \["\/data"\]$/m);
    expect(containerfile).toMatch(/^EXPOSE 1883 8883 8080$/m);
    expect(containerfile).toMatch(/^FROM \S*node:20-bookworm-slim/m);
  });

  it('ignores what a fresh clone does not hold (node_modules, dist, data)', async () => {
    const ignore = (await readFile(join(REPO_ROOT, '.containerignore'), 'utf8')).split('\n');
    for (const entry of ['**/node_modules', '**/dist', 'data', '.git']) expect(ignore).toContain(entry);
    expect(await readFile(join(REPO_ROOT, '.dockerignore'), 'utf8')).toBe(ignore.join('\n'));
  });

  it('builds an image whose gateway prints the ready line', async (context) => {
    const found = await engine();
    if ('missing' in found) {
      context.skip(`no container engine to build the image with: ${found.missing}`);
      return;
    }
    const tag = `sentinel-edge-test:${process.pid}`;
    await run(found.tool, ['build', '-f', 'Containerfile', '-t', tag, '.'], {
      cwd: REPO_ROOT,
      maxBuffer: 256 * 1024 * 1024,
      timeout: 600_000,
    });
    const name = `sentinel-edge-test-${process.pid}`;
    const child = spawn(found.tool, ['run', '--rm', '--name', name, tag], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const [line] = (await once(createInterface({ input: child.stdout }), 'line')) as [string];
      expect(JSON.parse(line)).toMatchObject({ event: 'ready', mqtt_port: 1883, http_port: 8080 });
    } finally {
      await run(found.tool, ['stop', '-t', '10', name]).catch(() => undefined);
      await run(found.tool, ['rmi', '-f', tag]).catch(() => undefined);
    }
  }, 900_000);
});
