import type { Registry } from '../registry';
import type { ConfigService } from '../config-service';
import type { EdgeStats, Telemetry } from './telemetry';
import { GATEWAY_NODE, workloadNode } from './telemetry';
import type { ScrapeResult } from './scraper';
import { trafficSplits, type ServiceSplit } from './policies';
import type { ChaosEdge } from './world-links';
import type { ScenarioRun } from './scenarios';

/** Windows the numbers are computed over. */
export const EDGE_WINDOW_MS = 5000;
export const SPLIT_WINDOW_MS = 60000;
/** Progress points of the current scenario run sent each second (the page draws its timeline from them). */
const PROGRESS_POINTS = 240;

export interface InstanceView {
  id: string;
  ready: boolean;
  synced: boolean;
  /** Callers whose outlier detection has this instance ejected right now. */
  ejectedBy: string[];
  sick?: { error_rate: number; latency_ms: number; hang: boolean; status: number };
}

export interface GraphNode {
  id: string;
  kind: 'gateway' | 'workload' | 'unknown';
  service: string;
  version?: string;
  instances: InstanceView[];
}

export interface ServiceView {
  name: string;
  /** Requests waiting for a connection slot in callers' pools right now. */
  pending: number;
  /** 503 UO (circuit breaker overflow) over the edge window. */
  overflows: number;
  /** The connection pool refused requests in the window: the breaker is open. */
  poolOpen: boolean;
}

export interface ProxyView {
  node: string;
  role: string;
  service: string;
  version?: string;
  ready: boolean;
  ackedVersion: number;
  synced: boolean;
  nack?: string;
}

/** What every browser receives each second over /v1/dashboard/stream. */
export interface DashboardModel {
  t: number;
  /** Config store version: the page refetches /v1/dashboard/policies when it changes. */
  configVersion: number;
  meshVersion: number;
  windowMs: number;
  graph: { nodes: GraphNode[]; edges: EdgeStats[]; services: ServiceView[] };
  splits: ServiceSplit[];
  proxies: ProxyView[];
  chaos: { url?: string; edges?: ChaosEdge[]; error?: string };
  labs: string[];
  scenario: { version: number; current?: ScenarioRun };
  scrape: { proxies: number; failed: string[]; ms: number; historyMs: number };
}

export interface ModelInputs {
  registry: Registry;
  config: ConfigService;
  telemetry: Telemetry;
  scrapes: ScrapeResult[];
  scrapeMs: number;
  chaos: DashboardModel['chaos'];
  labs: string[];
  sick: Record<string, InstanceView['sick']>;
  scenario: { version: number; current?: ScenarioRun };
}

/** The service a cluster name routes to: `outbound|80|v1|payments.default.svc.cluster.local` → payments. */
export function clusterService(name: string): string | undefined {
  const parts = name.split('|');
  return parts[0] === 'outbound' && parts[3] ? parts[3].split('.')[0] : undefined;
}

const round = (n: number, digits: number): number => Math.round(n * 10 ** digits) / 10 ** digits;

/** Builds the one compact model pushed to every browser. */
export function buildModel(inp: ModelInputs): DashboardModel {
  const { registry, telemetry } = inp;
  const snapshot = registry.snapshot();
  const current = registry.currentVersion;
  const nodes = new Map<string, GraphNode>();
  const ensure = (id: string, kind: GraphNode['kind'], service: string, version?: string): GraphNode => nodes.get(id) ?? nodes.set(id, { id, kind, service, version, instances: [] }).get(id)!;

  const ejectedBy = new Map<string, Set<string>>();
  const pending = new Map<string, number>();
  for (const s of inp.scrapes) {
    for (const c of s.clusters ?? []) {
      const svc = clusterService(c.name);
      if (svc && c.name.split('|')[2] === '') pending.set(svc, (pending.get(svc) ?? 0) + c.pending);
      for (const h of c.hosts) if (h.ejected) (ejectedBy.get(h.instance) ?? ejectedBy.set(h.instance, new Set()).get(h.instance)!).add(s.node.service);
    }
  }

  for (const service of Object.keys(snapshot.endpoints)) if (!registry.list().some((n) => n.info.service === service)) ensure(workloadNode(service, 'unknown'), 'workload', service, 'unknown');
  for (const n of registry.list()) {
    const { info } = n;
    const node = info.role === 'gateway' ? ensure(GATEWAY_NODE, 'gateway', info.service) : ensure(workloadNode(info.service, info.version), 'workload', info.service, info.version ?? 'unknown');
    // A gateway has no inbound endpoint to report ready: it is up while its discovery stream is open.
    node.instances.push({ id: info.id, ready: info.role === 'gateway' || n.ready, synced: n.ackedVersion >= current, ejectedBy: [...(ejectedBy.get(info.id) ?? [])].sort(), sick: inp.sick[info.id] });
  }
  const edges = telemetry.edges(EDGE_WINDOW_MS).map((e) => ({ ...e, rps: round(e.rps, 2), errorRate: round(e.errorRate, 4), p99Ms: e.p99Ms === null ? null : round(e.p99Ms, 1) }));
  for (const e of edges) {
    if (!nodes.has(e.target)) ensure(e.target, e.target === 'unknown' ? 'unknown' : 'workload', e.service, e.version);
    // A caller only the destination reported (no sidecar): Kiali's "unknown" node.
    if (e.source === 'unknown' && !nodes.has('unknown')) ensure('unknown', 'unknown', 'unknown');
  }
  for (const n of nodes.values()) n.instances.sort((a, b) => a.id.localeCompare(b.id));

  const services: ServiceView[] = [...new Set([...nodes.values()].filter((n) => n.kind === 'workload').map((n) => n.service))].sort().map((name) => {
    const overflows = edges.filter((e) => e.service === name).reduce((s, e) => s + (e.flags.UO ?? 0), 0);
    return { name, pending: pending.get(name) ?? 0, overflows, poolOpen: overflows > 0 };
  });

  return {
    t: Date.now(),
    configVersion: inp.config.store.version,
    meshVersion: current,
    windowMs: EDGE_WINDOW_MS,
    graph: { nodes: [...nodes.values()].sort((a, b) => a.id.localeCompare(b.id)), edges, services },
    splits: trafficSplits(inp.config.store.list(), snapshot.endpoints, (svc) => telemetry.versionCounts(svc, SPLIT_WINDOW_MS)),
    proxies: registry
      .list()
      .map((n) => ({ node: n.info.id, role: n.info.role, service: n.info.service, version: n.info.version, ready: n.ready, ackedVersion: n.ackedVersion, synced: n.ackedVersion >= current, nack: n.nack && n.nack.version >= n.ackedVersion ? n.nack.error : undefined }))
      .sort((a, b) => a.node.localeCompare(b.node)),
    chaos: inp.chaos,
    labs: inp.labs,
    scenario: { version: inp.scenario.version, current: inp.scenario.current && { ...inp.scenario.current, progress: inp.scenario.current.progress.slice(-PROGRESS_POINTS) } },
    scrape: { proxies: inp.scrapes.length, failed: inp.scrapes.filter((s) => !s.metrics).map((s) => s.node.id), ms: Math.round(inp.scrapeMs), historyMs: telemetry.historyMs },
  };
}
