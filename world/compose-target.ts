/**
 * A World-like handle on a running `docker compose up` project, so scenarios can run against the
 * Docker world (`npm run scenario <name> -- --target compose`). Config goes through the control
 * plane's published port exactly as in the embedded world; instance kills and restarts go through
 * the npm `docker-compose` package (`docker compose kill/up`); lab sickness through
 * `docker compose exec` (the lab port is the pod's loopback only).
 */
import * as compose from 'docker-compose';
import type { ApplyOutcome } from '../mesh/control-plane/config-service';
import { formatMessages } from '../mesh/config/messages';
import path from 'node:path';
import { CONTAINER, HOST_ADMIN_PORT_BASE, INFRA_PORTS, POD_PORTS, WORLD_CONFIG_FILE, hostPort, podsOf, type ComposePod } from './compose-layout';
import { worldConfigYaml } from './compose-generate';
import { initEdges } from './compose-init';
import { SECRETS } from './compose-credentials';
import { operatorToken } from '../lib/cp-auth';
import type { InstanceInfo, ProcessInfo, WorldState } from './state';
import { DEFAULT_TOPOLOGY, type Topology } from './topology';

/**
 * The part of `World` (world/world.ts) the scenario runner uses, which this handle provides too.
 * `lab` and `metricsText` are what the runner needs and `World` does not have yet (see the report).
 */
