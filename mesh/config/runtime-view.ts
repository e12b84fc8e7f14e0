/**
 * What the sidecars of the running world get from a resource set that may span namespaces. The
 * world's services each live in one namespace ("default" unless the topology says otherwise;
 * `WorldNamespaces` lists the others), and sidecars name a service of the world by its short name.
 * So every VirtualService and DestinationRule host is resolved in its resource's namespace, as
 * Istio does (`payments` written in `shop` is payments.shop.svc.cluster.local), and then:
 * - the FQDN of a world service in its own namespace becomes its short name (`payments`);
 * - the FQDN of a world service's name in another namespace (`payments.default…` while payments
 *   runs in `shop`) names a service that does not exist: it becomes `absent.<fqdn>`, which no
 *   sidecar routes to by Host and whose cluster has no endpoints (503 UH, as Istio has none);
 * - anything else stays as written (other in-cluster names canonicalize as before, external hosts).
 * VirtualServices and DestinationRules exported to no namespace of the world are left out; each
 * sidecar then keeps those exported to its own namespace (`exportedTo`, in mesh/compile.ts).
 * Peer/AuthorizationPolicies go as written (the security compiler applies a policy of the
 * workload's namespace or of the root namespace istio-system only).
 */
import { CLUSTER_DOMAIN, MESH_NAMESPACE, ROOT_NAMESPACE, resolveHost } from './hosts';
import { RUNTIME_KINDS, type MeshResource } from './types';

/** The running world's services outside "default": service name → namespace. */
export type WorldNamespaces = ReadonlyMap<string, string>;

const NONE: WorldNamespaces = new Map();
const IN_CLUSTER = new RegExp(`^([^.]+)\\.([^.]+)\\.svc\\.${CLUSTER_DOMAIN.replace('.', '\\.')}$`);

const objOf = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

/** Istio's exportTo for a VirtualService or DestinationRule: unset or "*" = everywhere, "." = its own namespace, else the names listed. */
export function exportedTo(r: { metadata?: { namespace?: string }; spec?: unknown }, ns: string): boolean {
  const e = objOf(r.spec).exportTo;
  if (!Array.isArray(e) || e.length === 0) return true;
  return e.includes('*') || e.includes(ns) || (e.includes('.') && (r.metadata?.namespace ?? MESH_NAMESPACE) === ns);
}

/** The namespaces the world's workloads run in. */
export function worldNamespaceSet(world: WorldNamespaces): Set<string> {
  return new Set([MESH_NAMESPACE, ...world.values()]);
}

/** A host written in namespace `ns`, as the world's sidecars name it. */
export function worldHost(name: string, ns: string, world: WorldNamespaces): string {
  const fq = resolveHost(name, ns);
  // Written in "default" and naming no moved service, a host is left as written (sidecars read names as "default"'s).
  const asBefore = ns === MESH_NAMESPACE ? name : fq;
  const m = IN_CLUSTER.exec(fq);
  if (!m) return asBefore;
  const [, svc, svcNs] = m;
  const home = world.get(svc);
  if (home === undefined) return asBefore;
  return svcNs === home ? svc : `absent.${fq}`;
}

function qualifyDest(d: unknown, ns: string, world: WorldNamespaces): unknown {
  const o = objOf(d);
  return typeof o.host === 'string' ? { ...o, host: worldHost(o.host, ns, world) } : d;
}

function qualified(r: MeshResource, world: WorldNamespaces): MeshResource {
  const ns = r.metadata.namespace;
  const spec = objOf(r.spec);
  if (r.kind === 'DestinationRule') return { ...r, spec: { ...spec, host: typeof spec.host === 'string' ? worldHost(spec.host, ns, world) : spec.host } };
  const http = Array.isArray(spec.http)
    ? spec.http.map((h) => {
        const rule = objOf(h);
        return {
          ...rule,
          ...(Array.isArray(rule.route) ? { route: rule.route.map((rd) => ({ ...objOf(rd), destination: qualifyDest(objOf(rd).destination, ns, world) })) } : {}),
          ...(rule.mirror ? { mirror: qualifyDest(rule.mirror, ns, world) } : {}),
        };
      })
    : spec.http;
  const hosts = Array.isArray(spec.hosts) ? spec.hosts.map((h) => (typeof h === 'string' ? worldHost(h, ns, world) : h)) : spec.hosts;
  return { ...r, spec: { ...spec, hosts, http } };
}

export function runtimeView(resources: readonly MeshResource[], world: WorldNamespaces = NONE): MeshResource[] {
  const namespaces = [...worldNamespaceSet(world)];
  const out: MeshResource[] = [];
  for (const r of resources) {
    if (!RUNTIME_KINDS.includes(r.kind)) continue;
    if (r.kind === 'VirtualService' || r.kind === 'DestinationRule') {
      if (namespaces.some((ns) => exportedTo(r, ns))) out.push(qualified(r, world));
    } else out.push(r);
  }
  return out;
}

/**
 * Why a committed resource reaches no sidecar of the running world, or undefined when it does —
 * so `apply` can say so instead of applying it in silence.
 */
export function worldSkips(r: MeshResource, world: WorldNamespaces = NONE): string | undefined {
  const namespaces = [...worldNamespaceSet(world)].sort();
  if (r.kind === 'VirtualService' || r.kind === 'DestinationRule') {
    if (runtimeView([r], world).length > 0) return undefined;
    return `stored; not exported to ${namespaces.length === 1 ? `namespace ${namespaces[0]}` : `any of the namespaces ${namespaces.join(', ')}`}, where the running world's workloads are (exportTo ${JSON.stringify(objOf(r.spec).exportTo)})`;
  }
  if (r.kind === 'ServiceEntry' && !namespaces.some((ns) => exportedTo(r, ns))) {
    return `stored; not exported to ${namespaces.length === 1 ? `namespace ${namespaces[0]}` : `any of the namespaces ${namespaces.join(', ')}`}, where the running world's workloads are (exportTo ${JSON.stringify(objOf(r.spec).exportTo)})`;
  }
  if ((r.kind === 'PeerAuthentication' || r.kind === 'AuthorizationPolicy' || r.kind === 'Telemetry' || r.kind === 'Sidecar') && !namespaces.includes(r.metadata.namespace) && r.metadata.namespace !== ROOT_NAMESPACE) {
    return `stored; it applies to workloads of namespace ${r.metadata.namespace}, and the running world's are in ${namespaces.join(', ')}`;
  }
  return undefined;
}
