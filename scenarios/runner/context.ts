import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { seededRandom } from '../../lib/random';
import type { WorldHandle } from '../../world/compose-target';
import { drive, percentile, type LoadSpec, type Sample } from './load';
import type { Expectation } from './report';
import type { TimelineEvent } from './timeline';
import type { AccessLogEntry } from '../../mesh/access-log';
import type { LiveSink } from './live-sink';
import type { OwnBroker } from './own-broker';

export interface ClusterView {
  name: string;
  hosts: { instance: string; address: string; version: string; active: number; ejected: boolean; ejections: number; locality?: string; priority?: number | null }[];
}

/**
 * What a scenario needs of a world: the embedded World, or a compose project (ComposeWorld), which
 * reaches lab controls through `docker compose exec` instead of a loopback port.
 */
export type ScenarioWorld = WorldHandle & {
  readonly chaosUrl?: string;
  lab?(instance: string): LabHandle;
  /** Live instances (the embedded world): add one, remove one gracefully, replace one by another version. */
  addInstance?(service: string, version: string): Promise<string>;
  removeInstance?(id: string): Promise<void>;
  replaceInstance?(id: string, version: string): Promise<string>;
};

export interface ContextOptions {
  quick: boolean;
  seed: number;
  /** Prints a line (the report stream). */
  log: (line: string) => void;
  /** Whether a live, rewritten progress line can be drawn (a TTY). */
  live: boolean;
  /** Where the run is streamed live (the dashboard), if anywhere. */
  sink?: LiveSink;
  /** The control arm: the lab leaves its policy out. */
  control?: boolean;
  /** The lab's own broker, when it declares `ownBroker`. */
  broker?: OwnBroker;
}

/** A lab control handle for one instance: make it sick, heal it, or make it exit. */
export interface LabHandle {
  sick(s: { error_rate?: number; status?: number; latency_ms?: number; hang?: boolean; seed?: number; after?: boolean; ack_failure_rate?: number; idempotency?: boolean; ready?: boolean; outbox?: boolean }): Promise<void>;
  heal(): Promise<void>;
}

const DEFAULT_CONFIG_DIR = path.resolve(__dirname, '..', '..', '..', 'config', 'default');

/**
 * What a scenario works with: the world, the control plane (Istio YAML), lab controls, the load
 * driver, the timeline, and the expectations that make its verdict.
 */
export class ScenarioContext {
  readonly random: () => number;
  readonly series = new Map<string, Sample[]>();
  readonly events: TimelineEvent[] = [];
  readonly expectations: Expectation[] = [];
  readonly config: string[] = [];
  private readonly t0 = performance.now();
  /** Wall-clock time of the scenario's start, to place access-log timestamps on the timeline. */
  readonly wallStart = Date.now();

  constructor(
    readonly world: ScenarioWorld,
    readonly opts: ContextOptions,
  ) {
    this.random = seededRandom(opts.seed);
  }

  get quick(): boolean {
    return this.opts.quick;
  }

  /** Milliseconds since the scenario started. */
  now(): number {
    return performance.now() - this.t0;
  }

  /** The control arm (`--control`): the lab runs the same fault and load without its policy. */
  get control(): boolean {
    return this.opts.control ?? false;
  }

  /** The lab's own broker (`ownBroker`): stop and start it for an outage. */
  get broker(): OwnBroker {
    if (!this.opts.broker) throw new Error('this lab has no broker of its own (declare ownBroker)');
    return this.opts.broker;
  }

  /** Applies `yaml` like `apply`, except in the control arm, which only marks on the timeline what it leaves out. */
  async applyPolicy(yaml: string, label = 'config applied'): Promise<void> {
    if (this.control) this.mark(`control arm: not applied — ${label}`);
    else await this.apply(yaml, label);
  }

  /** `normal` in a full run, `quick` under --quick (CI). */
  pick<T>(normal: T, quick: T): T {
    return this.opts.quick ? quick : normal;
  }

  mark(label: string, t = this.now()): void {
    this.events.push({ t, label });
    this.opts.sink?.event(t, label);
    this.opts.log(`  ${(t / 1000).toFixed(1).padStart(5)}s  ${label}`);
  }

  /** A wall-clock timestamp (ISO or ms) as ms since the scenario started. */
  at(time: string | number): number {
    return (typeof time === 'number' ? time : Date.parse(time)) - this.wallStart;
  }

  /** The admin URL of an instance's sidecar (or the gateway's). */
  adminUrl(instance: string): string {
    const state = this.world.state();
    const port = instance === 'gateway' ? this.world.gateway.ports.admin : state.instances.find((i) => i.id === instance)?.sidecar.ports.admin;
    if (!port) throw new Error(`no sidecar for ${instance}`);
    return `http://${state.host}:${port}`;
  }

