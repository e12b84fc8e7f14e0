import type { UpstreamHost } from '../upstream-host';
import type { Rng } from '../rng';

/**
 * Locality-aware load balancing: DestinationRule `localityLbSetting` as Istio compiles it into an
 * Envoy load assignment (pilot/pkg/networking/core/loadbalancer: applyLocalityFailover,
 * applyFailoverPriorities, applyLocalityWeights) and as Envoy then spends it per request
 * (priority levels with an overprovisioning factor of 1.4, then the locality-weighted LB inside the
 * chosen priority). The cluster asks `eligible()` for the hosts of one priority/locality; the
 * configured LB (round robin, least request, …) picks among them.
 *
 * Where meshlab differs from Envoy: a locality inside a priority is drawn at random by its
 * effective weight, where Envoy walks an EDF schedule (same shares, not the same order); under
 * consistent hashing the ring spans the whole priority with equal host weights (Envoy scales each
 * host's share of the ring by its locality's weight), so `distribute` weights do not shape a ring; and
 * panic (minHealthPercent) is judged per priority only when the priorities together are below 100%
 * available, as Envoy does, but without Envoy's "total panic" spreading by host count (with
 * Istio's default minHealthPercent 0 both give "no healthy upstream" when every host is ejected).
 * And from Istio: meshlab has no MeshConfig, so Istio's mesh-wide default `localityLbSetting:
 * {enabled: true}` is not in force; only a DestinationRule's localityLbSetting turns this on (in
 * Istio every DestinationRule with outlierDetection prefers the caller's zone). Turning it on for
 * every DestinationRule would move the other labs' traffic into zone-a; the labs that teach ejection
 * over all three payments instances are written against an even spread.
 */

export const REGION_LABEL = 'topology.kubernetes.io/region';
export const ZONE_LABEL = 'topology.kubernetes.io/zone';
export const SUBZONE_LABEL = 'topology.istio.io/subzone';
const NETWORK_LABEL = 'topology.istio.io/network';

/** Envoy's default overprovisioning factor (140%): a level is fully available until < 1/1.4 ≈ 71.4% of it is healthy. */
export const OVERPROVISIONING_FACTOR = 1.4;

export interface Locality {
  region: string;
  zone: string;
  subzone: string;
}

/** A workload's locality, from the labels Istio puts on endpoints and proxies. */
export function localityOf(labels: Readonly<Record<string, string>>): Locality {
  return { region: labels[REGION_LABEL] ?? '', zone: labels[ZONE_LABEL] ?? '', subzone: labels[SUBZONE_LABEL] ?? '' };
}

/** Istio's locality string `region/zone/subzone` (trailing empty parts dropped). */
export function localityString(l: Locality): string {
  return [l.region, l.zone, l.subzone].join('/').replace(/\/+$/, '');
}

/** The DestinationRule's localityLbSetting in force (absent when `enabled: false`). */
export interface EffectiveLocalityLb {
  distribute?: { from: string; to: Record<string, number> }[];
  failover?: { from: string; to: string }[];
  failoverPriority?: string[];
  /** Istio applies failover only to a cluster with outlier detection. */
  outlierDetection: boolean;
}

/** Whether Istio changes the load assignment at all for this setting (otherwise: no locality preference). */
export function localityLbActive(s: EffectiveLocalityLb | undefined): s is EffectiveLocalityLb {
  return !!s && (s.distribute !== undefined || s.outlierDetection);
}

/** Istio's util.LocalityMatch: a rule `region/zone/subzone` where `*` or a missing part matches anything. */
export function localityMatch(l: Locality, rule: string): boolean {
  const [region = '', zone = '', subzone = ''] = rule.split('/');
  return (region === '*' || region === l.region) && (zone === '*' || zone === '' || zone === l.zone) && (subzone === '*' || subzone === '' || subzone === l.subzone);
}

