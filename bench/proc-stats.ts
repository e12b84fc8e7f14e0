import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import os from 'node:os';

/** CPU time (user + system) a process has used, in seconds, from /proc/<pid>/stat; undefined once it is gone. */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return (utime + stime) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

/** Resident set size in MiB from /proc/<pid>/status (VmRSS). */
export function rssMiB(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Direct children of `pid` (nginx's workers), from /proc/<pid>/task/<pid>/children. */
export function childPids(pid: number): number[] {
  try {
    return fs
      .readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/** USER_HZ: the unit of /proc/<pid>/stat's utime/stime (100 on every Linux we meet; asked from getconf when present). */
const CLOCK_TICKS = ((): number => {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return n > 0 ? n : 100;
  } catch {
    return 100;
  }
})();

/** CPU seconds summed over a set of processes. */
export function cpuSecondsOf(pids: readonly number[]): number {
  let s = 0;
  for (const p of pids) s += cpuSeconds(p) ?? 0;
  return s;
}

export function cpuCount(): number {
  return os.cpus().length;
}
