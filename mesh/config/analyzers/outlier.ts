/**
 * Outlier detection that can never eject a host. Envoy ejects one more host only if
 * 100*(ejected+1)/N <= maxEjectionPercent, so Istio's default of 10% ejects nothing in a pool of
 * fewer than 10 hosts — a common surprise in small labs (ML0004).
 */
import { Codes, type Message } from '../messages';
import { canonicalHost } from '../hosts';
import { messageAt } from '../schema/validate';
import { effectiveOutlierDetection, envoyMaxEjectionPercent, minHostsForEjection } from '../effective';
import type { DestinationRule, Instance, OutlierDetection } from '../types';
import { selects } from './subsets';
import type { Analyzer } from './types';

function explain(max: number, explicit: boolean, pool: number | undefined, scope: string): string | undefined {
  const src = max <= 0 ? `maxEjectionPercent 0 (Istio leaves it unset: Envoy's default 10%)` : explicit ? `maxEjectionPercent ${max}` : `maxEjectionPercent ${max} (Istio's default)`;
  const need = minHostsForEjection(max);
  if (need <= 1) return undefined;
  if (pool === undefined) {
    return `${scope}: ${src} ejects a host only when the pool has at least ${need} hosts (100*1/N must be <= ${envoyMaxEjectionPercent(max)}); smaller pools never eject. Set maxEjectionPercent: 100 to allow ejecting in small pools.`;
  }
  if (pool === 0 || pool >= need) return undefined;
  const share = Math.round((100 / pool) * 10) / 10;
  return `${scope}: with ${pool} host(s) one ejection is ${share}% of the pool, above ${src}, so outlier detection never ejects; it needs at least ${need} hosts. Set maxEjectionPercent to at least ${Math.ceil(100 / pool)}.`;
}

export const outlierNeverEjects: Analyzer = (resources, ctx) => {
  const out: Message[] = [];
  for (const r of resources) {
    if (r.kind !== 'DestinationRule') continue;
    const dr = r as DestinationRule;
    if (typeof dr.spec?.host !== 'string') continue;
    const host = canonicalHost(dr.spec.host);
    const pool: Instance[] | undefined = ctx.instances?.filter((i) => canonicalHost(i.service) === host);
    const check = (od: OutlierDetection | undefined, path: string, n: number | undefined, scope: string): void => {
      if (!od || typeof od !== 'object') return;
      let eff;
      try {
        eff = effectiveOutlierDetection(od);
      } catch {
        return; // bad durations are reported by schema validation
      }
      if (!eff || typeof eff.maxEjectionPercent !== 'number') return;
      const text = explain(eff.maxEjectionPercent, od.maxEjectionPercent !== undefined, n, scope);
      if (text) {
        const at = od.maxEjectionPercent !== undefined ? `${path}.maxEjectionPercent` : path;
        out.push(messageAt(dr, Codes.OutlierDetectionNeverEjects, at, text));
      }
    };
    const top = dr.spec.trafficPolicy?.outlierDetection;
    check(top, 'spec.trafficPolicy.outlierDetection', pool?.length, `host ${host}`);
    (Array.isArray(dr.spec.subsets) ? dr.spec.subsets : []).forEach((s, i) => {
      if (!s) return;
      const own = s.trafficPolicy?.outlierDetection;
      const n = pool?.filter((inst) => selects(s.labels, inst)).length;
      if (own) check(own, `spec.subsets[${i}].trafficPolicy.outlierDetection`, n, `subset ${s.name}`);
      // A subset inheriting the top-level block has a smaller pool; only knowable with instances.
      else if (top && n !== undefined) check(top, 'spec.trafficPolicy.outlierDetection', n, `subset ${s.name} (inherits the top-level outlierDetection)`);
    });
  }
  return out;
};
