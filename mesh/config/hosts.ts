/**
 * Host names as Istio resolves them (ResolveShortnameToFQDN): a short name (`payments`) is a service
 * in the namespace of the resource that names it; a name with dots is taken as written, except that
 * meshlab also reads `svc.ns.svc`, and `svc.ns` for the resource's own namespace or "default", as that
 * service (kube-dns search-path forms).
 * The running world lives in the namespace "default": hosts there canonicalize to their short name.
 */

export const MESH_NAMESPACE = 'default';
export const ROOT_NAMESPACE = 'istio-system';
export const CLUSTER_DOMAIN = 'cluster.local';

/**
 * Fully qualified name of a host written in a resource of namespace `ns`:
 * `payments` in `shop` → payments.shop.svc.cluster.local; `payments.shop` → the same;
 * anything else (an external or wildcard host) lower-cased as written.
 */
export function resolveHost(name: string, ns: string = MESH_NAMESPACE): string {
  const host = name.trim().toLowerCase().replace(/\.$/, '');
  if (host === '*' || host === '') return host;
  const parts = host.split('.');
  if (parts.length === 1) return `${host}.${ns}.svc.${CLUSTER_DOMAIN}`;
  // `svc.ns` is an in-cluster name only for the resource's own namespace or the world's; any other
  // two-label name (example.com, foo.bar) is an external host, as in Istio.
  if (parts.length === 2 && (parts[1] === ns || parts[1] === MESH_NAMESPACE)) return `${host}.svc.${CLUSTER_DOMAIN}`;
  if (parts.length === 3 && parts[2] === 'svc') return `${host}.${CLUSTER_DOMAIN}`;
  return host;
}

/** The namespace of an in-cluster FQDN (`svc.ns.svc.cluster.local`), or undefined. */
export function hostNamespace(fq: string): string | undefined {
  const m = /^[^.]+\.([^.]+)\.svc\.cluster\.local$/.exec(fq);
  return m?.[1];
}

/**
 * Canonical name of a host: the short service name for a service of the world's namespace
 * ("default"), else its fully qualified form (so it never collides with ours).
 */
export function canonicalHostIn(name: string, ns: string): string {
  const fq = resolveHost(name, ns);
  const suffix = `.${MESH_NAMESPACE}.svc.${CLUSTER_DOMAIN}`;
  if (fq.endsWith(suffix) && !fq.slice(0, -suffix.length).includes('.')) return fq.slice(0, -suffix.length);
  return fq;
}

/** canonicalHost for a name written in the world's namespace ("default"). */
export function canonicalHost(name: string): string {
  return canonicalHostIn(name, MESH_NAMESPACE);
}

/** Fully qualified form, as Envoy/Istio print cluster names (payments -> payments.default.svc.cluster.local). */
export function fqdn(name: string): string {
  return resolveHost(name, MESH_NAMESPACE);
}

/** True if the two host names denote the same service. */
export function sameHost(a: string, b: string): boolean {
  return canonicalHost(a) === canonicalHost(b);
}

/** True for names that resolve into the world's namespace (a plain service name after canonicalization). */
export function isMeshLocal(name: string): boolean {
  return !canonicalHost(name).includes('.');
}

/** Wildcard hosts ("*", "*.example.com"). */
export function isWildcard(name: string): boolean {
  return name.includes('*');
}

/**
 * Istio's host matching with wildcards: `*` matches everything, `*.example.com` matches any name
 * ending in `.example.com` (and the other wildcard with a longer suffix).
 */
export function hostMatches(pattern: string, name: string): boolean {
  if (pattern === name || pattern === '*' || name === '*') return true;
  if (pattern.startsWith('*')) {
    const suffix = pattern.slice(1);
    if (name.startsWith('*')) return name.slice(1).endsWith(suffix) || suffix.endsWith(name.slice(1));
    return name.endsWith(suffix);
  }
  if (name.startsWith('*')) return pattern.endsWith(name.slice(1));
  return false;
}
