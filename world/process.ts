import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { ReadyMessage } from '../lib/ipc';
import { nodeFlagsFor } from '../mesh/sidecar/node-flags';

export type Role = 'app' | 'sidecar' | 'gateway' | 'control-plane' | 'chaos' | 'broker' | 'observability' | 'external';

export interface ProcessSpec {
  name: string;
  role: Role;
  /** Compiled entry module, absolute path. */
  entry: string;
  env: Record<string, string>;
  logFile: string;
  service?: string;
  version?: string;
  readyTimeoutMs?: number;
  /** Node flags before the entry; by default the role's (a sidecar's: mesh/sidecar/node-flags.ts). */
  nodeArgs?: readonly string[];
}

/**
 * One OS process of the world. It is started with an IPC channel and counts as up once it sent
 * `{type:'ready', ports}`; stdout/stderr go to its log file. `stop()` sends SIGTERM and escalates to
 * SIGKILL, and resolves only when the process is gone, so its ports are free afterwards.
 */
export class ManagedProcess {
  readonly spec: ProcessSpec;
  child?: ChildProcess;
  ports: Record<string, number> = {};
  private exited?: Promise<void>;

  constructor(spec: ProcessSpec) {
    this.spec = spec;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start(): Promise<Record<string, number>> {
    const { spec } = this;
    fs.mkdirSync(path.dirname(spec.logFile), { recursive: true });
    const log = fs.openSync(spec.logFile, 'a');
    const child = spawn(process.execPath, [...(spec.nodeArgs ?? nodeFlagsFor(spec.role)), spec.entry], {
      env: { ...process.env, ...spec.env },
      stdio: ['ignore', log, log, 'ipc'],
    });
    fs.closeSync(log);
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    const timeoutMs = spec.readyTimeoutMs ?? 15000;
    const startedAt = Date.now();
    this.ports = await new Promise<Record<string, number>>((resolve, reject) => {
      // The deadline is for a process that had the machine and did not get ready, not for one the machine starved:
      // while it spent more than a third of the wait runnable but off-CPU (queued behind other processes), it gets
      // another period, up to 4 periods in all. An idle hang (waiting on a socket) fails at the first deadline.
      const onTimeout = (): void => {
        const waited = Date.now() - startedAt;
        const sched = schedStat(child.pid);
        if (sched && sched.runDelayMs > waited / 3 && waited < 4 * timeoutMs) {
          timer = setTimeout(onTimeout, timeoutMs);
          return;
        }
        const detail = sched ? ` (${Math.round(sched.cpuMs)} ms on a CPU, ${Math.round(sched.runDelayMs)} ms waiting for one)` : '';
        fail(new Error(`${spec.name} did not report ready within ${waited} ms${detail} (see ${spec.logFile})`));
      };
      let timer = setTimeout(onTimeout, timeoutMs);
      const onMessage = (msg: unknown): void => {
        const m = msg as ReadyMessage;
        if (m && m.type === 'ready') {
          cleanup();
          resolve(m.ports);
        }
      };
      const onExit = (code: number | null, signal: string | null): void =>
        fail(new Error(`${spec.name} exited before it was ready (code ${code}, signal ${signal}); last log lines:\n${tail(spec.logFile)}`));
      const cleanup = (): void => {
        clearTimeout(timer);
        child.off('message', onMessage);
        child.off('exit', onExit);
      };
      const fail = (err: Error): void => {
        cleanup();
        child.kill('SIGKILL');
        reject(err);
      };
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
    return this.ports;
  }

  /** Sends a message over the IPC channel (e.g. late configuration). */
  send(message: unknown): void {
    this.child?.send(message as object);
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
  async stop(graceMs = 3000): Promise<void> {
    if (this.child && this.running) return terminate(this.child, this.exited!, graceMs);
    return this.exited;
  }

  /** Kills without grace, as a crash would. */
  async kill(): Promise<void> {
    if (!this.child || !this.running) return this.exited;
    this.child.kill('SIGKILL');
    await this.exited;
  }
}

/** The main thread's scheduler statistics (Linux /proc/<pid>/schedstat: ns on a CPU, ns runnable waiting for one). */
function schedStat(pid: number | undefined): { cpuMs: number; runDelayMs: number } | undefined {
  if (!pid) return undefined;
  try {
    const [cpu, delay] = fs.readFileSync(`/proc/${pid}/schedstat`, 'utf8').trim().split(/\s+/).map(Number);
    return Number.isFinite(cpu) && Number.isFinite(delay) ? { cpuMs: cpu / 1e6, runDelayMs: delay / 1e6 } : undefined;
  } catch {
    return undefined;
  }
}

function tail(file: string, lines = 15): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when `exited` (the child's exit) does. */
export async function terminate(child: ChildProcess, exited: Promise<void>, graceMs: number): Promise<void> {
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