  /** A sidecar's recent access-log records (Envoy-style, with response flags and the upstream instance). */
  async accessLog(instance: string, limit = 5000): Promise<AccessLogEntry[]> {
    return (await (await fetch(`${this.adminUrl(instance)}/access_log?limit=${limit}`)).json()) as AccessLogEntry[];
  }

  /**
   * The versions that answered requests for `pathPrefix`, as the gateway routed them between two
   * wall-clock times (its access log: the instant of the routing decision, whatever the client's lag).
   */
  async routedVersions(pathPrefix: string, fromWall: number, toWall: number): Promise<Map<string, number>> {
    const versionOf = new Map(this.world.state().instances.map((i) => [i.id, i.version]));
    const out = new Map<string, number>();
    for (const e of await this.accessLog('gateway')) {
      const t = Date.parse(e.start_time);
      if (!e.path.startsWith(pathPrefix) || t < fromWall || t >= toWall) continue;
      // An instance removed since (a rolling update) is no longer in the state: its id names its version.
      const v = versionOf.get(e.upstream_instance) ?? /-(v[\w.]+)-\d+$/.exec(e.upstream_instance)?.[1] ?? (e.upstream_instance === '-' ? 'none' : e.upstream_instance);
      out.set(v, (out.get(v) ?? 0) + 1);
    }
    return out;
  }

  /** A sidecar's view of its clusters: hosts, active requests, ejections. */
  async clusters(instance: string): Promise<ClusterView[]> {
    return (await (await fetch(`${this.adminUrl(instance)}/clusters`)).json()) as ClusterView[];
  }

  /** Applies Istio YAML through the control plane and waits until every sidecar has it. */
  async apply(yaml: string, label = 'config applied'): Promise<void> {
    this.config.push(yaml.trim());
    this.opts.log(yaml.trim().split('\n').map((l) => `        │ ${l}`).join('\n'));
    await this.world.applyConfig([{ name: 'scenario.yaml', text: yaml }]);
    this.mark(label);
  }

  /**
   * Restores the default config: config/default and the world's own registrations (WorldState.registrations: the
   * external mail provider's ServiceEntry and DestinationRule) applied again, every other resource deleted. The
   * world's registrations are never deleted on the way, so its external system stays reachable throughout.
   */
  async resetConfig(): Promise<void> {
    const own = this.world.state().registrations ?? [];
    const keep = new Set(own.flatMap((f) => YAML.parseAllDocuments(f.text).map((d) => d.toJS() as { kind?: string; metadata?: { name?: string } }).map((r) => `${r.kind}/${r.metadata?.name}`)));
    const res = await fetch(`${this.world.controlPlaneUrl}/v1/config`);
    const { resources } = (await res.json()) as { resources: { kind: string; metadata: { name: string; namespace?: string } }[] };
    // By namespace too (config/default's RequestAuthentication lives in istio-system); the world's own registrations stay.
    const drop = resources.filter((r) => !keep.has(`${r.kind}/${r.metadata.name}`));
    if (drop.length) await this.world.deleteConfig(drop.map((r) => ({ kind: r.kind, name: r.metadata.name, namespace: r.metadata.namespace })));
    const files = fs.readdirSync(DEFAULT_CONFIG_DIR).filter((f) => /\.ya?ml$/.test(f)).map((f) => ({ name: f, text: fs.readFileSync(path.join(DEFAULT_CONFIG_DIR, f), 'utf8') }));
    if (files.length || own.length) await this.world.applyConfig([...files, ...own]);
  }

  lab(instance: string): LabHandle {
    const target = this.rawLab(instance);
    return {
      sick: async (s) => {
        await target.sick(s);
        this.mark(`${instance} sick ${JSON.stringify(s)}`);
      },
      heal: async () => {
        await target.heal();
        this.mark(`${instance} healed`);
      },
    };
  }

