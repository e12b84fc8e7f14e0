/**
 * PeerAuthentication resolution, as Istio: for a workload the narrowest applicable policy wins —
 * workload (namespace policy with a matching selector) > namespace (no selector) > mesh (root namespace, no selector).
 * A policy whose mode is UNSET (or has no mtls) inherits from the next wider scope; with nothing set, PERMISSIVE.
 * Selector policies in the root namespace are ignored, like Istio. When several policies tie at one scope, the first
 * in input order wins (Istio picks the oldest). portLevelMtls applies when the caller passes a port.
 */
import type { MtlsMode } from './mtls';
import { ObjectMeta, WorkloadSelector, Workload, PolicyError, resourceName, workloadLabels, selects, hasSelector } from './policy-common';

export type PeerAuthMode = MtlsMode | 'UNSET';
const MODES: readonly string[] = ['STRICT', 'PERMISSIVE', 'DISABLE', 'UNSET'];

export interface PeerAuthenticationPolicy {
  metadata?: ObjectMeta;
  spec?: {
    selector?: WorkloadSelector;
    mtls?: { mode?: PeerAuthMode };
    portLevelMtls?: Record<string, { mode?: PeerAuthMode }>;
  };
}

/** Field errors of one policy (empty when valid). */
export function validatePeerAuthentication(p: PeerAuthenticationPolicy, defaultNs = 'default'): string[] {
  const name = resourceName('PeerAuthentication', p.metadata, defaultNs);
  const errors: string[] = [];
  const check = (mode: unknown, field: string) => {
    if (mode !== undefined && !MODES.includes(mode as string)) {
      errors.push(`${name}: ${field} is "${String(mode)}"; expected one of ${MODES.join(', ')}`);
    }
  };
  check(p.spec?.mtls?.mode, 'spec.mtls.mode');
  for (const [port, v] of Object.entries(p.spec?.portLevelMtls ?? {})) {
    if (!/^\d+$/.test(port)) errors.push(`${name}: spec.portLevelMtls key "${port}" is not a port number`);
    check(v?.mode, `spec.portLevelMtls.${port}.mode`);
  }
  if (p.spec?.portLevelMtls && !hasSelector(p.spec.selector)) {
    errors.push(`${name}: spec.portLevelMtls requires spec.selector (Istio ignores port-level settings without one)`);
  }
  return errors;
}

/** The mTLS mode a workload's inbound listener enforces. Throws PolicyError on an invalid applicable policy. */
export function effectiveMtlsMode(
  policies: readonly PeerAuthenticationPolicy[],
  workload: Workload & { port?: number },
  ns = workload.namespace ?? 'default',
  rootNs = 'istio-system',
): MtlsMode {
  const labels = workloadLabels(workload);
  const nsOf = (p: PeerAuthenticationPolicy) => p.metadata?.namespace ?? 'default';
  const mesh = policies.find((p) => nsOf(p) === rootNs && !hasSelector(p.spec?.selector));
  const namespace = ns === rootNs ? undefined : policies.find((p) => nsOf(p) === ns && !hasSelector(p.spec?.selector));
  const wl = policies.find((p) => nsOf(p) === ns && ns !== rootNs && hasSelector(p.spec?.selector) && selects(p.spec?.selector, labels));

  let mode: MtlsMode = 'PERMISSIVE';
  for (const p of [mesh, namespace, wl]) {
    if (!p) continue;
    const errors = validatePeerAuthentication(p);
    if (errors.length) throw new PolicyError(errors.join('; '));
    const m = p.spec?.mtls?.mode;
    if (m && m !== 'UNSET') mode = m;
  }
  if (wl && workload.port !== undefined) {
    const portMode = wl.spec?.portLevelMtls?.[String(workload.port)]?.mode;
    if (portMode && portMode !== 'UNSET') mode = portMode;
  }
  return mode;
}
