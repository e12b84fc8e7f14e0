/**
 * The HTTP filters one listener runs, rebuilt from each config push: the EnvoyFilter local rate limits and
 * the RequestAuthentications that select this workload (from its own namespace or the root namespace
 * `istio-system`, selector/workloadSelector on its labels; an EnvoyFilter's `match.context` must be this
 * listener's, SIDECAR_INBOUND or GATEWAY). A filter whose config did not change is kept as it is — a push
 * of endpoints must not refill a token bucket.
 */
import type { MeshResource } from '../config/types';
import { ROOT_NAMESPACE } from '../config/hosts';
import { HttpFilterChain, type HttpFilter } from './chain';
import { LocalRateLimitFilter, type LocalRateLimitCounters, type NowClock } from './local-ratelimit';
import { JwtAuthnFilter, type JwtRule } from './jwt-authn';
import { readEnvoyFilter } from './envoy-filter';

export interface FilterWorkload {
  labels: Record<string, string>;
  namespace: string;
  context: 'SIDECAR_INBOUND' | 'GATEWAY';
}

function labelsMatch(want: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(want ?? {})) if (labels[k] !== v) return false;
  return true;
}

export class FilterSet {
  private rateLimit?: { key: string; filter: LocalRateLimitFilter };
  private jwt?: { key: string; filter: JwtAuthnFilter };
  private current?: HttpFilterChain;
  /** Counts of filters replaced by a config change, so the totals only grow (as Envoy's stats do). */
  private readonly retiredRateLimit = new Map<string, LocalRateLimitCounters>();
  private readonly retiredJwt = { allowed: 0, denied: 0 };

  /** `first`: filters of the listener itself that run ahead of the configured ones (the gateway's edge). */
  constructor(private readonly workload: FilterWorkload, private readonly first: readonly HttpFilter[] = [], private readonly clock?: NowClock) {
    this.rebuild();
  }

  get rateLimiter(): LocalRateLimitFilter | undefined {
    return this.rateLimit?.filter;
  }

  get jwtAuthn(): JwtAuthnFilter | undefined {
    return this.jwt?.filter;
  }

  chain(): HttpFilterChain | undefined {
    return this.current;
  }

  /** Applies the pushed resources (validated by the control plane; a problem left here throws, and the push is NACKed). */
  update(resources: readonly MeshResource[]): void {
    const { labels, namespace, context } = this.workload;
    const mine = (r: MeshResource): boolean => r.metadata.namespace === ROOT_NAMESPACE || r.metadata.namespace === namespace;
    let rl: typeof this.rateLimit;
    for (const r of resources) {
      if (r.kind !== ('EnvoyFilter' as MeshResource['kind']) || !mine(r)) continue;
      const { filter, problems } = readEnvoyFilter(r.spec);
      if (!filter) throw new Error(`EnvoyFilter ${r.metadata.namespace}/${r.metadata.name}: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`);
      if (filter.context !== context || !labelsMatch(filter.workloadLabels, labels)) continue;
      const key = JSON.stringify(filter.rateLimit);
      // One local rate limit per listener: the first EnvoyFilter (by namespace/name, as the store lists them) wins.
      rl ??= this.rateLimit?.key === key ? this.rateLimit : { key, filter: new LocalRateLimitFilter(filter.rateLimit, this.clock) };
    }
    const rules: JwtRule[] = [];
    for (const r of resources) {
      if (r.kind !== ('RequestAuthentication' as MeshResource['kind']) || !mine(r)) continue;
      const spec = r.spec as { selector?: { matchLabels?: Record<string, string> }; jwtRules?: JwtRule[] };
      if (!labelsMatch(spec.selector?.matchLabels, labels)) continue;
      rules.push(...(spec.jwtRules ?? []));
    }
    const jwtKey = JSON.stringify(rules);
    const jwt = rules.length === 0 ? undefined : this.jwt?.key === jwtKey ? this.jwt : { key: jwtKey, filter: new JwtAuthnFilter(rules) };
    if (this.rateLimit && this.rateLimit !== rl) {
      const f = this.rateLimit.filter;
      const sum = this.retiredRateLimit.get(f.spec.statPrefix) ?? { enabled: 0, enforced: 0, rateLimited: 0, ok: 0 };
      for (const k of Object.keys(sum) as (keyof LocalRateLimitCounters)[]) sum[k] += f.counters[k];
      this.retiredRateLimit.set(f.spec.statPrefix, sum);
    }
    if (this.jwt && this.jwt !== jwt) {
      this.retiredJwt.allowed += this.jwt.filter.counters.allowed;
      this.retiredJwt.denied += this.jwt.filter.counters.denied;
    }
    this.rateLimit = rl;
    this.jwt = jwt;
    this.rebuild();
  }

  /** Local rate limit counts by stat_prefix, those of replaced filters included. */
  rateLimitTotals(): Map<string, LocalRateLimitCounters> {
    const out = new Map([...this.retiredRateLimit].map(([k, v]) => [k, { ...v }]));
    const f = this.rateLimit?.filter;
    if (f) {
      const sum = out.get(f.spec.statPrefix) ?? { enabled: 0, enforced: 0, rateLimited: 0, ok: 0 };
      for (const k of Object.keys(sum) as (keyof LocalRateLimitCounters)[]) sum[k] += f.counters[k];
      out.set(f.spec.statPrefix, sum);
    }
    return out;
  }

  /** jwt_authn counts, those of replaced filters included. */
  jwtTotals(): { allowed: number; denied: number } {
    const c = this.jwt?.filter.counters;
    return { allowed: this.retiredJwt.allowed + (c?.allowed ?? 0), denied: this.retiredJwt.denied + (c?.denied ?? 0) };
  }

  private rebuild(): void {
    const filters: HttpFilter[] = [...this.first];
    if (this.rateLimit) filters.push(this.rateLimit.filter);
    if (this.jwt) filters.push(this.jwt.filter);
    this.current = filters.length > 0 ? new HttpFilterChain(filters) : undefined;
  }
}
