// Runs the real `sentinel` command (bin/sentinel.js) as a user would.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { openGatewayStore } from '@sentinel/gateway';
import { embeddedGatewayCreds, type Role, TokenStore } from '@sentinel/gateway/store';

export const SENTINEL_BIN = fileURLToPath(new URL('../../bin/sentinel.js', import.meta.url));

/** Every long-running child a test started; `killStrays()` ends those a failed test left behind. */
const running = new Set<ChildProcess>();

export function track<C extends ChildProcess>(child: C): C {
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
}

export function killStrays(): void {
  for (const child of running) child.kill('SIGKILL');
  running.clear();
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `sentinel <args>`; `input`, when given, is its standard input (e.g. for --password-stdin). */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}, input?: string): Promise<CliResult> {
  return runScript(SENTINEL_BIN, args, env, input);
}

/** Runs `node <script> <args>` to its exit (runCli with another entry point). */
export async function runScript(
  script: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
  input?: string,
): Promise<CliResult> {
  const child = spawn(process.execPath, [script, ...args], {
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  child.stdin?.end(input);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  // 'close', not 'exit': a child's last output can still be in its pipes when it has exited
  const [code] = await once(child, 'close');
  return { code: code as number | null, stdout, stderr };
}

export interface Ready {
  event: 'ready';
  node_id: string;
  mqtt_port: number;
  http_port: number;
  nats_url: string;
  /** when TLS is on */
  mqtt_tls_port?: number;
  /** at a first start, while nobody has set a password: where the owner sets one */
  onboarding_url?: string;
}

export interface CliGateway {
  ready: Ready;
  /** the credential for ready.nats_url: --nats-creds, or the embedded server's gateway credential */
  natsCreds: string | undefined;
  process: ChildProcess;
  stderr(): string;
  /** resolves with the first JSON log line on stderr (past or future) that matches */
  logged(predicate: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  /** resolves with the first stderr line (past or future) that is not JSON and matches: what it tells a person */
  said(pattern: RegExp): Promise<string>;
  /** SIGTERM, resolves with the exit code and how long the stop took */
  stop(): Promise<{ code: number | null; ms: number }>;
  /** a new API token of that role (default admin), made in the gateway's store (as `sentinel token create`) */
  token(role?: Role): Promise<string>;
  /** fetch on the gateway's HTTP port (path from `/`) with an admin API token */
  api(path: string, init?: RequestInit): Promise<Response>;
}

/** An API token made in the store of the gateway at `natsUrl`, as `sentinel token create` does. */
export async function createApiToken(
  natsUrl: string,
  role: Role = 'admin',
  natsCreds?: string,
): Promise<string> {
  const store = await openGatewayStore({ natsUrl, ...(natsCreds ? { natsCreds } : {}) });
  try {
    const tokens = await TokenStore.open(store.bus.js);
    return (await tokens.create(role)).token;
  } finally {
    await store.close();
  }
}

export async function startCliGateway(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliGateway> {
  const child = track(
    spawn(process.execPath, [SENTINEL_BIN, 'gateway', ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const logLines = new LogLines(child);
  const lines = createInterface({ input: child.stdout });
  const ready = await new Promise<Ready>((resolve, reject) => {
    lines.once('line', (line) => resolve(JSON.parse(line) as Ready));
    child.once('exit', (code) =>
      reject(new Error(`gateway exited ${code} before ready: ${stderr.slice(-3000)}`)),
    );
  });
  const flag = (name: string) => {
    const at = args.lastIndexOf(name);
    return at >= 0 ? args[at + 1] : undefined;
  };
  const external = flag('--nats') ?? env.SENTINEL_NATS_URL;
  const dataDir = flag('--data') ?? env.SENTINEL_DATA ?? './data';
  const natsCreds =
    flag('--nats-creds') ?? env.SENTINEL_NATS_CREDS ?? (external ? undefined : embeddedGatewayCreds(dataDir));
  const https = flag('--tls') === 'auto' || flag('--tls-cert') !== undefined;
  const token = (role: Role = 'admin') => createApiToken(ready.nats_url, role, natsCreds);
  let adminToken: Promise<string> | undefined;
  return {
    ready,
    natsCreds,
    process: child,
    token,
    async api(path, init = {}) {
      adminToken ??= token('admin');
      const headers = new Headers(init.headers);
      if (!headers.has('authorization')) headers.set('authorization', `Bearer ${await adminToken}`);
      return fetch(`${https ? 'https' : 'http'}://127.0.0.1:${ready.http_port}${path}`, { ...init, headers });
    },
    stderr: () => stderr,
    logged: (predicate) => logLines.find(predicate),
    said: (pattern) => logLines.said(pattern),
    async stop() {
      if (child.exitCode !== null) return { code: child.exitCode, ms: 0 };
      const started = Date.now();
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const [code] = await exited;
      return { code: code as number | null, ms: Date.now() - started };
    },
  };
}

type StderrLine = { json: Record<string, unknown> } | { text: string };

/** What a process writes on stderr, line by line: JSON log lines, and lines for people. */
class LogLines {
  readonly #seen: StderrLine[] = [];
  readonly #waiting = new Set<(line: StderrLine) => void>();

  constructor(child: ChildProcess) {
    if (!child.stderr) throw new Error('the process has no stderr pipe to read logs from');
    createInterface({ input: child.stderr }).on('line', (text) => {
      const line = parseLine(text);
      this.#seen.push(line);
      for (const notify of [...this.#waiting]) notify(line);
    });
  }

  find(predicate: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
    return this.#first((line) => ('json' in line && predicate(line.json) ? line.json : undefined));
  }

  said(pattern: RegExp): Promise<string> {
    return this.#first((line) => ('text' in line && pattern.test(line.text) ? line.text : undefined));
  }

  #first<T>(match: (line: StderrLine) => T | undefined): Promise<T> {
    for (const line of this.#seen) {
      const found = match(line);
      if (found !== undefined) return Promise.resolve(found);
    }
    return new Promise((resolve) => {
      const notify = (line: StderrLine) => {
        const found = match(line);
        if (found === undefined) return;
        this.#waiting.delete(notify);
        resolve(found);
      };
      this.#waiting.add(notify);
    });
  }
}

function parseLine(text: string): StderrLine {
  try {
    const json: unknown = JSON.parse(text);
    if (typeof json === 'object' && json !== null) return { json: json as Record<string, unknown> };
  } catch {
    // a line for people
  }
  return { text };
}

/** `sentinel gateway` as tests run it: on 127.0.0.1, any free MQTT and HTTP port, then `args`. */
export function startLocalGateway(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliGateway> {
  return startCliGateway(['--host', '127.0.0.1', '--mqtt-port', '0', '--http-port', '0', ...args], env);
}

/** The pids of every process below `pid` (children, their children, …), from /proc. */
export function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // "pid (comm) state ppid …": comm may hold spaces and parentheses
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
  }
  const found: number[] = [];
  const walk = (parent: number) => {
    for (const child of children.get(parent) ?? []) {
      found.push(child);
      walk(child);
    }
  };
  walk(pid);
  return found;
}

/** Whether a process exists (a zombie counts as gone: it runs nothing). */
export function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/**
 * Resolves with the pids still running after `ms` (empty once all are gone, as early as
 * that happens). Processes that are not our children send no event when they end, so
 * this looks at /proc every 50 ms.
 */
export async function survivors(pids: number[], ms: number): Promise<number[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const left = pids.filter(isRunning);
    if (left.length === 0 || Date.now() >= deadline) return left;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export interface AutomationsRuntime {
  child: ChildProcess;
  /** resolves with the time the process reported it runs the automations (it leads) */
  running: Promise<number>;
  /** resolves once it reported it waits on standby */
  standby: Promise<void>;
  stderr(): string;
}

/** `sentinel automations run <args>` as a tracked process; its ready and standby lines as promises (rejected if it exits first). */
export function startAutomationsRuntime(args: string[]): AutomationsRuntime {
  const child = track(
    spawn(process.execPath, [SENTINEL_BIN, 'automations', 'run', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  let stderr = '';
  child.stderr!.on('data', (d) => {
    stderr += d;
  });
  const lines = createInterface({ input: child.stdout! });
  const event = (name: string) =>
    new Promise<number>((resolve, reject) => {
      lines.on('line', (line) => {
        if (line.includes(`"event":"${name}"`)) resolve(Date.now());
      });
      child.once('exit', (code) => reject(new Error(`the runtime exited ${code}: ${stderr}`)));
    });
  const running = event('automations_running');
  const standby = event('automations_standby').then(() => undefined);
  running.catch(() => {});
  standby.catch(() => {});
  return { child, running, standby, stderr: () => stderr };
}
