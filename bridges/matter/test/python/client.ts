// Runs python/ha_client_driver.py, Home Assistant's matter server client driven step by
// step, for the tests that check our bridge against it (python-client.test.ts, and
// mdns.test.ts for the client's own commission_with_code with mDNS discovery).
//
// The client is not ours and not packaged by Debian, so nothing of it lives here:
// SENTINEL_MATTER_CLIENT names a python_client checkout of the matterjs-server repository;
// SENTINEL_MATTER_PYTHON the interpreter (default Debian's /usr/bin/python3), which must be
// Python 3.12 or newer with aiohttp, orjson and dacite. docs/matter.md says how to get them.
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { parseMatterJson } from '../../src/index.js';

const CLIENT_ENV = 'SENTINEL_MATTER_CLIENT';
const PYTHON_ENV = 'SENTINEL_MATTER_PYTHON';
const DRIVER = fileURLToPath(new URL('./ha_client_driver.py', import.meta.url));

/** Says, as its last line, why the client cannot be imported (an old Python, a missing module). */
const PROBE = [
  'import sys',
  'if sys.version_info < (3, 12): sys.exit(f"Python {sys.version.split()[0]} is older than the 3.12 the client needs")',
  'import matter_server.client',
].join('\n');

/** The interpreter and client checkout to use, or why these tests cannot run here. */
export function findPythonClient(): { python: string; clientDir: string; skipReason?: string } {
  const python = process.env[PYTHON_ENV] || '/usr/bin/python3';
  const clientDir = process.env[CLIENT_ENV] ?? '';
  if (!clientDir) {
    return {
      python,
      clientDir,
      skipReason: `${CLIENT_ENV} is not set (a matterjs-server python_client folder)`,
    };
  }
  // the client's own imports: it needs Python 3.12 syntax, aiohttp, orjson and dacite
  const probe = spawnSync(python, ['-c', PROBE], {
    env: { ...process.env, PYTHONPATH: clientDir },
    encoding: 'utf8',
  });
  if (probe.error || probe.status !== 0) {
    const why = (probe.stderr || String(probe.error)).trim().split('\n').pop();
    return {
      python,
      clientDir,
      skipReason: `${python} cannot import matter_server.client from ${clientDir} (${why}); it needs Python >= 3.12 with aiohttp, orjson and dacite (set ${PYTHON_ENV})`,
    };
  }
  return { python, clientDir };
}

/** One line the driver prints per step (see python/ha_client_driver.py). */
export type Step = { step: string; error?: string; traceback?: string } & Record<string, unknown>;

/** The driver process, stepped one line at a time. */
export class Driver {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #lines: AsyncIterator<string>;
  #stderr = '';

  constructor(python: string, clientDir: string, args: string[]) {
    this.#child = spawn(python, [DRIVER, '--step-by-step', ...args], {
      env: { ...process.env, PYTHONPATH: clientDir, PYTHONUNBUFFERED: '1' },
    });
    this.#child.stderr.on('data', (d) => {
      this.#stderr += d;
    });
    this.#lines = createInterface({ input: this.#child.stdout })[Symbol.asyncIterator]();
  }

  /**
   * the next step's line, then the go-ahead for the one after it; a client failure fails
   * the test with the client's own traceback
   */
  async next(expected: string): Promise<Step> {
    const { value, done } = await this.#lines.next();
    if (done) throw new Error(`the client exited before step ${expected}:\n${this.#stderr}`);
    // ids are 64-bit: parsed exactly, as the bridge's own JSON does
    const step = parseMatterJson(value) as Step;
    if (step.error)
      throw new Error(`the client failed in step ${step.step}: ${step.error}\n${step.traceback}`);
    expect(step.step).toBe(expected);
    // on at once: a failed assertion on this step must not stall the steps after it
    this.#child.stdin.write('\n');
    return step;
  }

  async exit(): Promise<number | null> {
    this.#child.stdin.end();
    if (this.#child.exitCode !== null) return this.#child.exitCode;
    return new Promise((resolve) => this.#child.once('exit', resolve));
  }

  kill(): void {
    this.#child.kill('SIGKILL');
  }
}