/** Istio's util.LbPriority: 0 same subzone, 1 same zone, 2 same region, 3 elsewhere. */
function lbPriority(caller: Locality, ep: Locality): number {
  if (caller.region !== ep.region) return 3;
  if (caller.zone !== ep.zone) return 2;
  return caller.subzone === ep.subzone ? 0 : 1;
}

/** Renumbers priorities 0, 1, 2, … keeping their order (Istio compacts after every pass). */
function compact(priorities: number[]): number[] {
  const rank = new Map([...new Set(priorities)].sort((a, b) => a - b).map((p, i) => [p, i]));
  return priorities.map((p) => rank.get(p)!);
}

/** One Envoy LocalityLbEndpoints: hosts of one locality at one priority, with the locality's weight. */
export interface LocalityGroup<H> {
  locality: string;
  priority: number;
  weight: number;
  hosts: H[];
}

/**
 * Istio's side: the caller's priorities and locality weights for `endpoints`. Endpoints of a
 * locality `distribute` gives no weight are left out (Istio empties their LbEndpoints).
 */
export function planLocalities<H extends { endpoint: { labels: Readonly<Record<string, string>> } }>(
  setting: EffectiveLocalityLb,
  callerLabels: Readonly<Record<string, string>>,
  hosts: readonly H[],
): { groups: LocalityGroup<H>[]; localityWeighted: boolean } {
  const caller = localityOf(callerLabels);
  const byLocality = new Map<string, { loc: Locality; hosts: H[] }>();
  for (const h of hosts) {
    const loc = localityOf(h.endpoint.labels);
    const key = localityString(loc);
    let g = byLocality.get(key);
    if (!g) byLocality.set(key, (g = { loc, hosts: [] }));
    g.hosts.push(h);
  }
  const localities = [...byLocality.entries()];

  if (setting.distribute) {
    // applyLocalityWeights: the first rule whose `from` matches the caller; each `to` share is split over its localities by host count.
    const rule = setting.distribute.find((d) => localityMatch(caller, d.from));
    if (!rule) return { groups: localities.map(([k, g]) => ({ locality: k, priority: 0, weight: g.hosts.length, hosts: g.hosts })), localityWeighted: true };
    const groups: LocalityGroup<H>[] = [];
    const claimed = new Set<string>();
    for (const [pattern, share] of Object.entries(rule.to)) {
      const matched = localities.filter(([k, g]) => !claimed.has(k) && localityMatch(g.loc, pattern));
      const total = matched.reduce((n, [, g]) => n + g.hosts.length, 0);
      for (const [k, g] of matched) {
        claimed.add(k);
        groups.push({ locality: k, priority: 0, weight: Math.ceil((g.hosts.length * share) / total), hosts: g.hosts });
      }
    }
    return { groups, localityWeighted: true };
  }

  // Failover (the caller only reaches here with outlier detection set, see localityLbActive).
  let groups: LocalityGroup<H>[] = localities.map(([k, g]) => ({ locality: k, priority: 0, weight: g.hosts.length, hosts: g.hosts }));
  const fp = setting.failoverPriority ?? [];
  if (fp.length > 0 && Object.keys(callerLabels).length > 0) groups = applyFailoverPriority(groups, callerLabels, fp);
  if (fp.length === 0 || (setting.failover?.length ?? 0) > 0) {
    const failover = setting.failover ?? [];
    const raw = groups.map((g) => {
      let p = lbPriority(caller, localityOf(g.hosts[0].endpoint.labels));
      if (p === 3) {
        const rule = failover.find((f) => f.from === caller.region);
        if (rule && localityOf(g.hosts[0].endpoint.labels).region !== rule.to) p = 4;
      }
      return g.priority * 5 + p;
    });
    const ranks = compact(raw);
    groups = groups.map((g, i) => ({ ...g, priority: ranks[i] }));
  }
  const localityWeighted = (setting.failover?.length ?? 0) > 0 || fp.length > 0;
  return { groups, localityWeighted };
}

