/**
 * SPIFFE identities for mesh workloads, Istio style:
 * `spiffe://<trust domain>/ns/<namespace>/sa/<service account>`. In meshlab the service account is the service name.
 */

export const TRUST_DOMAIN = 'cluster.local';
const SPIFFE_PREFIX = 'spiffe://';
const NAME_RE = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/;
const SPIFFE_RE = /^spiffe:\/\/([^/]+)\/ns\/([^/]+)\/sa\/([^/]+)$/;

/** The SPIFFE id a sidecar of `service` presents, e.g. spiffe://cluster.local/ns/default/sa/orders. */
export function spiffeId(service: string, ns = 'default', trustDomain = TRUST_DOMAIN): string {
  for (const [what, v] of [['service', service], ['namespace', ns]] as const) {
    if (!NAME_RE.test(v)) {
      throw new Error(`spiffeId: ${what} "${v}" is not a DNS-1123 label (lowercase letters, digits, '-' and '.')`);
    }
  }
  return `${SPIFFE_PREFIX}${trustDomain}/ns/${ns}/sa/${service}`;
}

export interface ParsedSpiffeId {
  trustDomain: string;
  namespace: string;
  serviceAccount: string;
}

/** Parses a SPIFFE id (with or without the `spiffe://` scheme, as Istio principals omit it); undefined when malformed. */
export function parseSpiffeId(id: string): ParsedSpiffeId | undefined {
  const m = SPIFFE_RE.exec(id.startsWith(SPIFFE_PREFIX) ? id : SPIFFE_PREFIX + id);
  if (!m) return undefined;
  return { trustDomain: m[1], namespace: m[2], serviceAccount: m[3] };
}

/** The service (service account) named by a SPIFFE id; throws with the expected shape when malformed. */
export function serviceFromSpiffe(id: string): string {
  const p = parseSpiffeId(id);
  if (!p) {
    throw new Error(`"${id}" is not a SPIFFE workload id; expected spiffe://<trust-domain>/ns/<namespace>/sa/<service>`);
  }
  return p.serviceAccount;
}

/**
 * The Istio "principal" form of an identity: the SPIFFE id without its scheme
 * (cluster.local/ns/default/sa/orders), as used in AuthorizationPolicy source.principals.
 */
export function principalOf(id: string): string {
  return id.startsWith(SPIFFE_PREFIX) ? id.slice(SPIFFE_PREFIX.length) : id;
}
