/**
 * The values Istio (and Envoy underneath) use when a field is left out. Kept in one place so the
 * sidecar, the analyzer and the docs agree.
 */

/** Istio's default retry policy when a route has no `retries` block. */
export const DEFAULT_RETRY = {
  attempts: 2,
  retryOn: ['connect-failure', 'refused-stream', 'unavailable', 'cancelled', 'retriable-status-codes'],
  // Istio ≥ 1.24 no longer adds 503 to the default retriable status codes: an app's 503 is not retried.
  retriableStatusCodes: [],
} as const;

/** OutlierDetection defaults once the block is present (Istio docs / Envoy cluster defaults). */
export const OUTLIER_DEFAULTS = {
  consecutive5xxErrors: 5,
  consecutiveGatewayErrors: 0, // 0 = gateway-error ejection off
  intervalMs: 10_000,
  baseEjectionTimeMs: 30_000,
  maxEjectionPercent: 10,
  minHealthPercent: 0, // Istio sets Envoy's panic threshold to this; 0 disables panic mode
} as const;

/** "Unlimited" as Istio configures Envoy circuit breakers (max uint32). */
export const UNLIMITED = 4_294_967_295;

export const CONNECTION_POOL_DEFAULTS = {
  maxConnections: UNLIMITED,
  connectTimeoutMs: 10_000,
  http1MaxPendingRequests: UNLIMITED,
  http2MaxRequests: UNLIMITED,
  maxRequestsPerConnection: 0, // 0 = no limit
  maxRetries: UNLIMITED,
  idleTimeoutMs: 3_600_000, // Envoy's upstream idle timeout (1h)
} as const;

/** Istio's default load-balancing algorithm. */
export const DEFAULT_LB = 'LEAST_REQUEST' as const;

/** Envoy's default ring size for ring-hash load balancing. */
export const DEFAULT_MIN_RING_SIZE = 1024;
