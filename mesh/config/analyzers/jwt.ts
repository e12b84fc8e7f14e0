/**
 * istioctl's virtualservice.JWTClaimRouteAnalyzer (IST0149): a VirtualService bound to a Gateway
 * that routes on a JWT claim (`@request.auth.claims.…` header match) while no RequestAuthentication
 * (in istio-system or the gateway pod's namespace) selects the gateway's pods.
 */
import { Codes, type Message } from '../messages';
import { messageAt } from '../schema/validate';
import { ROOT_NAMESPACE } from '../hosts';
import { selectsLabels } from '../kube';
import type { Analyzer } from './types';
import { asArray, objOf, strMap, strings } from './util';

const CLAIM = /^@request\.auth\.claims(\.|\[)/;

export const jwtClaimRoutes: Analyzer = (resources, ctx) => {
  const inv = ctx.inventory!;
  // RequestAuthentications are resources now (meshlab runs them); objects of that kind only in older callers.
  const ras = [
    ...resources.filter((r) => r.kind === 'RequestAuthentication').map((r) => ({ metadata: r.metadata, raw: { spec: r.spec } })),
    ...(ctx.objects ?? []).filter((o) => o.kind === 'RequestAuthentication'),
  ];
  const out: Message[] = [];
  for (const vs of resources) {
    if (vs.kind !== 'VirtualService') continue;
    const spec = objOf(vs.spec);
    let key: string | undefined;
    for (const h of asArray(spec.http)) {
      for (const m of asArray(objOf(h).match)) {
        key ??= [...Object.keys(objOf(objOf(m).headers)), ...Object.keys(objOf(objOf(m).withoutHeaders))].find((k) => CLAIM.test(k));
      }
    }
    if (!key) continue;
    for (const g of strings(spec.gateways)) {
      if (g === 'mesh') continue;
      const full = g.includes('/') ? g : `${vs.metadata.namespace}/${g}`;
      const gw = resources.find((r) => r.kind === 'Gateway' && `${r.metadata.namespace}/${r.metadata.name}` === full);
      if (!gw) continue;
      const sel = strMap(objOf(gw.spec).selector);
      for (const pod of inv.workloads) {
        if (!selectsLabels(sel, pod.labels)) continue;
        const covered = ras.some((ra) => {
          const ns = ra.metadata.namespace || 'default';
          return (ns === ROOT_NAMESPACE || ns === pod.namespace) && selectsLabels(strMap(objOf(objOf(ra.raw.spec).selector).matchLabels), pod.labels);
        });
        if (!covered) {
          out.push(messageAt(vs, Codes.JwtClaimBasedRoutingWithoutRequestAuthN, 'metadata.name', `The virtual service uses the JWT claim based routing (key: ${key}) but found no request authentication for the gateway (${full}) pod (${pod.name}). The request authentication must first be applied for the gateway pods to validate the JWT token and make the claims available for routing.`));
        }
      }
    }
  }
  return out;
};
