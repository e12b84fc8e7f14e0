import type { EffectiveOutlierDetection } from './config/effective';

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

/** Envoy's cap on one ejection (max_ejection_time default 300 s). */
export const MAX_EJECTION_TIME_MS = 300_000;

interface HostState {
  consecutive5xx: number;
  consecutiveGateway: number;
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
 * Envoy's outlier detection, consecutive-error flavour (what Istio's outlierDetection configures):
 * a host is ejected inline on its Nth consecutive 5xx (or gateway error: 502/503/504), if
 * 100·(ejected+1)/hosts ≤ maxEjectionPercent. An ejection lasts baseEjectionTime × times ejected
 * (capped at 300 s), and hosts return only at interval sweeps. A host that stays in through a
 * sweep at least a base ejection time after its return earns one step of the multiplier back.
 * Locally originated failures arrive as 503 (connect failure/reset) or 504 (timeout).
 */
export class OutlierDetector<H> {
  private readonly state = new Map<H, HostState>();
  private ejectedCount = 0;
  private timer: unknown;
  /** Bumped whenever the ejected set changes, so callers can cache their healthy list. */
  generation = 0;

  constructor(
    readonly config: EffectiveOutlierDetection,
    private readonly clock: Clock = realClock,
    private readonly events: OutlierEvents<H> = {},
  ) {
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
    for (const h of hosts) if (!this.state.has(h)) this.state.set(h, { consecutive5xx: 0, consecutiveGateway: 0, ejected: false, ejectedAt: 0, multiplier: 0, ejections: 0 });
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

  /** One response (or local failure mapped to 503/504) from `host`. */
  record(host: H, status: number): void {
    const s = this.state.get(host);
    if (!s) return;
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
    if ((consecutive5xxErrors > 0 && s.consecutive5xx >= consecutive5xxErrors) || (consecutiveGatewayErrors > 0 && gateway && s.consecutiveGateway >= consecutiveGatewayErrors)) {
      // Envoy resets the counters whether or not the ejection is allowed.
      s.consecutive5xx = 0;
      s.consecutiveGateway = 0;
      this.tryEject(host, s);
    }
  }

  private tryEject(host: H, s: HostState): void {
    const n = this.state.size;
    if (n === 0 || Math.min(100, (100 * (this.ejectedCount + 1)) / n) > this.config.maxEjectionPercent) return;
    s.ejected = true;
    s.ejectedAt = this.clock.now();
    if (this.config.baseEjectionTimeMs * s.multiplier < MAX_EJECTION_TIME_MS) s.multiplier++;
    s.ejections++;
    this.ejectedCount++;
    this.generation++;
    this.events.onEject?.(host);
  }

  /** The interval timer: return hosts whose ejection time is up; decay multipliers of hosts that stayed healthy. */
  sweep(): void {
    const now = this.clock.now();
    const base = this.config.baseEjectionTimeMs;
    for (const [host, s] of this.state) {
      if (!s.ejected) {
        if (s.multiplier > 0 && s.unejectedAt !== undefined && now - s.unejectedAt >= base) {
          s.multiplier--;
          s.unejectedAt = now;
        }
        continue;
      }
      if (now - s.ejectedAt >= Math.min(base * s.multiplier, MAX_EJECTION_TIME_MS)) {
        s.ejected = false;
        s.unejectedAt = now;
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
