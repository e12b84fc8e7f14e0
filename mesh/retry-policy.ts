import type { EffectiveRetry } from './config/effective';
import type { Rng } from './rng';
import type { ResetReason } from './response-flags';

/**
 * retryOn tokens Istio accepts (Envoy's x-envoy-retry-on and x-envoy-retry-grpc-on values). The gRPC
 * ones and refused-stream (an HTTP/2 signal) are accepted but never fire on this HTTP/1.1 mesh.
 */
export const RETRY_ON_TOKENS = new Set([
  '5xx',
  'gateway-error',
  'reset',
  'reset-before-request',
  'connect-failure',
  'envoy-ratelimited',
  'retriable-4xx',
  'refused-stream',
  'retriable-status-codes',
  'retriable-headers',
  'http3-post-connect-failure',
  'cancelled',
  'deadline-exceeded',
  'internal',
  'resource-exhausted',
  'unavailable',
]);

/**
 * How an attempt ended when it did not produce a relayable response. A connect failure or reset carries Envoy's
 * reset reason and transport failure reason when the attempt knows them (flag, details and body are derived from them).
 */
export type AttemptOutcome =
  | { kind: 'status'; status: number }
  | { kind: 'connect-failure'; reason?: ResetReason; transportFailure?: string }
  | { kind: 'reset'; reason?: ResetReason }
  | { kind: 'timeout' };

export class RetryConfigError extends Error {}

/** A route's retry policy, parsed once at config time into bit tests. */
export class RetryPolicy {
  readonly numRetries: number;
  readonly perTryTimeoutMs: number;
  /** Envoy's retry_back_off.base_interval (Istio's retries.backoff); the max interval is 10× it. */
  backoffBaseMs = BACKOFF_BASE_MS;
  /** Envoy's previous_hosts retry predicate: a retry prefers a host this request has not tried. */
  ignorePreviousHosts = true;
  private readonly on5xx: boolean;
  private readonly onGateway: boolean;
  private readonly onReset: boolean;
  private readonly onConnect: boolean;
  private readonly on4xx: boolean;
  private readonly codes: ReadonlySet<number>;

  constructor(tokens: readonly string[], codes: readonly number[], numRetries: number, perTryTimeoutMs = 0) {
    for (const t of tokens) {
      if (!RETRY_ON_TOKENS.has(t)) throw new RetryConfigError(`unknown retryOn token "${t}": use a comma-separated list of ${[...RETRY_ON_TOKENS].join(', ')} or HTTP status codes (e.g. "503")`);
    }
    for (const c of codes) if (c < 100 || c > 599) throw new RetryConfigError(`retryOn status code ${c} is not an HTTP status (100-599)`);
    this.numRetries = numRetries;
    this.perTryTimeoutMs = perTryTimeoutMs;
    this.on5xx = tokens.includes('5xx');
    this.onGateway = tokens.includes('gateway-error');
    this.onReset = tokens.includes('reset');
    this.onConnect = tokens.includes('connect-failure');
    this.on4xx = tokens.includes('retriable-4xx');
    this.codes = new Set(tokens.includes('retriable-status-codes') ? codes : []);
  }

  /**
   * From the config helper's effective view; `defaultRoute` applies Istio ≥ 1.24's default (no status codes). Without
   * `perTryTimeout` there is no per-try timeout: Istio emits per_try_timeout only when set (route/retry/retry.go), so
   * each attempt is bounded by what is left of the route timeout alone ("same as the route's", as Istio documents it).
   */
  static fromEffective(r: EffectiveRetry, defaultPolicy: boolean): RetryPolicy {
    const codes = defaultPolicy ? [] : r.retriableStatusCodes;
    const p = new RetryPolicy(r.retryOn, codes, r.attempts, r.perTryTimeoutMs ?? 0);
    if (r.backoffMs !== undefined) p.backoffBaseMs = r.backoffMs;
    if (r.retryIgnorePreviousHosts !== undefined) p.ignorePreviousHosts = r.retryIgnorePreviousHosts;
    return p;
  }

  /** Whether a response status would be retried (decided before anything reaches the client). */
  retriableStatus(status: number): boolean {
    if (this.numRetries <= 0) return false;
    if (this.on5xx && status >= 500) return true;
    if (this.onGateway && (status === 502 || status === 503 || status === 504)) return true;
    if (this.on4xx && status === 409) return true;
    return this.codes.has(status);
  }

  /** Whether an attempt's outcome is retriable under this policy (attempt budget aside). */
  retriable(o: AttemptOutcome): boolean {
    switch (o.kind) {
      case 'status':
        return this.retriableStatus(o.status);
      case 'connect-failure':
        return this.onConnect || this.on5xx || this.onGateway || this.onReset;
      case 'reset':
        return this.on5xx || this.onGateway || this.onReset;
      case 'timeout':
        // A per-try timeout is a 504 that never arrived.
        return this.on5xx || this.onGateway || this.onReset;
    }
  }
}

/** Envoy's router retry back-off: base 25 ms, max 10 × base (250 ms). */
export const BACKOFF_BASE_MS = 25;
export const BACKOFF_MAX_MS = 250;

/**
 * Envoy's JitteredExponentialBackOffStrategy (backoff_strategy.cc): the interval starts at `base` and doubles
 * per retry until it would pass max (10 × base), then stays at max; each wait is uniform in [0, interval).
 * Retry n (1-based) with base 25 ms: [0, 25), [0, 50), [0, 100), [0, 200), then [0, 250).
 */
export function backoffMs(retry: number, rng: Rng, base = BACKOFF_BASE_MS): number {
  const max = 10 * base;
  let interval = base;
  for (let i = 1; i < retry; i++) interval = interval > max / 2 ? max : interval * 2;
  return Math.min(Math.floor(rng() * interval), max);
}
