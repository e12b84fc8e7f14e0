import type { IncomingMessage } from 'node:http';
import type { Endpoint } from './xds';
import { UpstreamHost, poolOptionsFor } from './upstream-host';
import type { LbContext, LoadBalancer } from './lb/types';
import { RoundRobin } from './lb/round-robin';
import { createLoadBalancer } from './lb/factory';
import { generatedCookieSpec, hashKeyFunction, type GeneratedCookie, type HashKeyFn } from './lb/hash-key';
import { CircuitBreaker } from './circuit-breaker';
import { OutlierDetector, realClock, type Clock, type LocalOrigin } from './outlier-detector';
import { CONNECTION_POOL_DEFAULTS } from './config/defaults';
import type { EffectiveTrafficPolicy } from './config/effective';
import { meshRandom, type Rng } from './rng';
import type { UpstreamTls } from './upstream-tls';
import { LocalityLb } from './lb/locality';
import { hash32 } from './lb/ring-hash';
import { tlsOriginationConnector, type TlsOrigination } from './egress/tls-origination';

/** What a cluster tells the sidecar's metrics about. */
export interface ClusterObserver {
  onEject?(cluster: string, host: UpstreamHost): void;
  onUneject?(cluster: string, host: UpstreamHost): void;
  onOverflow?(cluster: string): void;
  onRetry?(cluster: string): void;
  /** A retry refused by the maxRetries breaker (Envoy's upstream_rq_retry_overflow). */
  onRetryOverflow?(cluster: string): void;
}

export interface ClusterOptions {
  /** The DestinationRule policy in force (LB, circuit breakers, outlier detection); absent = Istio defaults with `lb`. */
  policy?: EffectiveTrafficPolicy;
  lb?: LoadBalancer;
  rng?: Rng;
  clock?: Clock;
  observer?: ClusterObserver;
  /** Hosts of a previous version of this cluster to adopt (pools of endpoints that remain survive). */
  adopt?: ReadonlyMap<string, UpstreamHost>;
  /** Outbound mTLS (the sidecar's workload certificate); absent = plaintext to every endpoint. */
  upstreamTls?: UpstreamTls;
  /** The caller's own labels: its locality, for the policy's localityLbSetting. */
  callerLabels?: Readonly<Record<string, string>>;
  /** DestinationRule tls SIMPLE/MUTUAL to a host outside the mesh: every connection is TLS made by the sidecar. */
  tlsOrigination?: TlsOrigination;
}

/**
 * An Envoy cluster: the endpoints of one service (or subset), a load balancer over the healthy ones,
 * one connection pool per endpoint, circuit breakers and outlier detection. Endpoint updates keep
 * the pools (and outlier state) of endpoints that stay, so a config push never drops a live
 * connection or an in-flight request.
 */
export class Cluster {
  readonly name: string;
  private hosts: UpstreamHost[] = [];
  private readonly byKey = new Map<string, UpstreamHost>();
  lb: LoadBalancer;
  readonly breaker: CircuitBreaker;
  readonly outlier?: OutlierDetector<UpstreamHost>;
  /** Priorities and locality weights (localityLbSetting): narrows the hosts before `lb` picks. */
  readonly locality?: LocalityLb;
  readonly hashKey?: HashKeyFn;
  /** httpCookie with a ttl: the cookie the sidecar sets when a request has none. */
  readonly generatedCookie?: GeneratedCookie;
  readonly policy?: EffectiveTrafficPolicy;
  readonly observer: ClusterObserver;
  private readonly poolKey: string;
  private readonly upstreamTls?: UpstreamTls;
  private readonly tlsOrigination?: TlsOrigination;
  private healthyCache: readonly UpstreamHost[] = [];
  private healthyGen = -1;
  private readonly adopt?: ReadonlyMap<string, UpstreamHost>;
  /** Hosts handed over to a newer version of this cluster: not closed when this one retires. */
  private readonly handedOver = new Set<UpstreamHost>();

  constructor(name: string, lbOrOptions: LoadBalancer | ClusterOptions = {}) {
    this.name = name;
    const opts: ClusterOptions = 'pick' in lbOrOptions ? { lb: lbOrOptions } : lbOrOptions;
    this.policy = opts.policy;
    this.observer = opts.observer ?? {};
    const rng = opts.rng ?? meshRandom();
    this.lb = opts.lb ?? (opts.policy ? createLoadBalancer(opts.policy.loadBalancer, rng) : new RoundRobin());
    this.hashKey = opts.policy ? hashKeyFunction(opts.policy.loadBalancer) : undefined;
    this.generatedCookie = opts.policy ? generatedCookieSpec(opts.policy.loadBalancer) : undefined;
    this.breaker = new CircuitBreaker(opts.policy?.connectionPool ?? CONNECTION_POOL_DEFAULTS);
    this.tlsOrigination = opts.tlsOrigination;
    this.poolKey = JSON.stringify(poolOptionsFor(opts.policy?.connectionPool)) + (opts.tlsOrigination ? `|tls:${opts.tlsOrigination.fingerprint}` : '');
    this.adopt = opts.adopt;
    this.upstreamTls = opts.upstreamTls;
    if (opts.policy?.localityLb) this.locality = new LocalityLb(opts.policy.localityLb, opts.callerLabels ?? {}, rng);
    if (opts.policy?.outlierDetection) {
      const observer = this.observer;
      this.outlier = new OutlierDetector<UpstreamHost>(opts.policy.outlierDetection, opts.clock ?? realClock, {
        onEject: (h) => observer.onEject?.(name, h),
        onUneject: (h) => observer.onUneject?.(name, h),
      });
    }
  }

