/**
 * What the sidecars of the running world (namespace "default") get from a resource set that may
 * span namespaces: the runtime kinds only; VirtualServices and DestinationRules of other
 * namespaces only when exported to "default" (exportTo unset, "*" or "default"), with their short
 * host names qualified in their own namespace (so `payments` written in `shop` stays
 * payments.shop.svc.cluster.local, not ours); Peer/AuthorizationPolicies as written (the
 * security compiler applies a policy of "default" or of the root namespace istio-system only).
 */
import { MESH_NAMESPACE, resolveHost } from './hosts';
import { RUNTIME_KINDS, type MeshResource } from './types';

const objOf = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

function exportedToWorld(r: MeshResource): boolean {
  const e = objOf(r.spec).exportTo;
  if (!Array.isArray(e) || e.length === 0) return true;
  return e.includes('*') || e.includes(MESH_NAMESPACE) || (e.includes('.') && r.metadata.namespace === MESH_NAMESPACE);
}

function qualifyDest(d: unknown, ns: string): unknown {
  const o = objOf(d);
  return typeof o.host === 'string' ? { ...o, host: resolveHost(o.host, ns) } : d;
}

function qualified(r: MeshResource): MeshResource {
  const ns = r.metadata.namespace;
  const spec = objOf(r.spec);
  if (r.kind === 'DestinationRule') return { ...r, spec: { ...spec, host: typeof spec.host === 'string' ? resolveHost(spec.host, ns) : spec.host } };
  const http = Array.isArray(spec.http)
    ? spec.http.map((h) => {
        const rule = objOf(h);
        return {
          ...rule,
          ...(Array.isArray(rule.route) ? { route: rule.route.map((rd) => ({ ...objOf(rd), destination: qualifyDest(objOf(rd).destination, ns) })) } : {}),
          ...(rule.mirror ? { mirror: qualifyDest(rule.mirror, ns) } : {}),
        };
      })
    : spec.http;
  const hosts = Array.isArray(spec.hosts) ? spec.hosts.map((h) => (typeof h === 'string' ? resolveHost(h, ns) : h)) : spec.hosts;
  return { ...r, spec: { ...spec, hosts, http } };
}

export function runtimeView(resources: readonly MeshResource[]): MeshResource[] {
  const out: MeshResource[] = [];
  for (const r of resources) {
    if (!RUNTIME_KINDS.includes(r.kind)) continue;
    if (r.kind === 'VirtualService' || r.kind === 'DestinationRule') {
      if (r.metadata.namespace === MESH_NAMESPACE) out.push(r);
      else if (exportedToWorld(r)) out.push(qualified(r));
    } else out.push(r);
  }
  return out;
}

/**
 * Why a committed resource reaches no sidecar of the running world (namespace "default"), or
 * undefined when it does — so `apply` can say so instead of applying it in silence.
 */
export function worldSkips(r: MeshResource): string | undefined {
  if (r.kind === 'VirtualService' || r.kind === 'DestinationRule') {
    if (runtimeView([r]).length > 0) return undefined;
    return `stored; not exported to namespace ${MESH_NAMESPACE}, where the running world's workloads are (exportTo ${JSON.stringify(objOf(r.spec).exportTo)})`;
  }
  if ((r.kind === 'PeerAuthentication' || r.kind === 'AuthorizationPolicy' || r.kind === 'Telemetry') && r.metadata.namespace !== MESH_NAMESPACE && r.metadata.namespace !== 'istio-system') {
    return `stored; it applies to workloads of namespace ${r.metadata.namespace}, and the running world's are in ${MESH_NAMESPACE}`;
  }
  return undefined;
}