/** applyFailoverPriorityPerLocality + compaction: the first label (in order) an endpoint does not share with the caller sets its priority. */
function applyFailoverPriority<H extends { endpoint: { labels: Readonly<Record<string, string>> } }>(
  groups: LocalityGroup<H>[],
  callerLabels: Readonly<Record<string, string>>,
  labels: string[],
): LocalityGroup<H>[] {
  const names = labels.map((l) => l.split('=')[0]);
  const overrides = new Map(labels.filter((l) => l.includes('=')).map((l) => [l.split('=')[0], l.split('=')[1]] as const));
  const includesNetwork = names[0] === NETWORK_LABEL;
  const out: LocalityGroup<H>[] = [];
  for (const g of groups) {
    const byPriority = new Map<number, H[]>();
    for (const h of g.hosts) {
      let priority = 0;
      let adjust = 0;
      for (let j = 0; j < names.length; j++) {
        const want = overrides.get(names[j]) ?? callerLabels[names[j]];
        if (want !== h.endpoint.labels[names[j]]) {
          if (j === 0 && includesNetwork) {
            adjust = names.length;
            continue;
          }
          priority = names.length - j;
          break;
        }
      }
      priority += adjust;
      let list = byPriority.get(priority);
      if (!list) byPriority.set(priority, (list = []));
      list.push(h);
    }
    for (const [priority, hosts] of [...byPriority.entries()].sort((a, b) => a[0] - b[0])) out.push({ locality: g.locality, priority, weight: hosts.length, hosts });
  }
  const ranks = compact(out.map((g) => g.priority));
  return out.map((g, i) => ({ ...g, priority: ranks[i] }));
}

interface PriorityState {
  groups: LocalityGroup<UpstreamHost>[];
  all: UpstreamHost[];
}

interface Computed {
  /** Cumulative load per priority in percent (Envoy's per_priority_load), last = 100. */
  cumulativeLoad: number[];
  /** Per priority: hosts to use when no locality weighting (healthy, or all in panic). */
  hosts: (readonly UpstreamHost[])[];
  /** Per priority: per locality, healthy hosts and cumulative effective weight. */
  localities: { hosts: readonly UpstreamHost[]; cumulative: number }[][];
}

/**
 * Envoy's side, for one cluster: priority loads from each level's healthy share × 1.4, then a
 * locality by effective weight (weight × min(1, 1.4 × healthy share)) when locality-weighted.
 * Recomputed only when the hosts or their health change.
 */
export class LocalityLb {
  private priorities: PriorityState[] = [];
  private localityWeighted = false;
  private computed?: Computed;
  private generation = -1;

  constructor(
    readonly setting: EffectiveLocalityLb,
    private readonly callerLabels: Readonly<Record<string, string>>,
    private readonly rng: Rng,
  ) {}

  /** The cluster's hosts changed. */
  setHosts(hosts: readonly UpstreamHost[]): void {
    const plan = planLocalities(this.setting, this.callerLabels, hosts);
    this.localityWeighted = plan.localityWeighted;
    const levels: PriorityState[] = [];
    for (const g of plan.groups) {
      const level = (levels[g.priority] ??= { groups: [], all: [] });
      level.groups.push(g);
      level.all.push(...g.hosts);
    }
    this.priorities = levels.filter((l) => l !== undefined);
    this.computed = undefined;
  }

  /** The priority of `host` (for /clusters and tests); undefined when distribute left it out. */
  priorityOf(host: UpstreamHost): number | undefined {
    const i = this.priorities.findIndex((p) => p.all.includes(host));
    return i < 0 ? undefined : i;
  }

  /** Per-priority load in percent as Envoy computes it (tests and the admin page). */
  priorityLoad(isHealthy: (h: UpstreamHost) => boolean, generation: number, minHealthPercent: number): number[] {
    const c = this.compute(isHealthy, generation, minHealthPercent);
    return c.cumulativeLoad.map((v, i) => v - (i === 0 ? 0 : c.cumulativeLoad[i - 1]));
  }

