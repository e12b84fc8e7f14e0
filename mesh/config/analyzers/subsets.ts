/** A DestinationRule subset whose labels select no running instance (IST0173). Needs ctx.instances. */
import { Codes, type Message } from '../messages';
import { canonicalHost } from '../hosts';
import { messageAt } from '../schema/validate';
import type { DestinationRule, Instance } from '../types';
import type { Analyzer } from './types';

export function selects(labels: Record<string, string> | undefined, instance: Instance): boolean {
  return Object.entries(labels ?? {}).every(([k, v]) => instance.labels[k] === v);
}

export const subsetsSelectPods: Analyzer = (resources, ctx) => {
  if (!ctx.instances) return [];
  const out: Message[] = [];
  for (const r of resources) {
    if (r.kind !== 'DestinationRule') continue;
    const dr = r as DestinationRule;
    if (typeof dr.spec?.host !== 'string' || !Array.isArray(dr.spec.subsets)) continue;
    const host = canonicalHost(dr.spec.host);
    const pool = ctx.instances.filter((i) => canonicalHost(i.service) === host);
    dr.spec.subsets.forEach((s, i) => {
      if (!s || typeof s.name !== 'string') return;
      if (!pool.some((inst) => selects(s.labels, inst))) {
        out.push(
          messageAt(dr, Codes.DestinationRuleSubsetNotSelectPods, `spec.subsets[${i}]`, `The Subset ${s.name} defined in the DestinationRule does not select any pods. Which may lead to 503 UH (NoHealthyUpstream).`),
        );
      }
    });
  }
  return out;
};