  /** Replaces the endpoint set; hosts that remain keep their pools and counters. */
  setEndpoints(endpoints: readonly Endpoint[]): void {
    const next: UpstreamHost[] = [];
    const keep = new Set<string>();
    let changed = endpoints.length !== this.hosts.length;
    for (const ep of endpoints) {
      const key = `${ep.host}:${ep.port}`;
      keep.add(key);
      let host = this.byKey.get(key);
      // A host whose transport changed (plaintext ↔ mTLS, e.g. the peer's PeerAuthentication moved to DISABLE) is a new host.
      if (!host || host.endpoint.instance !== ep.instance || host.poolKey !== this.hostPoolKey(ep)) {
        host?.close();
        host = this.adoptable(key, ep) ?? this.newHost(ep);
        this.byKey.set(key, host);
      }
      if (this.hosts[next.length] !== host) changed = true;
      next.push(host);
    }
    for (const [key, host] of this.byKey) {
      if (!keep.has(key)) {
        host.close();
        this.byKey.delete(key);
      }
    }
    if (!changed) return;
    this.hosts = next;
    this.healthyGen = -1;
    this.outlier?.setHosts(next);
    this.locality?.setHosts(next);
  }

  private newHost(ep: Endpoint): UpstreamHost {
    const cp = this.policy?.connectionPool;
    if (this.tlsOrigination) {
      const connect = tlsOriginationConnector(this.tlsOrigination, cp?.connectTimeoutMs || 10_000);
      return new UpstreamHost(ep, { ...poolOptionsFor(cp), connect }, this.hostPoolKey(ep));
    }
    const transport = this.upstreamTls?.transportFor(ep, this.policy?.tlsMode, cp?.connectTimeoutMs);
    return new UpstreamHost(ep, poolOptionsFor(cp, transport), this.hostPoolKey(ep), transport?.peerPrincipal);
  }

  /** The cluster's pool settings plus whether this endpoint is reached over mTLS (and as whom). */
  private hostPoolKey(ep: Endpoint): string {
    const peer = this.upstreamTls?.peerFor(ep, this.policy?.tlsMode);
    return peer ? `${this.poolKey}|mtls:${peer}` : this.poolKey;
  }

  private adoptable(key: string, ep: Endpoint): UpstreamHost | undefined {
    const old = this.adopt?.get(key);
    if (old && old.endpoint.instance === ep.instance && old.poolKey === this.hostPoolKey(ep) && !old.closed) return old;
    return undefined;
  }

  /** All hosts, healthy or not. */
  get members(): readonly UpstreamHost[] {
    return this.hosts;
  }

  /** Hosts by address, for a newer version of this cluster to adopt. */
  handOver(): ReadonlyMap<string, UpstreamHost> {
    return this.byKey;
  }

  /** The newer version of this cluster took `host`: retiring this one must leave it open. */
  markHandedOver(host: UpstreamHost): void {
    this.handedOver.add(host);
  }

  /**
   * Hosts eligible for traffic now: outlier-ejected hosts are out, unless fewer than
   * minHealthPercent of hosts would remain (Envoy's panic threshold, which Istio sets to
   * minHealthPercent): then every host is used. With minHealthPercent 0 (Istio's default) there is
   * no panic mode and all-ejected means no healthy upstream.
   */
  healthyHosts(): readonly UpstreamHost[] {
    const od = this.outlier;
    if (!od || od.ejected === 0) return this.hosts;
    if (this.healthyGen === od.generation) return this.healthyCache;
    const healthy = this.hosts.filter((h) => !od.isEjected(h));
    const panic = this.hosts.length > 0 && (100 * healthy.length) / this.hosts.length < od.config.minHealthPercent;
    this.healthyCache = panic ? this.hosts : healthy;
    this.healthyGen = od.generation;
    return this.healthyCache;
  }

  pick(ctx: LbContext): UpstreamHost | undefined {
    return this.lb.pick(this.locality ? this.localityHosts(ctx) : this.healthyHosts(), ctx);
  }

  /** The hosts of the priority and locality drawn for this request (Envoy's priority load, then locality weights). */
  localityHosts(ctx: LbContext = {}): readonly UpstreamHost[] {
    const od = this.outlier;
    const hash = this.lb.name === 'RING_HASH' && ctx.hashKey !== undefined ? hash32(ctx.hashKey) : undefined;
    return this.locality!.eligible(this.isHealthy, od?.generation ?? 0, od?.config.minHealthPercent ?? 0, hash);
  }

  private readonly isHealthy = (h: UpstreamHost): boolean => !this.outlier?.isEjected(h);

  /** The consistent-hash key of a request, when this cluster hashes. */
  hashKeyOf(req: IncomingMessage): string | undefined {
    return this.hashKey?.(req);
  }

  /** Reports an attempt's result to outlier detection (local failures as 503, timeouts as 504). */
  recordResult(host: UpstreamHost, status: number): void {
    this.outlier?.record(host, status);
  }

  /** Reports a failure the sidecar itself saw (no response): a timeout (per-try or route) or a connect failure/reset. */
  recordLocalOrigin(host: UpstreamHost, kind: LocalOrigin): void {
    this.outlier?.recordLocal(host, kind);
  }

  /** Retires this cluster: timers stop; pools close once their in-flight requests finish. */
  close(): void {
    if (this.outlier) {
      this.outlier.close();
      for (const h of this.hosts) if (this.outlier.isEjected(h)) this.observer.onUneject?.(this.name, h);
    }
    for (const host of this.hosts) if (!this.handedOver.has(host)) host.close();
    this.hosts = [];
    this.byKey.clear();
  }
}
