import type { IncomingMessage } from 'node:http';
import { Cluster, type ClusterObserver } from './cluster';
import type { CompiledConfig, HostSpec, RouteSpec } from './compile';
import { DEFAULT_OUTBOUND_POLICY, type RoutePolicy, type RouteResult, type RouteTable } from './route-table';
import type { StreamInfo } from './stream-info';
import type { RequestTest } from './route-match';
import type { Clock } from './outlier-detector';
import { meshRandom, type Rng } from './rng';
import { RoundRobin } from './lb/round-robin';
import type { UpstreamTls } from './upstream-tls';
import { OutboundPolicy, splitAuthority } from './egress/outbound-policy';

export interface RuntimeRoute {
  match?: RequestTest;
  /** One precomputed result per destination: routing allocates nothing per request. */
  results: RouteResult[];
  weights: number[];
  total: number;
}

interface RuntimeHost {
  /** The service's name, whatever Host form found it (what metrics and logs name). */
  service: string;
  defaultResult: RouteResult;
  routes?: RuntimeRoute[];
  /** A ServiceEntry host and port: Istio's destination labels for it. */
  external?: { service: string; name: string; namespace: string; port: number };
}

export interface MeshRuntimeOptions {
  observer?: ClusterObserver;
  clock?: Clock;
  rng?: Rng;
  /**
   * Load balancing for hosts without a DestinationRule while the snapshot carries no mesh config at
   * all. Istio's default is LEAST_REQUEST; the spine ran ROUND_ROBIN before the control plane sent
   * config, and keeps doing so until it does.
   */
  unconfiguredLb?: 'ROUND_ROBIN' | 'LEAST_REQUEST';
  /** Outbound mTLS to peer sidecars (auto mTLS); absent = plaintext everywhere. */
  upstreamTls?: UpstreamTls;
}

/**
 * The sidecar's running outbound config: Cluster objects (stateful: pools, LB cursors, outlier and
 * circuit-breaker state) reconciled across snapshots, and the route table over them. A cluster
 * whose settings did not change is kept as is; one whose settings changed is rebuilt but adopts the
 * connection pools of endpoints that remain; a cluster that disappears is closed gracefully (its
 * in-flight requests finish).
 */
export class MeshRuntime implements RouteTable {
  readonly clusters = new Map<string, Cluster>();
  private readonly settings = new Map<string, string>();
  /** Service name → its service-level cluster (the spine's `clusters` view). */
  readonly serviceClusters = new Map<string, Cluster>();
  private hosts = new Map<string, RuntimeHost>();
  /** Hosts not in the registry: PassthroughCluster or block_all (mesh/egress/outbound-policy.ts); none at the gateway. */
  private outbound?: OutboundPolicy;
  private outboundKey = '';
  private readonly rng: Rng;

  constructor(private readonly opts: MeshRuntimeOptions = {}) {
    this.rng = opts.rng ?? meshRandom(3);
  }

  /** Installs a compiled config. Cannot fail: compilation already validated everything. */
  apply(config: CompiledConfig, unconfigured: boolean): void {
    const { observer, clock } = this.opts;
    for (const spec of config.clusters.values()) {
      let cluster = this.clusters.get(spec.name);
      const key = unconfigured ? `${spec.settingsKey}|unconfigured` : spec.settingsKey;
      if (!cluster || this.settings.get(spec.name) !== key) {
        const old = cluster;
        const lbOverride = unconfigured && this.opts.unconfiguredLb === 'ROUND_ROBIN' ? { lb: new RoundRobin() } : {};
        cluster = new Cluster(spec.name, { policy: spec.policy, observer, clock, rng: meshRandom(hashName(spec.name)), adopt: old?.handOver(), upstreamTls: this.opts.upstreamTls, callerLabels: spec.callerLabels, tlsOrigination: spec.tlsOrigination, ...lbOverride });
        cluster.setEndpoints(spec.endpoints);
        if (old) {
          for (const h of cluster.members) if (old.handOver().get(h.key) === h) old.markHandedOver(h);
          old.close();
        }
        this.clusters.set(spec.name, cluster);
        this.settings.set(spec.name, key);
      } else {
        cluster.setEndpoints(spec.endpoints);
      }
    }
    for (const [name, cluster] of this.clusters) {
      if (config.clusters.has(name)) continue;
      cluster.close();
      this.clusters.delete(name);
      this.settings.delete(name);
    }
    this.serviceClusters.clear();
    for (const spec of config.clusters.values()) if (spec.subset === undefined) this.serviceClusters.set(spec.service, this.clusters.get(spec.name)!);
    const hosts = new Map<string, RuntimeHost>();
    for (const [service, spec] of config.hosts) {
      const built = this.buildHost(spec);
      hosts.set(service, built);
      for (const alias of spec.aliases ?? []) if (!config.hosts.has(alias)) hosts.set(alias, built);
    }
    this.hosts = hosts;
    const outboundKey = config.outbound ? JSON.stringify(config.outbound) : '';
    if (outboundKey !== this.outboundKey) {
      this.outbound?.close();
      this.outbound = config.outbound ? new OutboundPolicy(config.outbound.mode, observer) : undefined;
      this.outboundKey = outboundKey;
    }
  }

