// The CLI as the contract fixes it: --help everywhere, exit codes 0/1/2, one
// clear line on stderr for a handled error, JSON lines on stdout.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCli, SENTINEL_BIN } from '../../../test/support/cli.js';
import { startNats, type TestNats } from '../../../test/support/nats.js';
import { buildFullProgram, main } from '../src/main.js';

/** Every command path, from the program itself (so a new command is covered without editing this test). */
async function commandPaths(): Promise<string[][]> {
  const paths: string[][] = [[]];
  const walk = (command: Command, path: string[]) => {
    for (const sub of command.commands) {
      paths.push([...path, sub.name()]);
      walk(sub, [...path, sub.name()]);
    }
  };
  walk(await buildFullProgram(), []);
  return paths;
}

describe('sentinel CLI', () => {
  it('lists every command in `sentinel --help`', async () => {
    const { code, stdout } = await runCli(['--help']);
    expect(code).toBe(0);
    for (const name of ['gateway', 'device', 'simulate']) expect(stdout).toContain(name);
  });

  it('lists the same commands without loading them as with every module loaded', async () => {
    // the real process answers from the build's command index; in-process, every module loads
    const { stdout } = await runCli(['--help']);
    expect(stdout).toBe((await buildFullProgram()).helpInformation());
  });

  it('answers --help for every command with exit code 0 and a usage line', async () => {
    // in-process: one process per command path would cost ~1 s of CPU each; the real
    // process is covered by the tests around this one
    const paths = await commandPaths();
    expect(paths.length).toBeGreaterThan(5);
    for (const path of paths) {
      let out = '';
      const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
        out += String(chunk);
        return true;
      });
      try {
        const code = await main([...path, '--help']);
        expect(code, `sentinel ${path.join(' ')} --help`).toBe(0);
      } finally {
        write.mockRestore();
      }
      expect(out, `sentinel ${path.join(' ')} --help`).toMatch(/^Usage: sentinel/);
    }
  });

  it('ends quietly when its reader goes away (`sentinel gateway --help | head -1`)', async () => {
    const child = spawn(process.execPath, [SENTINEL_BIN, 'gateway', '--help'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.stdout.destroy(); // like head after its first line
    const [code] = await once(child, 'close');
    expect(stderr).not.toMatch(/EPIPE|Unhandled/);
    expect(code).toBe(0);
  });

  it('exits 2 on bad usage, with one line on stderr', async () => {
    for (const args of [
      ['frobnicate'],
      ['device', 'add'],
      ['device', 'add', 'Not Valid!', '--nats', 'nats://127.0.0.1:1'],
      ['gateway', '--nope'],
    ]) {
      const { code, stderr } = await runCli(args);
      expect(code, args.join(' ')).toBe(2);
      expect(stderr.trim().length).toBeGreaterThan(0);
    }
  });

  describe('device', () => {
    let nats: TestNats;
    beforeAll(async () => {
      nats = await startNats();
    });
    afterAll(async () => {
      await nats?.stop();
    });

    it('adds, lists and removes devices; errors are one line with exit code 1', async () => {
      const added = await runCli(['device', 'add', 'cli-a', 'cli-b', '--nats', nats.url]);
      expect(added.code).toBe(0);
      const lines = added.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(lines.map((l) => l.device_id)).toEqual(['picket-cli-a', 'picket-cli-b']);
      expect(lines[0].token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(lines[0].token).not.toBe(lines[1].token);

      const again = await runCli(['device', 'add', 'cli-a', '--nats', nats.url]);
      expect(again.code).toBe(1);
      expect(again.stderr.trim().split('\n')).toHaveLength(1);
      expect(again.stderr).toMatch(
        /^sentinel: device "cli-a" is already registered: for a new token run `npx sentinel device rotate cli-a`, or `npx sentinel device remove cli-a` first$/m,
      );

      // the environment names the store too
      const listed = await runCli(['device', 'list'], { SENTINEL_NATS_URL: nats.url });
      expect(listed.code).toBe(0);
      expect(listed.stdout).toContain('picket-cli-a');
      expect(listed.stdout).not.toContain(lines[0].token); // tokens are never shown again

      expect((await runCli(['device', 'remove', 'cli-a', '--nats', nats.url])).code).toBe(0);
      const gone = await runCli(['device', 'remove', 'cli-a', '--nats', nats.url]);
      expect(gone.code).toBe(1);
      expect(gone.stderr).toContain('not registered');
    });

    it('says what to do when the store cannot be reached', async () => {
      const { code, stderr } = await runCli(['device', 'list', '--nats', 'nats://127.0.0.1:1']);
      expect(code).toBe(1);
      expect(stderr).toMatch(/cannot reach the gateway store/);
      expect(stderr).not.toMatch(/\n\s+at /); // no stack trace without --verbose
    });
  });
});
