/**
 * An Envoy cluster as the tcp_proxy filter uses it: the endpoints of one destination (service or
 * subset, one port), round robin over the hosts outlier detection has not ejected, the
 * `max_connections` circuit breaker (DestinationRule `connectionPool.tcp.maxConnections`: a
 * connection over it is refused, flag UO), the connect timeout (`connectTimeout`) and keepalive
 * (`tcpKeepalive.time`). Connect results feed outlier detection as Envoy's tcp_proxy reports them:
 * a refused or timed-out connect is a locally originated failure (503 / 504 unless
 * splitExternalLocalOriginErrors), a connect that succeeds is LocalOriginConnectSuccessFinal (200).
 * Knowingly different from Envoy: round robin, not LEAST_REQUEST (a TCP connection is no request:
 * Envoy's least-request over tcp_proxy sees 0 active requests everywhere and picks at random).
 */
import type { Endpoint } from '../xds';
import type { EffectiveTrafficPolicy } from '../config/effective';
import { OutlierDetector, realClock, type Clock } from '../outlier-detector';
import { CONNECTION_POOL_DEFAULTS } from '../config/defaults';

export interface TcpHost {
  readonly endpoint: Endpoint;
  /** host:port, the access log's upstream_host. */
  readonly key: string;
  readonly instance: string;
  readonly version: string;
  /** Open upstream connections to this host. */
  active: number;
}

export interface TcpClusterOptions {
  policy?: EffectiveTrafficPolicy;
  /** TCP keepalive idle time in ms (tcpKeepalive.time); absent = off, Envoy's default. */
  keepaliveMs?: number;
  /** No byte either way for this long closes the connection (tcp_proxy idle_timeout); 0 = never. Default 1 h. */
  idleTimeoutMs?: number;
  clock?: Clock;
  onEject?(cluster: string, host: TcpHost): void;
  onUneject?(cluster: string, host: TcpHost): void;
}

export class TcpCluster {
  private hosts: TcpHost[] = [];
  private next = 0;
  /** Upstream connections open or connecting (Envoy's cx_active against max_connections). */
  active = 0;
  readonly maxConnections: number;
  readonly connectTimeoutMs: number;
  readonly keepaliveMs?: number;
  readonly idleTimeoutMs: number;
  readonly outlier?: OutlierDetector<TcpHost>;

  constructor(
    readonly name: string,
    readonly service: string,
    opts: TcpClusterOptions = {},
    /** The destination's service port. */
    readonly port = 0,
  ) {
    const pool = opts.policy?.connectionPool;
    this.maxConnections = pool?.maxConnections ?? CONNECTION_POOL_DEFAULTS.maxConnections;
    this.connectTimeoutMs = pool?.connectTimeoutMs ?? CONNECTION_POOL_DEFAULTS.connectTimeoutMs;
    this.keepaliveMs = opts.keepaliveMs;
    this.idleTimeoutMs = opts.idleTimeoutMs ?? 3_600_000;
    if (opts.policy?.outlierDetection) {
      this.outlier = new OutlierDetector<TcpHost>(opts.policy.outlierDetection, opts.clock ?? realClock, {
        onEject: (h) => opts.onEject?.(name, h),
        onUneject: (h) => opts.onUneject?.(name, h),
      });
    }
  }

  get members(): readonly TcpHost[] {
    return this.hosts;
  }

  /** Replaces the endpoints; hosts that stay keep their counters and outlier state. */
  setEndpoints(endpoints: readonly Endpoint[]): void {
    const old = new Map(this.hosts.map((h) => [h.key, h]));
    this.hosts = endpoints.map((e) => {
      const key = `${e.host}:${e.port}`;
      const prev = old.get(key);
      return prev && prev.instance === e.instance ? prev : { endpoint: e, key, instance: e.instance, version: e.labels.version ?? 'unknown', active: 0 };
    });
    this.outlier?.setHosts(this.hosts);
  }

  /** Envoy's `connections().canCreate()`. */
  canCreate(): boolean {
    return this.active < this.maxConnections;
  }

  /** The next host not ejected (round robin); undefined = no healthy upstream (UH). */
  pick(): TcpHost | undefined {
    const n = this.hosts.length;
    for (let i = 0; i < n; i++) {
      const h = this.hosts[(this.next + i) % n];
      if (!this.outlier?.isEjected(h)) {
        this.next = (this.next + i + 1) % n;
        return h;
      }
    }
    return undefined;
  }

  connectFailed(host: TcpHost, kind: 'timeout' | 'connect-failed'): void {
    this.outlier?.recordLocal(host, kind);
  }

  connected(host: TcpHost): void {
    this.outlier?.record(host, 200);
  }

  close(): void {
    this.outlier?.close();
  }
}