  /** The world's own lab access (compose), or the instance's loopback lab port (embedded). */
  private rawLab(instance: string): LabHandle {
    if (this.world.lab) return this.world.lab(instance);
    const info = this.world.state().instances.find((i) => i.id === instance);
    if (!info) throw new Error(`no instance ${instance}; instances: ${this.world.state().instances.map((i) => i.id).join(', ')}`);
    const url = `http://127.0.0.1:${info.app.ports.lab}/lab/sick`;
    return {
      sick: async (s) => {
        const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(s) });
        if (!res.ok) throw new Error(`lab ${instance}: ${await res.text()}`);
      },
      heal: async () => {
        await (await fetch(url, { method: 'DELETE' })).arrayBuffer();
      },
    };
  }

  /** Requests from `sourceWorkload` that reached the given instances, as their own sidecars counted them inbound. */
  async served(instances: string[], sourceWorkload: string): Promise<number> {
    let sum = 0;
    for (const id of instances) sum += await this.metric(id, 'istio_requests_total', { reporter: 'destination', source_workload: sourceWorkload });
    return sum;
  }

  /** Polls `check` every 100 ms until it returns a value or `timeoutMs` passes (then undefined). */
  async waitFor<T>(check: () => Promise<T | undefined>, timeoutMs: number): Promise<T | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await check().catch(() => undefined);
      if (v !== undefined || Date.now() > deadline) return v;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Heals every instance (scenarios leave the world as they found it). */
  async healAll(): Promise<void> {
    await Promise.all(this.world.state().instances.map((i) => this.rawLab(i.id).heal().catch(() => undefined)));
  }

  /** Drives load through the gateway, recording samples into the named series, with a live progress line. */
  async load(series: string, spec: LoadSpec, stop?: { stopped: boolean }): Promise<Sample[]> {
    const list = this.series.get(series) ?? [];
    this.series.set(series, list);
    const total = spec.count ?? Math.round(((spec.durationMs ?? 1000) / 1000) * spec.rps);
    let done = 0;
    let ok = 0;
    let lastPrinted = 0;
    let lastSent = 0;
    const progress = (final = false): void => {
      if (this.opts.sink && (final || this.now() - lastSent >= 500)) {
        lastSent = this.now();
        this.opts.sink.progress(series, lastSent, { done, ok, failed: done - ok, total });
      }
      const line = `  [${series}] ${done}/${total} requests · ${ok} ok · ${done - ok} failed`;
      if (this.opts.live) process.stdout.write(`\r${line}${final ? '\n' : ''}`);
      else if ((final && lastPrinted !== done) || done - lastPrinted >= Math.max(1, Math.floor(total / 4))) {
        lastPrinted = done;
        this.opts.log(line);
      }
    };
    const timer = this.opts.live || this.opts.sink ? setInterval(() => progress(), this.opts.live ? 200 : 500) : undefined;
    try {
      const samples = await drive(this.world.gatewayUrl, spec, this.t0, (s) => {
        list.push(s);
        done++;
        if (s.status > 0 && s.status < 400) ok++;
        if (!this.opts.live) progress();
      }, stop);
      return samples;
    } finally {
      clearInterval(timer);
      progress(true);
    }
  }

  /** Reads one sidecar's Prometheus metric, summed over the samples matching `labels`. */
  async metric(instance: string, name: string, labels: Record<string, string> = {}): Promise<number> {
    const text = await (await fetch(`${this.adminUrl(instance)}/metrics`)).text();
    let sum = 0;
    for (const line of text.split('\n')) {
      if (!line.startsWith(name)) continue;
      const rest = line.slice(name.length);
      if (rest[0] !== '{' && rest[0] !== ' ') continue;
      const labelText = rest[0] === '{' ? rest.slice(1, rest.lastIndexOf('}')) : '';
      const have: Record<string, string> = {};
      for (const m of labelText.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) have[m[1]] = m[2];
      if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(rest.slice(rest.lastIndexOf(' ') + 1));
    }
    return sum;
  }

  // ── expectations ────────────────────────────────────────────────────────────

  check(name: string, expected: string, measured: string, pass: boolean): void {
    const e = { name, expected, measured, pass };
    this.expectations.push(e);
    this.opts.sink?.expectation(e);
  }

  /** `value` within `target ± tolerance` (stated with its sample size in the name). */
  expectNear(name: string, value: number, target: number, tolerance: number, unit = ''): void {
    this.check(name, `${target}${unit} ± ${tolerance}${unit}`, `${round(value)}${unit}`, Math.abs(value - target) <= tolerance);
  }

  expectAtLeast(name: string, value: number, min: number, unit = ''): void {
    this.check(name, `≥ ${min}${unit}`, `${round(value)}${unit}`, value >= min);
  }

  expectAtMost(name: string, value: number, max: number, unit = ''): void {
    this.check(name, `≤ ${max}${unit}`, `${round(value)}${unit}`, value <= max);
  }

  expectEqual(name: string, value: number | string, expected: number | string): void {
    this.check(name, String(expected), String(value), value === expected);
  }

  /** p-th percentile latency of a series, ms. */
  latency(samples: readonly Sample[], p: number): number {
    return percentile(samples.map((s) => s.latencyMs), p);
  }
}

function round(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(Math.abs(v) < 10 ? 2 : 1);
}
