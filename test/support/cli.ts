// Runs the real `sentinel` command (bin/sentinel.js) as a user would.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

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

export async function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const child = spawn(process.execPath, [SENTINEL_BIN, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const [code] = await once(child, 'exit');
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
}

export interface CliGateway {
  ready: Ready;
  process: ChildProcess;
  stderr(): string;
  /** resolves with the first JSON log line on stderr (past or future) that matches */
  logged(predicate: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  /** SIGTERM, resolves with the exit code and how long the stop took */
  stop(): Promise<{ code: number | null; ms: number }>;
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
  return {
    ready,
    process: child,
    stderr: () => stderr,
    logged: (predicate) => logLines.find(predicate),
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

/** The JSON lines a process logs on stderr (other lines, meant for people, are skipped). */
class LogLines {
  readonly #seen: Record<string, unknown>[] = [];
  readonly #waiting = new Set<(line: Record<string, unknown>) => void>();

  constructor(child: ChildProcess) {
    if (!child.stderr) throw new Error('the process has no stderr pipe to read logs from');
    createInterface({ input: child.stderr }).on('line', (text) => {
      let line: unknown;
      try {
        line = JSON.parse(text);
      } catch {
        return;
      }
      if (typeof line !== 'object' || line === null) return;
      this.#seen.push(line as Record<string, unknown>);
      for (const notify of [...this.#waiting]) notify(line as Record<string, unknown>);
    });
  }

  find(predicate: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
    const found = this.#seen.find(predicate);
    if (found) return Promise.resolve(found);
    return new Promise((resolve) => {
      const notify = (line: Record<string, unknown>) => {
        if (!predicate(line)) return;
        this.#waiting.delete(notify);
        resolve(line);
      };
      this.#waiting.add(notify);
    });
  }
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
