// How the pty host runs socat so that it never outlives the simulator:
// - in its own process group, so a signal to the simulator's group (Ctrl-C in a
//   terminal, a service manager stopping the group) reaches only the simulator, which
//   then stops socat itself, in order, instead of seeing it die under it;
// - under util-linux's `setpriv --pdeathsig TERM` when that is installed (Debian: always,
//   util-linux is essential), so the kernel ends socat even when the simulator is
//   killed with SIGKILL (prctl PR_SET_PDEATHSIG survives the exec into socat).
import { accessSync, constants } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';

/** `name` as found on PATH (or itself when it is a path that can be run), else undefined. */
export function findExecutable(name: string, path = process.env.PATH ?? ''): string | undefined {
  const candidates =
    isAbsolute(name) || name.includes('/') ? [name] : path.split(delimiter).map((dir) => join(dir, name));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here: the next directory
    }
  }
  return undefined;
}

/** The command line that runs `executable args…` and ends it with SIGTERM when this process dies. */
export function diesWithParent(executable: string, args: string[]): { command: string; args: string[] } {
  const setpriv = findExecutable('setpriv');
  if (!setpriv || process.platform !== 'linux') return { command: executable, args };
  return { command: setpriv, args: ['--pdeathsig', 'TERM', '--', executable, ...args] };
}

/**
 * The termination signal that ended a child, from node's (code, signal) pair: socat
 * catches SIGTERM, SIGINT and SIGHUP and exits with 128 + the signal number.
 */
export function terminationSignal(
  code: number | null,
  signal: NodeJS.Signals | null,
): NodeJS.Signals | undefined {
  if (signal === 'SIGTERM' || signal === 'SIGINT' || signal === 'SIGHUP') return signal;
  if (code === 128 + 15) return 'SIGTERM';
  if (code === 128 + 2) return 'SIGINT';
  if (code === 128 + 1) return 'SIGHUP';
  return undefined;
}