  /**
   * The hosts the configured LB may pick from for one request: one priority drawn by load, then
   * (locality-weighted) one locality by effective weight. `generation` changes whenever health does.
   */
  eligible(isHealthy: (h: UpstreamHost) => boolean, generation: number, minHealthPercent: number, hash?: number): readonly UpstreamHost[] {
    const c = this.compute(isHealthy, generation, minHealthPercent);
    if (c.cumulativeLoad.length === 0) return [];
    // A consistent-hash cluster picks the priority by the request's hash (Envoy's thread-aware LBs: choosePriority(hash % 100)),
    // so one key stays in one priority; and uses the whole priority, one ring per priority.
    const r = hash !== undefined ? hash % 100 : this.rng() * 100;
    let p = 0;
    while (p < c.cumulativeLoad.length - 1 && r >= c.cumulativeLoad[p]) p++;
    const locs = c.localities[p];
    if (hash !== undefined || !this.localityWeighted || locs.length === 0) return c.hosts[p];
    const total = locs[locs.length - 1].cumulative;
    if (total <= 0) return c.hosts[p];
    const w = this.rng() * total;
    for (const l of locs) if (w < l.cumulative) return l.hosts;
    return locs[locs.length - 1].hosts;
  }

  private compute(isHealthy: (h: UpstreamHost) => boolean, generation: number, minHealthPercent: number): Computed {
    if (this.computed && this.generation === generation) return this.computed;
    const health: number[] = [];
    const healthyHosts: UpstreamHost[][] = [];
    for (const level of this.priorities) {
      const healthy = level.all.filter(isHealthy);
      healthyHosts.push(healthy);
      // Envoy: min(100, overprovisioning_factor(140) × healthy_weight / total_weight), in integer percent.
      health.push(level.all.length === 0 ? 0 : Math.min(100, Math.floor((OVERPROVISIONING_FACTOR * 100 * healthy.length) / level.all.length)));
    }
    const normalizedTotal = Math.min(100, health.reduce((a, b) => a + b, 0));
    // distributeLoad: each level takes what it can, scaled up when the levels together are < 100% available.
    const load = health.map(() => 0);
    if (normalizedTotal > 0) {
      let remaining = 100;
      for (let i = 0; i < health.length; i++) {
        load[i] = Math.min(remaining, Math.floor((health[i] * 100) / normalizedTotal));
        remaining -= load[i];
      }
      const first = health.findIndex((h) => h > 0);
      load[first] += remaining; // rounding leftovers go to the first available level, as in Envoy
    } else if (load.length > 0) {
      load[0] = 100;
    }
    const cumulativeLoad: number[] = [];
    load.reduce((acc, v) => (cumulativeLoad.push(acc + v), acc + v), 0);
    const hosts: (readonly UpstreamHost[])[] = [];
    const localities: Computed['localities'] = [];
    this.priorities.forEach((level, i) => {
      const panic = normalizedTotal < 100 && level.all.length > 0 && (100 * healthyHosts[i].length) / level.all.length < minHealthPercent;
      hosts.push(panic ? level.all : healthyHosts[i]);
      let acc = 0;
      const locs: Computed['localities'][number] = [];
      for (const g of level.groups) {
        const healthy = panic ? g.hosts : g.hosts.filter(isHealthy);
        const effective = panic ? g.weight : g.weight * Math.min(1, (OVERPROVISIONING_FACTOR * healthy.length) / g.hosts.length);
        if (effective <= 0) continue;
        acc += effective;
        locs.push({ hosts: healthy, cumulative: acc });
      }
      localities.push(locs);
    });
    this.computed = { cumulativeLoad, hosts, localities };
    this.generation = generation;
    return this.computed;
  }
}
