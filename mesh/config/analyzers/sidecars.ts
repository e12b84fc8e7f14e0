/**
 * istioctl's sidecar.SelectorAnalyzer: a Sidecar whose workloadSelector matches no pod in its
 * namespace (IST0101), several Sidecars selecting one pod (IST0110), several selector-less Sidecars
 * in one namespace (IST0111), and Sidecars with no effect on ambient workloads/namespaces (IST0167).
 */
import { Codes, type Message } from '../messages';
import { messageAt } from '../schema/validate';
import { selectsLabels, type WorkloadInfo } from '../kube';
import type { MeshResource } from '../types';
import type { Analyzer } from './types';
import { fullName, objOf, selectorString, strMap } from './util';

export const sidecarSelectors: Analyzer = (resources, ctx) => {
  const inv = ctx.inventory!;
  const out: Message[] = [];
  const podsToSidecars = new Map<string, { pod: WorkloadInfo; list: MeshResource[] }>();
  const nsToSidecars = new Map<string, MeshResource[]>();
  for (const sc of resources) {
    if (sc.kind !== 'Sidecar') continue;
    const sel = strMap(objOf(objOf(sc.spec).workloadSelector).labels);
    if (Object.keys(sel).length === 0) {
      nsToSidecars.set(sc.metadata.namespace, [...(nsToSidecars.get(sc.metadata.namespace) ?? []), sc]);
      continue;
    }
    let found = false;
    for (const pod of inv.workloads) {
      if (pod.namespace !== sc.metadata.namespace || !selectsLabels(sel, pod.labels)) continue;
      found = true;
      const key = `${pod.namespace}/${pod.name}`;
      const e = podsToSidecars.get(key) ?? { pod, list: [] };
      e.list.push(sc);
      podsToSidecars.set(key, e);
    }
    if (!found && inv.workloadsKnown) out.push(messageAt(sc, Codes.ReferencedResourceNotFound, 'spec.workloadSelector', `Referenced selector not found: ${JSON.stringify(selectorString(sel))}`));
  }
  const reported = new Set<string>();
  const names = (l: MeshResource[]): string => `[${l.map(fullName).sort().join(' ')}]`;
  for (const { pod, list } of podsToSidecars.values()) {
    if (list.length === 1 && !pod.ambient) continue;
    for (const sc of list) {
      if (pod.ambient) {
        if (!reported.has(fullName(sc))) out.push(messageAt(sc, Codes.IneffectivePolicy, 'spec.workloadSelector', 'The policy has no impact: selected workload is in ambient mode, the policy has no impact.'));
        reported.add(fullName(sc));
        continue;
      }
      out.push(messageAt(sc, Codes.ConflictingSidecarWorkloadSelectors, 'metadata.name', `The Sidecars ${names(list)} in namespace ${JSON.stringify(pod.namespace)} select the same workload pod ${JSON.stringify(pod.name)}, which can lead to undefined behavior.`));
    }
  }
  for (const [ns, list] of nsToSidecars) {
    const labels = inv.declaredNamespaces?.get(ns);
    const ambient = !!labels && labels['istio-injection'] !== 'enabled' && !labels['istio.io/rev'] && labels['istio.io/dataplane-mode'] === 'ambient';
    if (ambient) {
      for (const sc of list) {
        if (!reported.has(fullName(sc))) out.push(messageAt(sc, Codes.IneffectivePolicy, 'metadata.name', 'The policy has no impact: namespace is in ambient mode, the policy has no impact.'));
        reported.add(fullName(sc));
      }
      continue;
    }
    if (list.length > 1) {
      for (const sc of list) out.push(messageAt(sc, Codes.MultipleSidecarsWithoutWorkloadSelectors, 'metadata.name', `The Sidecars ${names(list)} in namespace ${JSON.stringify(ns)} have no workload selector, which can lead to undefined behavior.`));
    }
  }
  return out;
};
