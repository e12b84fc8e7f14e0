/**
 * Envoy's envoy.filters.http.local_ratelimit (one token bucket for the listener's HTTP connection manager),
 * configured the way Istio's "Enabling Rate Limits using Envoy" task does it with an EnvoyFilter. Token
 * bucket: it starts full with `max_tokens`; every `fill_interval` adds `tokens_per_fill`, never above
 * `max_tokens`; a request takes one token or, with none left, is rate limited. Fills are counted from the
 * injectable clock when a request arrives (whole intervals since the last fill), which is what Envoy's
 * timer-driven fill gives at each request. `filter_enabled` (fractional percent) decides whether a request is
 * checked at all, `filter_enforced` whether a limited request is refused (429, flag RL, body
 * `local_rate_limited`, `x-envoy-ratelimited: true` and `response_headers_to_add`) or only counted. Envoy's stats
 * (enabled, enforced, rate_limited, ok) are `counters`, on /metrics through filters/metrics.ts.
 */
import type { IncomingMessage } from 'node:http';
import type { StreamInfo } from '../stream-info';
import { Details, Flags } from '../response-flags';
import type { FilterResult, HttpFilter } from './chain';
import type { Rng } from '../rng';

export interface TokenBucketSpec {
  maxTokens: number;
  tokensPerFill: number;
  fillIntervalMs: number;
}

export interface LocalRateLimitSpec {
  statPrefix: string;
  tokenBucket: TokenBucketSpec;
  /** Percent of requests checked (filter_enabled.default_value); Envoy's default when absent is 0 … but Istio's task always sets 100. */
  enabledPercent: number;
  /** Percent of limited requests refused (filter_enforced.default_value). */
  enforcedPercent: number;
  responseHeaders: Record<string, string>;
}

export interface NowClock {
  now(): number;
}

/** A token bucket on an injectable clock. */
export class TokenBucket {
  private tokens: number;
  private lastFill: number;

  constructor(private readonly spec: TokenBucketSpec, private readonly clock: NowClock = Date) {
    this.tokens = spec.maxTokens;
    this.lastFill = clock.now();
  }

  /** Takes one token if there is one. */
  consume(): boolean {
    const now = this.clock.now();
    const fills = Math.floor((now - this.lastFill) / this.spec.fillIntervalMs);
    if (fills > 0) {
      this.tokens = Math.min(this.spec.maxTokens, this.tokens + fills * this.spec.tokensPerFill);
      this.lastFill += fills * this.spec.fillIntervalMs;
    }
    if (this.tokens < 1) return false;
    this.tokens--;
    return true;
  }

  get remaining(): number {
    return this.tokens;
  }
}

export interface LocalRateLimitCounters {
  enabled: number;
  enforced: number;
  rateLimited: number;
  ok: number;
}

export class LocalRateLimitFilter implements HttpFilter {
  readonly bucket: TokenBucket;
  readonly counters: LocalRateLimitCounters = { enabled: 0, enforced: 0, rateLimited: 0, ok: 0 };

  /** Envoy sets x-envoy-ratelimited on its 429, then the configured response_headers_to_add. */
  private readonly refusal: Record<string, string>;

  constructor(readonly spec: LocalRateLimitSpec, clock: NowClock = Date, private readonly rng: Rng = Math.random) {
    this.bucket = new TokenBucket(spec.tokenBucket, clock);
    this.refusal = { 'x-envoy-ratelimited': 'true', ...spec.responseHeaders };
  }

  decodeHeaders(_req: IncomingMessage, info: StreamInfo): FilterResult {
    if (!this.sample(this.spec.enabledPercent)) return undefined;
    this.counters.enabled++;
    if (this.bucket.consume()) {
      this.counters.ok++;
      return undefined;
    }
    this.counters.rateLimited++;
    if (!this.sample(this.spec.enforcedPercent)) return undefined;
    this.counters.enforced++;
    info.responseCodeDetails = Details.localRateLimited;
    return { status: 429, flag: Flags.RL, body: 'local_rate_limited', headers: this.refusal };
  }

  private sample(percent: number): boolean {
    return percent >= 100 || (percent > 0 && this.rng() * 100 < percent);
  }
}