export interface WorldHandle {
  readonly controlPlaneUrl: string;
  readonly gatewayUrl: string;
  readonly gateway: { ports: Record<string, number> };
  readonly busKind: string;
  state(): WorldState;
  applyConfig(files: { name: string; text: string }[]): Promise<ApplyOutcome>;
  deleteConfig(refs: { kind: string; name: string }[]): Promise<ApplyOutcome>;
  killInstance(id: string): Promise<void>;
  restartInstance(id: string): Promise<void>;
  waitForSync(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface SicknessPatch {
  error_rate?: number;
  status?: number;
  latency_ms?: number;
  hang?: boolean;
  seed?: number;
}

export interface ComposeTargetOptions {
  /** Folder holding compose.yaml (default: the current directory). */
  projectDir?: string;
  /** Where published ports are reached (default 127.0.0.1). */
  host?: string;
  /** Must equal the topology compose.yaml was generated from. */
  topology?: Topology;
  /** How to run compose (default `docker compose`); tests point this at a fake. */
  executable?: compose.IDockerComposeOptions['executable'];
  /** Control-plane URL when not the published 127.0.0.1:15010 (tests). */
  controlPlaneUrl?: string;
  /** Bus the apps were started with (MESHLAB_BUS_KIND at `docker compose up`; default kafka). */
  busKind?: string;
}

/**
 * `process.kill(pid, 0)` is how the runner's invariants tell a live instance from a killed one.
 * Containers have no pid on this host's namespace; running ones report the runner's own pid and
 * stopped ones a pid above Linux's pid_max, so the existing check answers correctly.
 */
export const NOT_RUNNING_PID = 2 ** 31 - 1;

export class ComposeWorld implements WorldHandle {
  readonly host: string;
  readonly topology: Topology;
  readonly pods: ComposePod[];
  readonly busKind: string;
  readonly gateway = { ports: { outbound: hostPort('gateway'), admin: HOST_ADMIN_PORT_BASE } };
  private readonly running = new Set<string>();
  private readonly startedAt = new Date();

  constructor(readonly options: ComposeTargetOptions = {}) {
    this.host = options.host ?? '127.0.0.1';
    this.topology = options.topology ?? DEFAULT_TOPOLOGY;
    this.pods = podsOf(this.topology);
    this.busKind = options.busKind ?? process.env.MESHLAB_BUS_KIND ?? 'kafka';
  }

  /** Attaches to a running compose project: checks the control plane answers and reads which containers run. */
  static async attach(options: ComposeTargetOptions = {}): Promise<ComposeWorld> {
    const world = new ComposeWorld(options);
    try {
      const res = await fetch(`${world.controlPlaneUrl}/healthz`);
      if (!res.ok) throw new Error(`status ${res.status}`);
    } catch (err) {
      throw new Error(`no compose world: the control plane at ${world.controlPlaneUrl} does not answer (${(err as Error).message}); start it with \`docker compose up -d --wait\` in the repository folder`);
    }
    await world.refresh();
    await world.loginAsOperator();
    return world;
  }

  /**
   * The compose control plane admits only its operator token to config and edge changes (world/compose-credentials.ts):
   * unless one is known for its address, read it from the `credentials` container and keep it in this process.
   */
  private async loginAsOperator(): Promise<void> {
    if (operatorToken(this.controlPlaneUrl)) return;
    const token = (await this.compose('exec', ['-T', CONTAINER.credentials, 'cat', `${SECRETS.issuerRoot}/operator/operator-token`])).trim();
    if (token) process.env.MESHLAB_OPERATOR_TOKEN = token;
  }

  get controlPlaneUrl(): string {
    return this.options.controlPlaneUrl ?? `http://${this.host}:${hostPort('controlPlane')}`;
  }

  get gatewayUrl(): string {
    return `http://${this.host}:${hostPort('gateway')}`;
  }

  get chaosUrl(): string {
    return `http://${this.host}:${hostPort('toxiproxyApi')}`;
  }

  /** Re-reads which containers are running (`docker compose ps`). */
  async refresh(): Promise<void> {
    const out = await this.compose('ps', ['--format', 'json', '--status', 'running']);
    this.running.clear();
    for (const name of parsePsServices(out)) this.running.add(name);
  }

  isRunning(instance: string): boolean {
    const pod = this.pod(instance);
    return this.running.has(pod.app) && this.running.has(pod.sidecar);
  }

  /** Kills an instance's app and sidecar containers with SIGKILL, as a crashed pod. */
  async killInstance(id: string): Promise<void> {
    const pod = this.pod(id);
    await this.compose('kill', ['-s', 'SIGKILL', pod.sidecar, pod.app]);
    this.running.delete(pod.app);
    this.running.delete(pod.sidecar);
  }

  /**
   * Starts the pod again, app first (it owns the network namespace), waits for both health checks,
   * then until the mesh sees every running instance ready.
   */
  async restartInstance(id: string): Promise<void> {
    const pod = this.pod(id);
    // --no-build: the control plane's `pull_policy: build` would otherwise rebuild the image mid-lab.
    await this.compose('up', ['-d', '--wait', '--no-build', pod.app, pod.sidecar]);
    this.running.add(pod.app);
    this.running.add(pod.sidecar);
    await this.waitForSync();
  }

  /** Stops (or SIGKILLs) the control-plane container; sidecars keep their last config. */
  async stopControlPlane(crash = false): Promise<void> {
    await this.compose(crash ? 'kill' : 'stop', crash ? ['-s', 'SIGKILL', CONTAINER.controlPlane] : [CONTAINER.controlPlane]);
  }

  /** Starts the control plane again and re-registers the edges it forgot (they live in its memory). */
  async startControlPlane(): Promise<void> {
    await this.compose('up', ['-d', '--wait', '--no-build', CONTAINER.controlPlane]);
    await initEdges({ toxiproxyUrl: this.chaosUrl, controlPlaneUrl: this.controlPlaneUrl, topology: this.topology });
    await this.waitForSync();
  }

  async applyConfig(files: { name: string; text: string }[]): Promise<ApplyOutcome> {
    const out = await this.cpPost('/v1/config/apply', { files });
    if (!out.ok) throw new Error(`config rejected:\n${formatMessages(out.messages)}`);
    await this.waitForSync();
    return out;
  }

  async deleteConfig(refs: { kind: string; name: string }[]): Promise<ApplyOutcome> {
    const out = await this.cpPost('/v1/config/delete', { refs });
    if (!out.ok) throw new Error(`delete rejected:\n${formatMessages(out.messages)}`);
    await this.waitForSync();
    return out;
  }

  /** Resolves once every running instance is ready and every sidecar ACKed the newest config. */
  async waitForSync(timeoutMs = 20000): Promise<void> {
    const ready = this.pods.filter((p) => this.isRunning(p.spec.id)).length;
    const res = await fetch(`${this.controlPlaneUrl}/v1/sync?ready=${ready}&timeoutMs=${timeoutMs}`);
    if (!res.ok) throw new Error(`the compose mesh did not converge: ${await res.text()}`);
  }

  /** Lab control of one instance, run inside its app container (the lab port is loopback-only). */
  lab(instance: string): { sick(s: SicknessPatch): Promise<void>; heal(): Promise<void> } {
    const pod = this.pod(instance);
    const call = async (method: 'POST' | 'DELETE', body?: SicknessPatch): Promise<void> => {
      const init = body ? `{method:'${method}',headers:{'content-type':'application/json'},body:${JSON.stringify(JSON.stringify(body))}}` : `{method:'${method}'}`;
      const script = `fetch('http://127.0.0.1:${POD_PORTS.lab}/lab/sick',${init}).then(async (r) => { if (!r.ok) { console.error(await r.text()); process.exit(1); } }, (e) => { console.error(e.message); process.exit(1); })`;
      await this.compose('exec', ['-T', pod.app, 'node', '-e', script]);
    };
    return { sick: (s) => call('POST', s), heal: () => call('DELETE') };
  }

  /** A sidecar's (or `gateway`'s) Prometheus text, from its published admin port. */
  async metricsText(instance: string): Promise<string> {
    const port = instance === 'gateway' ? this.gateway.ports.admin : this.pod(instance).hostAdminPort;
    const res = await fetch(`http://${this.host}:${port}/metrics`);
    return res.text();
  }

  /** Like the embedded world's state file; app `http` is the pod's published sidecar inbound (the app itself is loopback-only). */
  state(): WorldState {
    const proc = (name: string, role: ProcessInfo['role'], ports: Record<string, number>, running: boolean, pod?: ComposePod): ProcessInfo => ({
      name,
      role,
      pid: running ? process.pid : NOT_RUNNING_PID,
      service: pod?.spec.service.name,
      version: pod?.spec.version,
      ports,
    });
    const instances: InstanceInfo[] = this.pods.map((pod) => {
      const up = this.isRunning(pod.spec.id);
      return {
        id: pod.spec.id,
        service: pod.spec.service.name,
        version: pod.spec.version,
        app: proc(pod.app, 'app', { http: pod.hostInboundPort }, up, pod),
        sidecar: proc(pod.sidecar, 'sidecar', { admin: pod.hostAdminPort, inbound: pod.hostInboundPort }, up, pod),
      };
    });
    const world = worldConfigYaml(this.topology);
    const processes = [
      proc(CONTAINER.controlPlane, 'control-plane', { http: hostPort('controlPlane') }, true),
      proc(CONTAINER.toxiproxy, 'chaos', { http: hostPort('toxiproxyApi') }, true),
      proc(CONTAINER.gateway, 'gateway', { outbound: hostPort('gateway'), admin: HOST_ADMIN_PORT_BASE }, true),
      ...instances.flatMap((i) => [i.app, i.sidecar]),
    ];
    return {
      startedAt: this.startedAt.toISOString(),
      readyMs: 0,
      host: this.host,
      dataDir: 'docker volume meshlab-data',
      logDir: 'docker compose logs',
      bus: { kind: this.busKind, url: this.busKind === 'kafka' ? `${CONTAINER.kafka}:${INFRA_PORTS.kafka}` : `amqp://guest:guest@${CONTAINER.rabbitmq}:${INFRA_PORTS.rabbitmq}` },
      controlPlaneUrl: this.controlPlaneUrl,
      gatewayUrl: this.gatewayUrl,
      chaosUrl: this.chaosUrl,
      processes,
      instances,
      // What the control plane loaded beside config/default on its first start (deploy/mesh, compose-generate.ts).
      ...(world ? { registrations: [{ name: path.basename(WORLD_CONFIG_FILE), text: world }] } : {}),
    };
  }

  /** The compose project belongs to whoever ran `docker compose up`: detaching stops nothing. */
  async stop(): Promise<void> {
    return;
  }

  private pod(instance: string): ComposePod {
    const pod = this.pods.find((p) => p.spec.id === instance);
    if (!pod) throw new Error(`no instance "${instance}" in the compose world; instances: ${this.pods.map((p) => p.spec.id).join(', ')}`);
    return pod;
  }

  private async cpPost(path: string, body: unknown): Promise<ApplyOutcome> {
    const res = await fetch(`${this.controlPlaneUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return (await res.json()) as ApplyOutcome;
  }

  private async compose(command: string, args: string[]): Promise<string> {
    try {
      const res = await compose.execCompose(command, args, { cwd: this.options.projectDir ?? process.cwd(), executable: this.options.executable });
      return res.out;
    } catch (err) {
      const r = err as { exitCode?: number; err?: string; message?: string };
      throw new Error(`docker compose ${command} ${args.join(' ')} failed (exit ${r.exitCode ?? '?'}): ${(r.err ?? r.message ?? String(err)).trim()}`);
    }
  }
}

/**
 * Service names from `docker compose ps --format json`: compose v2 prints one JSON object per line
 * (newer) or one JSON array (older); both are accepted.
 */
export function parsePsServices(out: string): string[] {
  const text = out.trim();
  if (!text) return [];
  const rows: { Service?: string }[] = text.startsWith('[') ? (JSON.parse(text) as { Service?: string }[]) : text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as { Service?: string });
  return rows.map((r) => r.Service ?? '').filter(Boolean);
}
