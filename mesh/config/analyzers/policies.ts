/**
 * istioctl's authz.AuthorizationPoliciesAnalyzer: a policy selecting no in-mesh workload (IST0127;
 * mesh-wide policies in the root namespace istio-system search every namespace), and `namespaces` /
 * `notNamespaces` naming no Namespace (IST0101). meshlab applies the same workload check to
 * PeerAuthentications with a selector (also IST0127, as Istio's message means).
 * Workload checks need known workloads; namespace checks need Namespace objects or the running world.
 */
import { Codes, type Message } from '../messages';
import { messageAt } from '../schema/validate';
import { ROOT_NAMESPACE } from '../hosts';
import { selectsLabels, type Inventory } from '../kube';
import type { MeshResource } from '../types';
import type { Analyzer } from './types';
import { asArray, objOf, selectorString, strMap, strings } from './util';

function namespaceMatch(ns: string, exp: string): boolean {
  if (exp === '*') return true;
  if (exp.startsWith('*')) return ns.endsWith(exp.slice(1));
  if (exp.endsWith('*')) return ns.startsWith(exp.slice(0, -1));
  return ns.toLowerCase() === exp.toLowerCase();
}

function noWorkloads(r: MeshResource, inv: Inventory): Message | undefined {
  const spec = objOf(r.spec);
  const ns = r.metadata.namespace;
  const pods = inv.workloads.filter((w) => w.inMesh);
  const hasSelector = spec.selector !== undefined && spec.selector !== null;
  const sel = strMap(objOf(spec.selector).matchLabels);
  const text = (s: string): string => `No matching workloads for this resource with the following labels: ${s}`;
  if (ns === ROOT_NAMESPACE) {
    if (hasSelector && !pods.some((p) => selectsLabels(sel, p.labels))) return messageAt(r, Codes.NoMatchingWorkloadsFound, 'spec.selector', text(selectorString(sel)));
    return undefined;
  }
  const inNs = pods.filter((p) => p.namespace === ns);
  if (!hasSelector) return inNs.length === 0 ? messageAt(r, Codes.NoMatchingWorkloadsFound, 'metadata.name', text('')) : undefined;
  if (!inNs.some((p) => selectsLabels(sel, p.labels))) return messageAt(r, Codes.NoMatchingWorkloadsFound, 'spec.selector', text(selectorString(sel)));
  return undefined;
}

export const authorizationPolicies: Analyzer = (resources, ctx) => {
  const inv = ctx.inventory!;
  const out: Message[] = [];
  for (const ap of resources) {
    if (ap.kind !== 'AuthorizationPolicy') continue;
    if (inv.workloadsKnown) {
      const m = noWorkloads(ap, inv);
      if (m) out.push(m);
    }
    if (!inv.declaredNamespaces) continue;
    const declared = [...inv.declaredNamespaces.keys()];
    asArray(objOf(ap.spec).rules).forEach((rule, i) => {
      asArray(objOf(rule).from).forEach((from, j) => {
        const src = objOf(objOf(from).source);
        for (const field of ['namespaces', 'notNamespaces'] as const) {
          strings(src[field]).forEach((ns, k) => {
            if (!declared.some((d) => namespaceMatch(d, ns))) {
              out.push(messageAt(ap, Codes.ReferencedResourceNotFound, `spec.rules[${i}].from[${j}].source.${field}[${k}]`, `Referenced namespace not found: ${JSON.stringify(ns)}`));
            }
          });
        }
      });
    });
  }
  return out;
};

export const peerAuthenticationSelectors: Analyzer = (resources, ctx) => {
  const inv = ctx.inventory!;
  if (!inv.workloadsKnown) return [];
  const out: Message[] = [];
  for (const pa of resources) {
    if (pa.kind !== 'PeerAuthentication' || !objOf(pa.spec).selector) continue;
    const m = noWorkloads(pa, inv);
    if (m) out.push(m);
  }
  return out;
};
