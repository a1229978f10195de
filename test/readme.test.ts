// The README's walkthrough, run as a person would: in a fresh copy of the
// repository, `npm start` in one "terminal", the other blocks one after another in
// a second bash session (variables and background jobs carry over). Blocks are
// chosen by the HTML comment above them:
//   <!-- readme-test -->                    run it, wait until it finished
//   <!-- readme-test: wait for "text" -->   run it, then wait until "text" was printed
//   <!-- readme-test: gateway -->           the command starting the gateway
//   <!-- readme-test: skip (why) -->        not run (hardware, …)
// The gateway gets port 0 for MQTT, HTTP and NATS through its environment
// variables; the port the README names (1883) is replaced by the bound one.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type FreshCopy, freshCopy, REPO_ROOT } from './support/fresh-copy.js';

interface Block {
  section: string;
  mode: 'run' | 'gateway' | 'skip';
  waitFor?: string;
  code: string;
}

/** The ```sh blocks of the README with the readme-test comment right above them. */
function readmeBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  let section = '';
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith('## ')) section = line.slice(3).trim();
    if (line !== '```sh') continue;
    const end = lines.indexOf('```', i + 1);
    const code = lines.slice(i + 1, end).join('\n');
    const marker = /^<!-- readme-test(?::\s*(.*?))?\s*-->$/.exec(lines[i - 1] ?? '');
    i = end;
    if (!marker) {
      blocks.push({ section, mode: 'skip', code });
      continue;
    }
    const option = marker[1] ?? '';
    const waitFor = /^wait for "(.*)"$/.exec(option)?.[1];
    const mode = option === 'gateway' ? 'gateway' : option.startsWith('skip') ? 'skip' : 'run';
    blocks.push({ section, mode, code, ...(waitFor ? { waitFor } : {}) });
  }
  return blocks;
}

/** Output of a process group, with a way to await text in it. */
class Output {
  text = '';
  readonly #waiters: { needle: string | RegExp; resolve: () => void }[] = [];
  readonly #exited: Promise<never>;
  constructor(
    readonly child: ChildProcess,
    what: string,
  ) {
    for (const stream of [child.stdout, child.stderr]) {
      stream?.on('data', (chunk: Buffer) => {
        this.text += chunk.toString();
        for (const waiter of [...this.#waiters]) if (this.#has(waiter.needle)) this.#settle(waiter);
      });
    }
    this.#exited = new Promise<never>((_, reject) =>
      child.once('exit', (code) => reject(new Error(`${what} exited ${code}:\n${this.text.slice(-4000)}`))),
    );
    this.#exited.catch(() => undefined);
  }
  #has(needle: string | RegExp) {
    return typeof needle === 'string' ? this.text.includes(needle) : needle.test(this.text);
  }
  #settle(waiter: { resolve: () => void }) {
    this.#waiters.splice(this.#waiters.indexOf(waiter as never), 1);
    waiter.resolve();
  }
  /** resolves when `needle` has been printed; rejects if the process ends first */
  async waitFor(needle: string | RegExp): Promise<void> {
    if (this.#has(needle)) return;
    await Promise.race([
      new Promise<void>((resolve) => this.#waiters.push({ needle, resolve })),
      this.#exited,
    ]);
  }
  /** SIGTERM to the whole process group, resolved once the leader exited */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'exit');
    process.kill(-this.child.pid!, 'SIGTERM');
    await exited;
  }
}

/** The environment of a person's shell: no SENTINEL_* settings from the test run. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('SENTINEL_')) env[key] = value;
  return { ...env, ...extra };
}

describe('README walkthrough', async () => {
  const blocks = readmeBlocks(await readFile(join(REPO_ROOT, 'README.md'), 'utf8'));
  let copy: FreshCopy | undefined;
  const running: Output[] = [];
  afterAll(async () => {
    for (const output of running.reverse()) await output.stop().catch(() => undefined);
    await copy?.remove();
  });

  it('marks every command block of the walkthrough sections as run or skipped', async () => {
    const walkthrough = ['Connect a device', 'Flash and provision a device'];
    for (const section of walkthrough) expect(blocks.some((b) => b.section === section)).toBe(true);
    const source = await readFile(join(REPO_ROOT, 'README.md'), 'utf8');
    const marked = source.split('\n```sh').length - 1;
    expect(blocks).toHaveLength(marked);
    // every block in these sections says whether it runs: none is left out by accident
    for (const block of blocks.filter((b) => walkthrough.includes(b.section)))
      expect(source).toContain(`-->\n\`\`\`sh\n${block.code}\n`);
  });

  it('runs "Connect a device" as written: the reading reaches watch, the command returns ok', async () => {
    const steps = blocks.filter((b) => b.section === 'Connect a device' && b.mode !== 'skip');
    const gateway = steps.find((b) => b.mode === 'gateway');
    expect(gateway?.code).toBe('npm start');
    copy = await freshCopy({ nodeModules: 'link' });
    const dir = copy.dir;

    // terminal 1
    const server = new Output(
      spawn('bash', ['-c', gateway!.code], {
        cwd: dir,
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: cleanEnv({
          SENTINEL_MQTT_PORT: '0',
          SENTINEL_HTTP_PORT: '0',
          SENTINEL_NATS_PORT: '0',
          SENTINEL_HOST: '127.0.0.1',
        }),
      }),
      'npm start',
    );
    running.push(server);
    await server.waitFor(/^\{"event":"ready".*\}$/m);
    const ready = JSON.parse(/^(\{"event":"ready".*\})$/m.exec(server.text)![1]!) as { mqtt_port: number };

    // terminal 2: each block sourced with stdin from /dev/null, so nothing reads the script
    const shell = new Output(
      spawn('bash', ['--norc', '--noprofile'], {
        cwd: dir,
        detached: true,
        stdio: ['pipe', 'pipe', 'pipe'],
        env: cleanEnv(),
      }),
      'the walkthrough shell',
    );
    running.push(shell);
    shell.child.stdin!.write('set -e\n');
    let n = 0;
    for (const step of steps.filter((b) => b.mode === 'run')) {
      n++;
      const code = step.code.replaceAll(/\b1883\b/g, String(ready.mqtt_port));
      const file = join(dir, `.readme-step-${n}.sh`);
      await writeFile(file, `${code}\n`);
      shell.child.stdin!.write(`source ${file} </dev/null\necho "readme-step ${n} done"\n`);
      await shell.waitFor(`readme-step ${n} done`);
      if (step.waitFor) await shell.waitFor(step.waitFor);
    }
    expect(n).toBeGreaterThanOrEqual(4);

    // what the README promises a person sees
    expect(shell.text).toMatch(/^\{"device_id":"picket-kitchen","token":"[^"]+"\}$/m);
    await shell.waitFor(/^sentinel\.state\.[0-9a-f-]{36} \{[^\n]*"value":21\.5[^\n]*"key":"temperature"/m);
    expect(shell.text).toMatch(/^\{"ok":true\}$/m);
    await shell.waitFor(/^sentinel\.state\.[0-9a-f-]{36} \{[^\n]*"value":true[^\n]*"key":"relay"/m);
  }, 180_000);
});
