/**
 * Host names as Istio resolves short names for workloads in a single namespace: `payments`,
 * `payments.default`, `payments.default.svc` and `payments.default.svc.cluster.local` all name the
 * same service. meshlab runs everything in the one namespace "default".
 */

export const MESH_NAMESPACE = 'default';
export const CLUSTER_DOMAIN = 'cluster.local';

/**
 * Canonical (short) service name for a host, lower-cased. Hosts in another namespace keep their
 * full form so that they never collide with ours (and the analyzer can report them).
 */
export function canonicalHost(name: string): string {
  const host = name.trim().toLowerCase().replace(/\.$/, '');
  const parts = host.split('.');
  if (parts.length === 1) return host;
  const [svc, ns, ...rest] = parts;
  const suffix = rest.join('.');
  if (ns === MESH_NAMESPACE && (suffix === '' || suffix === 'svc' || suffix === `svc.${CLUSTER_DOMAIN}`)) {
    return svc;
  }
  return host;
}

/** Fully qualified form, as Envoy/Istio print cluster names (payments -> payments.default.svc.cluster.local). */
export function fqdn(name: string): string {
  const c = canonicalHost(name);
  return c.includes('.') ? c : `${c}.${MESH_NAMESPACE}.svc.${CLUSTER_DOMAIN}`;
}

/** True if the two host names denote the same service. */
export function sameHost(a: string, b: string): boolean {
  return canonicalHost(a) === canonicalHost(b);
}

/** True for names that resolve into our namespace (a plain service name after canonicalization). */
export function isMeshLocal(name: string): boolean {
  return !canonicalHost(name).includes('.');
}

/** Wildcard hosts ("*", "*.example.com") are valid Istio but meshlab routes only named services. */
export function isWildcard(name: string): boolean {
  return name.includes('*');
}
