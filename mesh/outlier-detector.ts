import { envoyMaxEjectionPercent, type EffectiveOutlierDetection } from './config/effective';

/** Time and timers, injectable so tests drive the detector exactly without sleeping. */
export interface Clock {
  now(): number;
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

export const realClock: Clock = {
  now: () => Date.now(),
  setInterval: (fn, ms) => {
    const t = setInterval(fn, ms);
    t.unref();
    return t;
  },
  clearInterval: (h) => clearInterval(h as NodeJS.Timeout),
};

/** Envoy's max_ejection_time default (300 s); the cap is max(300 s, baseEjectionTime), as Envoy documents. */
export const MAX_EJECTION_TIME_MS = 300_000;
/** Envoy's consecutive_local_origin_failure default, used when splitExternalLocalOriginErrors is on without a count. */
export const ENVOY_CONSECUTIVE_LOCAL_ORIGIN_FAILURE = 5;

/** A failure Envoy itself saw (no response from the host): Outlier::Result LocalOriginTimeout / LocalOriginConnectFailed. */
export type LocalOrigin = 'timeout' | 'connect-failed';

/** Istio's effective block; the local-origin fields may be absent (off). */
export type OutlierConfig = EffectiveOutlierDetection;

interface HostState {
  consecutive5xx: number;
  consecutiveGateway: number;
  consecutiveLocalOrigin: number;
  ejected: boolean;
  ejectedAt: number;
  /** Multiplier of baseEjectionTime for the current/next ejection (Envoy's eject time backoff). */
  multiplier: number;
  /** Times ejected in total (metrics, admin). */
  ejections: number;
  unejectedAt?: number;
}

export interface OutlierEvents<H> {
  onEject?(host: H): void;
  onUneject?(host: H): void;
}

/**
 * Envoy's outlier detection, consecutive-error flavour (what Istio's outlierDetection configures;
 * outlier_detection_impl.cc): a host is ejected inline on its Nth consecutive 5xx (or gateway error:
 * 502/503/504), if 100·(ejected+1)/hosts ≤ maxEjectionPercent (Istio leaves 0 unset: Envoy's 10). Only the
 * counter that fired is reset. An ejection lasts min(baseEjectionTime × backoff, max(300 s, base)); the backoff
 * grows while backoff·base < max + base. Hosts return only at interval sweeps, with all their counters reset; a
 * host back for at least `interval` loses one step of backoff per sweep.
 * Locally originated failures (connect failure, reset, per-try or route timeout) count as 503/504 unless
 * splitExternalLocalOriginErrors, when they count only towards consecutiveLocalOriginFailures and a request that
 * reached the host resets that count (Envoy's LocalOriginConnectSuccess).
 */
export class OutlierDetector<H> {
  private readonly state = new Map<H, HostState>();
  private ejectedCount = 0;
  private timer: unknown;
  private readonly maxEjectionPercent: number;
  private readonly maxEjectionTimeMs: number;
  readonly split: boolean;
  private readonly localOriginThreshold: number;
  /** Bumped whenever the ejected set changes, so callers can cache their healthy list. */
  generation = 0;

  constructor(
    readonly config: OutlierConfig,
    private readonly clock: Clock = realClock,
    private readonly events: OutlierEvents<H> = {},
  ) {
    this.maxEjectionPercent = envoyMaxEjectionPercent(config.maxEjectionPercent);
    this.maxEjectionTimeMs = Math.max(MAX_EJECTION_TIME_MS, config.baseEjectionTimeMs);
    this.split = config.splitExternalLocalOriginErrors === true;
    this.localOriginThreshold = this.split ? config.consecutiveLocalOriginFailures || ENVOY_CONSECUTIVE_LOCAL_ORIGIN_FAILURE : 0;
    this.timer = clock.setInterval(() => this.sweep(), config.intervalMs);
  }