  private buildHost(spec: HostSpec): RuntimeHost {
    const defaultResult: RouteResult = { name: 'default', cluster: this.clusters.get(spec.defaultCluster)!, policy: DEFAULT_OUTBOUND_POLICY };
    const ext = spec.external;
    const external = ext ? { service: ext.host, name: ext.host, namespace: ext.namespace, port: Number(/:(\d+)$/.exec(spec.service)?.[1] ?? 80) } : undefined;
    if (!spec.routes) return { service: spec.service, defaultResult, ...(external ? { external } : {}) };
    return { service: spec.service, defaultResult, routes: spec.routes.map((r) => this.buildRoute(r)), ...(external ? { external } : {}) };
  }

  /** One compiled route over this runtime's clusters (the gateway's virtual hosts build theirs here too). */
  buildRoute(r: RouteSpec): RuntimeRoute {
    const mirror = r.mirror ? { cluster: this.clusters.get(r.mirror.cluster)!, percent: r.mirror.percent } : undefined;
    const results = r.destinations.map<RouteResult>((d) => {
      const policy: RoutePolicy = { timeoutMs: r.timeoutMs, retry: r.retry, fault: r.fault, mirror, requestOps: d.requestOps, responseOps: d.responseOps, ...(r.rewrite ? { rewrite: r.rewrite } : {}) };
      return { name: r.name, cluster: this.clusters.get(d.cluster)!, policy };
    });
    return { match: r.match, results, weights: r.destinations.map((d) => d.weight), total: r.totalWeight };
  }

  /** Request → route: the host's rules in order, first match wins; weighted choice among its destinations. */
  route(req: IncomingMessage, info: StreamInfo): RouteResult | undefined {
    let host = this.hosts.get(info.destinationService);
    // A ServiceEntry host is reached on the Host header's port (80 when none).
    if (host?.external || (!host && info.authority.includes(':'))) {
      const port = splitAuthority(info.authority).port ?? 80;
      host = port === 80 ? host : this.hosts.get(`${info.destinationService}:${port}`);
    }
    if (!host) return this.outbound?.route(info);
    return this.routeHost(host, req, info);
  }

  /** The routing of `service`'s host: its VirtualService's rules, or the default route (the gateway's plain routes). */
  routeService(service: string, req: IncomingMessage, info: StreamInfo): RouteResult | undefined {
    const host = this.hosts.get(service);
    return host ? this.routeHost(host, req, info) : undefined;
  }

  private routeHost(host: RuntimeHost, req: IncomingMessage, info: StreamInfo): RouteResult | undefined {
    info.destinationService = host.external?.service ?? host.service;
    if (host.external) info.egress = host.external;
    if (!host.routes) return host.defaultResult;
    for (const r of host.routes) {
      if (r.match && !r.match(req)) continue;
      if (r.results.length === 1) return r.results[0];
      return this.weighted(r);
    }
    return undefined;
  }

  /** share = weight / Σweights; a weight of 0 gets nothing (all zero: the first destination). */
  weighted(r: RuntimeRoute): RouteResult {
    if (r.total <= 0) return r.results[0];
    let x = this.rng() * r.total;
    for (let i = 0; i < r.results.length; i++) {
      x -= r.weights[i];
      if (x < 0) return r.results[i];
    }
    for (let i = r.results.length - 1; i >= 0; i--) if (r.weights[i] > 0) return r.results[i];
    return r.results[0];
  }

  /** Per-cluster live numbers for metrics. */
  *gauges(): Iterable<{ cluster: string; active: number; pending: number }> {
    for (const c of this.clusters.values()) yield { cluster: c.name, active: c.breaker.active, pending: c.breaker.pending };
  }

  close(): void {
    for (const c of this.clusters.values()) c.close();
    this.clusters.clear();
    this.outbound?.close();
  }
}

function hashName(s: string): number {
  let h = 7;
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) >>> 0;
  return h;
}
