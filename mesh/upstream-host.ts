import { UpstreamPool, type UpstreamPoolOptions } from './http1/upstream-pool';
import type { Endpoint } from './xds';
import type { EffectiveConnectionPool } from './config/effective';
import { CONNECTION_POOL_DEFAULTS, UNLIMITED } from './config/defaults';
import type { UpstreamTransport } from './upstream-tls';

/**
 * Pool options (mesh/http1/upstream-pool, undici's names) for a DestinationRule connection pool: maxConnections caps connections per
 * endpoint (the cluster-wide cap is the circuit breaker's), maxRequestsPerConnection recycles
 * connections, idleTimeout closes idle keep-alive connections. This is the one place upstream
 * connections are configured: with an mTLS transport its connector makes every connection (one handshake per
 * connection; keep-alive reuses it), and the connect timeout is the connector's.
 */
export function poolOptionsFor(cp: EffectiveConnectionPool | undefined, transport?: UpstreamTransport): UpstreamPoolOptions {
  // Envoy's upstream idle_timeout (Istio's idleTimeout, default 1 h) of any length: undici's keepAliveTimeout, with
  // keepAliveMaxTimeout raised to match (undici caps at 10 min otherwise). Unlike Envoy, a shorter Keep-Alive hint
  // from the server is honoured, so the sidecar drops a connection before the app closes it under a request.
  const idle = cp?.idleTimeoutMs || CONNECTION_POOL_DEFAULTS.idleTimeoutMs;
  const opts: UpstreamPoolOptions = { keepAliveTimeout: idle, keepAliveMaxTimeout: idle };
  if (transport) opts.connect = transport.connect;
  if (!cp) return opts;
  if (cp.maxConnections < UNLIMITED) opts.connections = cp.maxConnections;
  if (cp.maxRequestsPerConnection > 0) opts.maxRequestsPerClient = cp.maxRequestsPerConnection;
  if (cp.connectTimeoutMs) opts.connectTimeout = cp.connectTimeoutMs;
  return opts;
}

/**
 * One upstream endpoint as a cluster sees it: its address and labels, a keep-alive connection pool,
 * and the live counters that load balancing and outlier detection read.
 */
export class UpstreamHost {
  readonly endpoint: Endpoint;
  readonly key: string;
  readonly pool: UpstreamPool;
  activeRequests = 0;
  closed = false;

  constructor(
    endpoint: Endpoint,
    poolOptions: UpstreamPoolOptions = {},
    /** Identity of the pool settings, so a new cluster version adopts only pools configured the same way. */
    readonly poolKey = '{}',
    /** The peer's verified SPIFFE id when this host is reached over mTLS (destination_principal). */
    readonly peerPrincipal?: string,
  ) {
    this.endpoint = endpoint;
    this.key = `${endpoint.host}:${endpoint.port}`;
    this.pool = new UpstreamPool(`http://${this.key}`, { connections: null, keepAliveTimeout: 60_000, keepAliveMaxTimeout: 600_000, ...poolOptions });
  }

  get instance(): string {
    return this.endpoint.instance;
  }

  /** The namespace of the host's service. */
  get namespace(): string {
    return this.endpoint.namespace ?? 'default';
  }

  get version(): string {
    return this.endpoint.labels.version ?? 'unknown';
  }

  /** Closes idle connections now and the rest once their requests finish. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.pool.close().catch(() => undefined);
  }
}
