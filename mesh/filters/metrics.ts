/**
 * The HTTP filters' own counters in Prometheus form, after Envoy's stats: http_local_rate_limit.<stat_prefix>.
 * {enabled, enforced, rate_limited, ok} as meshlab_local_rate_limit_total{listener, stat_prefix, outcome}, and
 * jwt_authn's allowed/denied as meshlab_jwt_authn_total{listener, outcome}. Read from the filters when scraped.
 */
import { Counter, type Registry } from '../prom';
import type { FilterSet } from './filter-set';

export function registerFilterMetrics(registry: Registry, sets: () => Array<[listener: string, set: FilterSet]>): void {
  new Counter({
    name: 'meshlab_local_rate_limit_total',
    help: "Envoy's local rate limit stats (http_local_rate_limit.<stat_prefix>.*): requests checked (enabled), over the limit (rate_limited), refused (enforced), let through (ok).",
    labelNames: ['listener', 'stat_prefix', 'outcome'],
    registers: [registry],
    collect(this: Counter<'listener' | 'stat_prefix' | 'outcome'>) {
      this.reset();
      for (const [listener, set] of sets()) {
        for (const [prefix, c] of set.rateLimitTotals()) {
          for (const [outcome, v] of [['enabled', c.enabled], ['enforced', c.enforced], ['rate_limited', c.rateLimited], ['ok', c.ok]] as const) this.inc({ listener, stat_prefix: prefix, outcome }, v);
        }
      }
    },
  });
  new Counter({
    name: 'meshlab_jwt_authn_total',
    help: "RequestAuthentication's jwt_authn: requests with a token it accepted (allowed) or answered 401 (denied).",
    labelNames: ['listener', 'outcome'],
    registers: [registry],
    collect(this: Counter<'listener' | 'outcome'>) {
      this.reset();
      for (const [listener, set] of sets()) {
        const c = set.jwtTotals();
        this.inc({ listener, outcome: 'allowed' }, c.allowed);
        this.inc({ listener, outcome: 'denied' }, c.denied);
      }
    },
  });
}
