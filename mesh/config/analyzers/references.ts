/**
 * References from VirtualServices to destinations: a subset no DestinationRule defines
 * (IST0101), and — when the set of services is known — a host that does not exist (IST0101).
 */
import { Codes, type Message } from '../messages';
import { canonicalHost } from '../hosts';
import { messageAt } from '../schema/validate';
import type { DestinationRule, Destination, VirtualService } from '../types';
import type { Analyzer } from './types';

export const destinationReferences: Analyzer = (resources, ctx) => {
  const known = ctx.instances ? new Set(ctx.instances.map((i) => canonicalHost(i.service))) : undefined;
  // host -> subset names defined by any DestinationRule for it (conflicting DRs are ML0005's job).
  const subsets = new Map<string, Set<string>>();
  for (const r of resources) {
    if (r.kind !== 'DestinationRule') continue;
    const dr = r as DestinationRule;
    if (typeof dr.spec?.host !== 'string') continue;
    const host = canonicalHost(dr.spec.host);
    const set = subsets.get(host) ?? new Set<string>();
    for (const s of dr.spec.subsets ?? []) if (s && typeof s.name === 'string') set.add(s.name);
    subsets.set(host, set);
  }
  const out: Message[] = [];
  const check = (vs: VirtualService, d: Destination | undefined, path: string): void => {
    if (!d || typeof d.host !== 'string') return;
    const host = canonicalHost(d.host);
    if (known && !known.has(host)) {
      out.push(messageAt(vs, Codes.ReferencedResourceNotFound, `${path}.host`, `Referenced host not found: ${JSON.stringify(d.host)}`));
    }
    if (typeof d.subset === 'string') {
      if (!subsets.get(host)?.has(d.subset)) {
        out.push(messageAt(vs, Codes.ReferencedResourceNotFound, `${path}.subset`, `Referenced host+subset in destinationrule not found: ${JSON.stringify(`${host}+${d.subset}`)}`));
      }
    }
  };
  for (const r of resources) {
    if (r.kind !== 'VirtualService') continue;
    const vs = r as VirtualService;
    (Array.isArray(vs.spec?.http) ? vs.spec.http : []).forEach((rule, i) => {
      (Array.isArray(rule?.route) ? rule.route : []).forEach((rd, j) => check(vs, rd?.destination, `spec.http[${i}].route[${j}].destination`));
      check(vs, rule?.mirror, `spec.http[${i}].mirror`);
    });
  }
  return out;
};
