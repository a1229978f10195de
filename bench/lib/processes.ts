// Every process a benchmark starts goes through here, so that all of them are
// stopped at the end: on success, on error, on SIGINT/SIGTERM, and (with
// SIGKILL, synchronously) when the orchestrator exits for any other reason.
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { log } from './log.js';

/** The repository root, derived from this file's location (never hard-coded). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RUN_TS = fileURLToPath(new URL('../../bin/run-ts.js', import.meta.url));

/** A child that failed to start or died early; `reason` is one line fit for a report. */
export class ChildFailedError extends Error {
  override name = 'ChildFailedError';
  constructor(
    readonly label: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`${label}: ${reason}`, options);
  }
}

/** Keeps the last lines a child wrote to stderr, to explain why it failed. */
class TailBuffer {
  private readonly lines: string[] = [];
  constructor(private readonly max: number) {}
  push(line: string): void {
    this.lines.push(line);
    if (this.lines.length > this.max) this.lines.shift();
  }
  /** The most telling line: the last one that looks like an error, else the last one. */
  reason(): string | undefined {
    for (let i = this.lines.length - 1; i >= 0; i--) {
      const line = this.lines[i]!;
      if (/error|fatal|cannot|unknown|invalid|failed|not found|EADDR/i.test(line))
        return summarizeLogLine(line);
    }
    const last = this.lines.at(-1);
    return last === undefined ? undefined : summarizeLogLine(last);
  }
}

/** A pino JSON line becomes its `msg` (and `err.message`); anything else is trimmed. */
function summarizeLogLine(line: string): string {
  try {
    const parsed = JSON.parse(line) as { msg?: unknown; err?: { message?: unknown } };
    const parts = [parsed.msg, parsed.err?.message].filter((p): p is string => typeof p === 'string');
    if (parts.length > 0) return parts.join(': ').slice(0, 200);
  } catch {
    // not JSON: use the text itself
  }
  return line.trim().slice(0, 200);
}

export interface ManagedChild {
  readonly label: string;
  readonly process: ChildProcess;
  readonly pid: number;
  /** Resolves with the exit code (or signal name) once the child is gone. */
  readonly exited: Promise<string>;
  /** Why it failed, from its stderr, when it did. */
  failureReason(): string | undefined;
  /** SIGTERM, then SIGKILL after `graceMs`. Resolves once it is gone. */
  stop(graceMs?: number): Promise<void>;
}

export interface SpawnOptions {
  /** forward the child's stderr to ours (prefixed); otherwise only its tail is kept */
  verbose?: boolean;
  env?: NodeJS.ProcessEnv;
  /** an IPC channel (for worker scripts) */
  ipc?: boolean;
}

const children = new Set<ManagedChild>();
/** Set on SIGINT/SIGTERM: from then on nothing new is started. */
let shuttingDown = false;

function manage(label: string, child: ChildProcess, options: SpawnOptions): ManagedChild {
  if (child.pid === undefined) throw new ChildFailedError(label, 'could not be started');
  const tail = new TailBuffer(40);
  if (child.stderr) {
    const lines = createInterface({ input: child.stderr, crlfDelay: Number.POSITIVE_INFINITY });
    lines.on('line', (line) => {
      tail.push(line);
      if (options.verbose) process.stderr.write(`[${label}] ${line}\n`);
    });
  }
  const exited = new Promise<string>((resolve) => {
    child.once('exit', (code, signal) => resolve(signal ?? String(code)));
    child.once('error', (error) => resolve(`error: ${error.message}`));
  });
  const managed: ManagedChild = {
    label,
    process: child,
    pid: child.pid,
    exited,
    failureReason: () => tail.reason(),
    async stop(graceMs = 6000) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }
      children.delete(managed);
    },
  };
  children.add(managed);
  void exited.then(() => children.delete(managed));
  return managed;
}

