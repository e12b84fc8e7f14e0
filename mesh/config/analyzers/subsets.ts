/**
 * istioctl's destinationrule.SubsetSelectPodAnalyzer: a DestinationRule host no Service or
 * ServiceEntry visible from its namespace defines (IST0174), and subsets whose labels select no pod
 * (IST0173). Istio matches a subset's labels against every pod; meshlab also requires the pod to be
 * selected by the host's Service (merged selector), the pool the subset really draws from.
 * Runs when the registry is known (Service objects, ServiceEntries or the running world).
 */
import { Codes, type Message } from '../messages';
import { messageAt } from '../schema/validate';
import { selectsLabels } from '../kube';
import type { Instance } from '../types';
import type { Analyzer } from './types';
import { buildRegistry, lookupHost } from './registry';
import { asArray, objOf, strMap, strings } from './util';

export function selects(labels: Record<string, string> | undefined, instance: Instance): boolean {
  return Object.entries(labels ?? {}).every(([k, v]) => instance.labels[k] === v);
}

export const subsetsSelectPods: Analyzer = (resources, ctx) => {
  const inv = ctx.inventory!;
  if (!inv.servicesKnown && !resources.some((r) => r.kind === 'ServiceEntry')) return [];
  const registry = buildRegistry(resources, inv);
  const out: Message[] = [];
  for (const dr of resources) {
    if (dr.kind !== 'DestinationRule') continue;
    const spec = objOf(dr.spec);
    if (typeof spec.host !== 'string') continue;
    const entry = lookupHost(registry, dr.metadata.namespace, strings(spec.exportTo), spec.host);
    if (!entry) {
      out.push(messageAt(dr, Codes.UnknownDestinationRuleHost, 'spec.host', `The host ${spec.host} defined in the DestinationRule does not match any services in the mesh.`));
      continue;
    }
    // The pool: pods the host's Service selects (or the ServiceEntry's workloadSelector), else every pod.
    const svc = inv.services.find((s) => s.fqdn === entry.host && !entry.from);
    const base: Record<string, string> | undefined = entry.from ? strMap(objOf(objOf(entry.from.spec).workloadSelector).labels) : svc?.selector;
    const pool = inv.workloads.filter((w) => (svc ? w.namespace === svc.namespace : true) && selectsLabels(base, w.labels));
    // The running world's store knows its declared services before any instance connects: no pod yet is
    // not "no pod matches" (ctx.services without ctx.instances: pods unknown, not absent).
    if (!inv.workloadsKnown && ctx.services) continue;
    asArray(spec.subsets).forEach((s, i) => {
      const sub = objOf(s);
      if (typeof sub.name !== 'string') return;
      const lbls = strMap(sub.labels);
      if (!pool.some((w) => selectsLabels(lbls, w.labels))) {
        out.push(messageAt(dr, Codes.DestinationRuleSubsetNotSelectPods, `spec.subsets[${i}]`, `The Subset ${sub.name} defined in the DestinationRule does not select any pods. Which may lead to 503 UH (NoHealthyUpstream).`));
      }
    });
  }
  return out;
};
