import fs from 'node:fs';
import path from 'node:path';
import type { Role } from './process';

/** What `.meshlab/world.json` holds: enough for the CLI, scenarios and benchmarks to attach to a running world. */
export interface ProcessInfo {
  name: string;
  role: Role;
  pid: number;
  service?: string;
  version?: string;
  /** Named ports: app/lab for apps; inbound/outbound/admin for sidecars; http for the rest. */
  ports: Record<string, number>;
}

export interface InstanceInfo {
  id: string;
  service: string;
  version: string;
  app: ProcessInfo;
  sidecar: ProcessInfo;
}

export interface WorldState {
  startedAt: string;
  readyMs: number;
  host: string;
  dataDir: string;
  logDir: string;
  bus: { kind: string; url: string };
  controlPlaneUrl: string;
  gatewayUrl: string;
  chaosUrl?: string;
  /** The real Zipkin and Prometheus of `--observability`. */
  observability?: { zipkinUrl?: string; prometheusUrl?: string };
  /** The world's live-instance API (`meshlab scale`, `meshlab rollout`), when it serves one. */
  instanceControlUrl?: string;
  processes: ProcessInfo[];
  instances: InstanceInfo[];
  /**
   * The world's own mesh config, beside config/default: its external systems' registration (the mail provider's
   * ServiceEntry and TLS DestinationRule, which `npm start` applies and compose loads). A lab's config reset
   * keeps it (scenarios/runner/context.ts resetConfig).
   */
  registrations?: { name: string; text: string }[];
}

export const DEFAULT_STATE_FILE = path.join('.meshlab', 'world.json');

export function writeState(file: string, state: WorldState): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(state, null, 2));
  fs.renameSync(tmp, file);
}

/** Reads a running world's state, checking that its control plane's process is still alive. */
export function readState(file = DEFAULT_STATE_FILE): WorldState {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new Error(`no running world: ${file} does not exist (start one with \`npm start\`)`);
  }
  const state = JSON.parse(text) as WorldState;
  const cp = state.processes.find((p) => p.role === 'control-plane');
  if (cp && !processAlive(cp.pid)) throw new Error(`${file} is stale: its control plane (pid ${cp.pid}) is not running; start the world again with \`npm start\``);
  return state;
}

export function removeState(file: string): void {
  fs.rmSync(file, { force: true });
}

/** Whether a process with this pid exists (signal 0 checks without signalling). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
