// Long-running commands stop when the process that launched them goes away.
//
// Why: npm runs a script, and npx a package's bin, through `sh -c "…"` (dash, which does
// not exec the last command). A service manager or container runtime sends SIGTERM to the
// process it started, npm; npm forwards it to that shell, and the shell dies of it without
// passing it on, so node (and the nats-server or socat it supervises) would run on as
// orphans. So, when npm started us, we watch npm (our parent, or our grandparent when a
// shell sits in between) and stop as on SIGTERM once it is gone. Outside npm nothing is
// watched: `sentinel gateway &` in a script that then exits must keep running.
import { readFileSync } from 'node:fs';

const SHELLS = new Set(['sh', 'dash', 'bash', 'zsh', 'ash', 'busybox']);

interface ProcStat {
  comm: string;
  ppid: number;
  /** clock ticks after boot: tells a pid apart from a later process that reuses it */
  startTime: string;
  /** Z: dead, only not yet reaped by its parent */
  state: string;
}

function procStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid … starttime(22nd field) …"; comm may hold spaces and parentheses
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  const fields = text.slice(close + 2).split(' ');
  const startTime = fields[19];
  const ppid = Number(fields[1]);
  if (open < 0 || close < open || startTime === undefined || !Number.isInteger(ppid)) return undefined;
  return { comm: text.slice(open + 1, close), ppid, startTime, state: fields[0] ?? '' };
}

export interface Launcher {
  /**
   * Raises SIGTERM in this process as soon as the launcher is gone (at once if it already
   * is), so that the command's own SIGTERM handling stops everything: call it once those
   * handlers are in place. Returns a function that stops watching.
   */
  watch(intervalMs?: number): () => void;
}

const NOTHING_TO_WATCH: Launcher = { watch: () => () => {} };

/**
 * Notes who launched this process: npm, when npm started it (npm run-script, npm start,
 * npx). Call it first thing, before a signal can orphan this process: whoever is the
 * parent after that is no longer the launcher.
 */
export function captureLauncher(env: NodeJS.ProcessEnv = process.env): Launcher {
  if (env.npm_command === undefined || process.platform !== 'linux') return NOTHING_TO_WATCH;
  const parentPid = process.ppid;
  const parent = procStat(parentPid);
  if (!parent) return NOTHING_TO_WATCH;
  const launcherPid = SHELLS.has(parent.comm) ? parent.ppid : parentPid;
  const launcher = procStat(launcherPid);
  if (!launcher || launcherPid <= 1) return NOTHING_TO_WATCH;
  const gone = () => {
    if (process.ppid !== parentPid) return true;
    const now = procStat(launcherPid);
    return now?.startTime !== launcher.startTime || now.state === 'Z';
  };
  return {
    watch(intervalMs = 200) {
      const check = () => {
        if (!gone()) return;
        clearInterval(timer);
        process.stderr.write(
          `sentinel: ${launcher.comm} (pid ${launcherPid}), which started this process, is gone: stopping\n`,
        );
        process.kill(process.pid, 'SIGTERM');
      };
      const timer = setInterval(check, intervalMs);
      timer.unref();
      check();
      return () => clearInterval(timer);
    },
  };
}