/** Starts an executable (nats-server, mosquitto, `node bin/sentinel.js …`). stdout is a pipe. */
export function startProcess(
  label: string,
  command: string,
  args: string[],
  options: SpawnOptions = {},
): ManagedChild {
  if (shuttingDown) throw new ChildFailedError(label, 'not started: the benchmark is being interrupted');
  const child = spawn(command, args, {
    cwd: REPO_ROOT,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe', ...(options.ipc ? (['ipc'] as const) : [])],
  });
  return manage(label, child, options);
}

/** Starts a TypeScript file of this repository through bin/run-ts.js, with an IPC channel. */
export function startWorker(
  label: string,
  script: URL,
  args: string[] = [],
  options: SpawnOptions = {},
): ManagedChild {
  if (shuttingDown) throw new ChildFailedError(label, 'not started: the benchmark is being interrupted');
  const child = fork(RUN_TS, [fileURLToPath(script), ...args], {
    cwd: REPO_ROOT,
    env: options.env ?? process.env,
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
  });
  return manage(label, child, options);
}

/** Starts a TypeScript file of this repository through bin/run-ts.js without IPC (stdout piped). */
export function startTsProcess(
  label: string,
  script: URL,
  args: string[] = [],
  options: SpawnOptions = {},
): ManagedChild {
  return startProcess(label, process.execPath, [RUN_TS, fileURLToPath(script), ...args], options);
}

/**
 * Reads the child's first stdout line that parses as JSON with `"event":"ready"`.
 * Fails with the child's own explanation when it exits first or takes too long.
 */
export async function waitForReadyLine<T extends { event: string }>(
  child: ManagedChild,
  timeoutMs: number,
): Promise<T> {
  const stdout = child.process.stdout;
  if (!stdout) throw new ChildFailedError(child.label, 'no stdout to read the ready line from');
  const lines = createInterface({ input: stdout, crlfDelay: Number.POSITIVE_INFINITY });
  let timer: NodeJS.Timeout | undefined;
  try {
    return await new Promise<T>((resolve, reject) => {
      timer = setTimeout(
        () => reject(new ChildFailedError(child.label, `no ready line within ${timeoutMs} ms`)),
        timeoutMs,
      );
      lines.on('line', (line) => {
        try {
          const parsed = JSON.parse(line) as T;
          if (parsed?.event === 'ready') resolve(parsed);
        } catch {
          // not our line
        }
      });
      void child.exited.then((how) => {
        // let the last stderr lines arrive before asking for the reason
        setTimeout(() => {
          const reason = child.failureReason() ?? `exited (${how}) before it was ready`;
          reject(new ChildFailedError(child.label, reason));
        }, 50);
      });
    });
  } finally {
    clearTimeout(timer);
    // keep draining stdout so the child never blocks on a full pipe
    lines.removeAllListeners('line');
    stdout.resume();
  }
}

/** Stops every child still running, in parallel. */
export async function stopAll(): Promise<void> {
  await Promise.all([...children].map((child) => child.stop()));
}

let handlersInstalled = false;
const cleanups: (() => Promise<void>)[] = [];

/** Work to do after the children are stopped when interrupted (e.g. removing scratch directories). */
export function onInterruptCleanup(cleanup: () => Promise<void>): void {
  cleanups.push(cleanup);
}

/**
 * On SIGINT/SIGTERM: stop every child, then exit 130/143. On exit: SIGKILL
 * whatever is left (the last resort when something went wrong).
 */
export function installCleanupHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  const onSignal = (signal: NodeJS.Signals, code: number) => {
    shuttingDown = true;
    log(`${signal}: stopping ${children.size} child process(es)…`);
    void stopAll()
      .then(() => Promise.allSettled(cleanups.map((cleanup) => cleanup())))
      .finally(() => process.exit(code));
  };
  process.once('SIGINT', () => onSignal('SIGINT', 130));
  process.once('SIGTERM', () => onSignal('SIGTERM', 143));
  process.once('exit', () => {
    for (const child of children) child.process.kill('SIGKILL');
  });
}
