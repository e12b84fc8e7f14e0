import { execFileSync } from 'node:child_process';
import os from 'node:os';

/**
 * CPU pinning with taskset (util-linux): the generator on one core, the proxies and the upstream on
 * another, so the load generator's own work does not queue behind the system it measures.
 */
export interface PinPlan {
  enabled: boolean;
  /** Why pinning is off, when it is. */
  reason?: string;
  generatorCpu: number;
  systemCpu: number;
}

export function planPinning(disabled = false): PinPlan {
  const plan = { enabled: false, generatorCpu: 1, systemCpu: 0 };
  if (disabled) return { ...plan, reason: 'disabled by --no-pin' };
  if (os.cpus().length < 2) return { ...plan, reason: `only ${os.cpus().length} CPU` };
  try {
    execFileSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' });
  } catch {
    return { ...plan, reason: 'taskset not found or not permitted (apt-get install -y util-linux)' };
  }
  return { ...plan, enabled: true };
}

/** Pins every thread of a running process to `cpu` (threads it creates later inherit it). */
export function pinProcess(pid: number, cpu: number): void {
  execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' });
}
