/**
 * Istio's SidecarScope for one workload (pilot/pkg/model/sidecar.go): which Sidecar resource applies — the one
 * of the workload's namespace whose workloadSelector matches its labels, else its namespace's without a
 * selector, else the root namespace's (istio-system) without a selector — and what it says: the egress hosts
 * the workload's sidecar sees (`ns/dnsName`: `*` any namespace, `.` the workload's own, `~` none; dnsName `*`,
 * `*.suffix` or an exact FQDN; no `egress` = every host of every namespace) and the outbound traffic policy for hosts it does not see
 * (ALLOW_ANY, Istio's MeshConfig default, or REGISTRY_ONLY). A host out of scope is as if it were not in the
 * registry. The ingress gateway has no SidecarScope of this kind (a Sidecar resource selects no gateway here).
 */
import type { MeshResource } from '../config/types';
import { ROOT_NAMESPACE } from '../config/hosts';

export type OutboundMode = 'ALLOW_ANY' | 'REGISTRY_ONLY';

export interface SidecarResourceSpec {
  workloadSelector?: { labels?: Record<string, string> };
  egress?: { hosts?: string[] }[];
  outboundTrafficPolicy?: { mode?: OutboundMode };
}

export interface SidecarScope {
  /** `namespace/name` of the Sidecar in force, or undefined (Istio's default scope). */
  sidecar?: string;
  outboundMode: OutboundMode;
  /** Whether a service of namespace `ns` named `fqdn` (lower case) is in this workload's egress scope. */
  visible(ns: string, fqdn: string): boolean;
}

/** Istio's MeshConfig default: every host visible, unknown hosts passed through. */
export const DEFAULT_SCOPE: SidecarScope = { outboundMode: 'ALLOW_ANY', visible: () => true };

function selects(spec: SidecarResourceSpec, labels: Readonly<Record<string, string>>): boolean {
  const want = spec.workloadSelector?.labels ?? {};
  for (const k in want) if (labels[k] !== want[k]) return false;
  return true;
}

/** The Sidecar resource in force for a workload of namespace `ns` with `labels` (Istio's precedence). */
export function sidecarFor(resources: readonly MeshResource[], ns: string, labels: Readonly<Record<string, string>>): MeshResource | undefined {
  const sidecars = resources.filter((r) => r.kind === 'Sidecar');
  const specOf = (r: MeshResource) => r.spec as unknown as SidecarResourceSpec;
  const own = sidecars.filter((r) => r.metadata.namespace === ns);
  return (
    own.find((r) => specOf(r).workloadSelector !== undefined && selects(specOf(r), labels)) ??
    own.find((r) => specOf(r).workloadSelector === undefined) ??
    sidecars.find((r) => r.metadata.namespace === ROOT_NAMESPACE && specOf(r).workloadSelector === undefined)
  );
}

/** `*`, `*.suffix` or an exact name, as Istio matches egress dnsNames. */
function hostMatches(pattern: string, fqdn: string): boolean {
  if (pattern === '*') return true;
  if (pattern.startsWith('*.')) return fqdn.endsWith(pattern.slice(1));
  return pattern === fqdn;
}

export function sidecarScope(resources: readonly MeshResource[], ns: string, labels: Readonly<Record<string, string>>): SidecarScope {
  const r = sidecarFor(resources, ns, labels);
  if (!r) return DEFAULT_SCOPE;
  const spec = r.spec as unknown as SidecarResourceSpec;
  const outboundMode = spec.outboundTrafficPolicy?.mode ?? 'ALLOW_ANY';
  const sidecar = `${r.metadata.namespace}/${r.metadata.name}`;
  if (!spec.egress || spec.egress.length === 0) return { sidecar, outboundMode, visible: () => true };
  const patterns = spec.egress.flatMap((e) => e.hosts ?? []).map((h) => {
    const slash = h.indexOf('/');
    return { ns: h.slice(0, slash), host: h.slice(slash + 1).toLowerCase() };
  });
  return {
    sidecar,
    outboundMode,
    visible: (svcNs, fqdn) =>
      patterns.some((p) => p.ns !== '~' && (p.ns === '*' || (p.ns === '.' ? svcNs === ns : p.ns === svcNs)) && hostMatches(p.host, fqdn)),
  };
}
