// Readings from /proc: memory of a process, and CPU time, to tell how much of
// the machine the target, our own load generators, and everything else on it
// (other people's work: the noise) used.
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';

/** USER_HZ: the unit of /proc CPU times; 100 on every Linux this runs on. */
const MS_PER_TICK = 10;

/** CPU time (user + system) a process has used so far, in ms; 0 once it is gone. */
export async function readProcessCpuMs(pid: number): Promise<number> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // the fields after the command name, which is in parentheses and may contain spaces
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of proc(5), i.e. 11 and 12 after the name
    return (Number(fields[11]) + Number(fields[12])) * MS_PER_TICK;
  } catch {
    return 0;
  }
}

export async function readProcessesCpuMs(pids: number[]): Promise<number> {
  const times = await Promise.all(pids.map(readProcessCpuMs));
  return times.reduce((a, b) => a + b, 0);
}

/** CPU time all CPUs of the machine have been busy (not idle, not waiting for I/O), in ms. */
export async function readMachineBusyMs(): Promise<number> {
  const stat = await readFile('/proc/stat', 'utf8');
  const fields = stat.slice(0, stat.indexOf('\n')).trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest times are already in user/nice)
  const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  return (total - idle) * MS_PER_TICK;
}

/** Resident set size of a process, in KiB, from /proc/<pid>/status. */
export async function readRssKiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (!match) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(match[1]);
}

/**
 * Pins each process (every thread of it) to one CPU with util-linux's taskset. A benchmark
 * that runs servers and their load generators on one machine pins the servers to one core
 * and the generators to the others, so that the generators' CPU cannot slow a server down
 * (and the comparison measures the servers, not the scheduler). False when it cannot
 * (one CPU, no taskset): the caller runs unpinned and says so.
 */
export function pinProcesses(pids: number[], cpus: string): boolean {
  for (const pid of pids) {
    const result = spawnSync('taskset', ['-a', '-cp', cpus, String(pid)], { stdio: 'ignore' });
    if (result.error || result.status !== 0) return false;
  }
  return true;
}