  /** The cluster's host set changed: forget hosts that left, keep state of those that stay. */
  setHosts(hosts: readonly H[]): void {
    const keep = new Set(hosts);
    for (const [h, s] of this.state) {
      if (keep.has(h)) continue;
      if (s.ejected) this.ejectedCount--;
      this.state.delete(h);
      this.generation++;
    }
    for (const h of hosts) if (!this.state.has(h)) this.state.set(h, { consecutive5xx: 0, consecutiveGateway: 0, consecutiveLocalOrigin: 0, ejected: false, ejectedAt: 0, multiplier: 0, ejections: 0 });
  }

  isEjected(host: H): boolean {
    return this.state.get(host)?.ejected ?? false;
  }

  get ejected(): number {
    return this.ejectedCount;
  }

  ejectionsOf(host: H): number {
    return this.state.get(host)?.ejections ?? 0;
  }

  /** The current backoff multiplier of `host` (tests, admin). */
  backoffOf(host: H): number {
    return this.state.get(host)?.multiplier ?? 0;
  }

  /** One response status from `host` (external origin). */
  record(host: H, status: number): void {
    const s = this.state.get(host);
    if (!s) return;
    if (this.split) s.consecutiveLocalOrigin = 0; // the host was reached: LocalOriginConnectSuccess
    if (status < 500) {
      s.consecutive5xx = 0;
      s.consecutiveGateway = 0;
      return;
    }
    const { consecutive5xxErrors, consecutiveGatewayErrors } = this.config;
    s.consecutive5xx++;
    const gateway = status === 502 || status === 503 || status === 504;
    if (gateway) s.consecutiveGateway++;
    else s.consecutiveGateway = 0;
    if (s.ejected) return;
    // Both detectors see every response (gateway first, as Envoy); each resets its own counter when it fires,
    // whether or not the ejection is allowed.
    if (consecutiveGatewayErrors > 0 && gateway && s.consecutiveGateway >= consecutiveGatewayErrors) {
      s.consecutiveGateway = 0;
      this.tryEject(host, s);
    }
    if (!s.ejected && consecutive5xxErrors > 0 && s.consecutive5xx >= consecutive5xxErrors) {
      s.consecutive5xx = 0;
      this.tryEject(host, s);
    }
  }

  /** A locally originated failure: 504 (timeout) or 503 (connect failure, reset) unless split. */
  recordLocal(host: H, kind: LocalOrigin): void {
    if (!this.split) return this.record(host, kind === 'timeout' ? 504 : 503);
    const s = this.state.get(host);
    if (!s) return;
    s.consecutiveLocalOrigin++;
    if (s.ejected || s.consecutiveLocalOrigin < this.localOriginThreshold) return;
    s.consecutiveLocalOrigin = 0;
    this.tryEject(host, s);
  }

  private tryEject(host: H, s: HostState): void {
    const n = this.state.size;
    if (n === 0 || (100 * (this.ejectedCount + 1)) / n > this.maxEjectionPercent) return;
    s.ejected = true;
    s.ejectedAt = this.clock.now();
    if (this.config.baseEjectionTimeMs * s.multiplier < this.maxEjectionTimeMs + this.config.baseEjectionTimeMs) s.multiplier++;
    s.ejections++;
    this.ejectedCount++;
    this.generation++;
    this.events.onEject?.(host);
  }

  /** The interval timer: return hosts whose ejection time is up; decay the backoff of hosts back for an interval. */
  sweep(): void {
    const now = this.clock.now();
    const base = this.config.baseEjectionTimeMs;
    for (const [host, s] of this.state) {
      if (!s.ejected) {
        if (s.multiplier > 0 && s.unejectedAt !== undefined && now - s.unejectedAt >= this.config.intervalMs) s.multiplier--;
        continue;
      }
      if (now - s.ejectedAt >= Math.min(base * s.multiplier, this.maxEjectionTimeMs)) {
        s.ejected = false;
        s.unejectedAt = now;
        // Envoy resets every counter on return, so a host is not re-ejected by a few errors on top of old ones.
        s.consecutive5xx = 0;
        s.consecutiveGateway = 0;
        s.consecutiveLocalOrigin = 0;
        this.ejectedCount--;
        this.generation++;
        this.events.onUneject?.(host);
      }
    }
  }

  close(): void {
    this.clock.clearInterval(this.timer);
  }
}
