import type { MeshResource } from './config/types';
import { CompileError } from './compile';
import { effectiveMtlsMode, validatePeerAuthentication, type PeerAuthenticationPolicy } from './security/peer-authentication';
import { compileAuthorization, validateAuthorizationPolicy, type AuthorizationPolicy, type CompiledAuthorization } from './security/authz';
import type { MtlsMode } from './security/mtls';

/** The security config one sidecar enforces on its inbound side. */
export interface CompiledSecurity {
  /** PeerAuthentication's verdict for this workload (PERMISSIVE when no policy applies, Istio's default). */
  mtlsMode: MtlsMode;
  /** AuthorizationPolicy for this workload; `applied` empty = allow everything without evaluating. */
  authz: CompiledAuthorization;
}

function where(r: MeshResource): string {
  const file = r.source?.file ?? '<unknown>';
  return `${file}${r.source?.line ? `:${r.source.line}` : ''}`;
}

/**
 * PeerAuthentication and AuthorizationPolicy resources of a snapshot → what `workload`'s inbound listener enforces.
 * Pure; throws CompileError naming the file/line of a policy it cannot run (the sidecar NACKs and keeps its old
 * policies, like Envoy rejecting a listener update).
 */
export function compileSecurity(resources: readonly unknown[], workload: { service: string; labels: Record<string, string>; namespace?: string; port?: number }): CompiledSecurity {
  const res = (resources ?? []) as MeshResource[];
  const peerAuths = res.filter((r) => r.kind === 'PeerAuthentication') as unknown as (PeerAuthenticationPolicy & MeshResource)[];
  const authzPolicies = res.filter((r) => r.kind === 'AuthorizationPolicy') as unknown as (AuthorizationPolicy & MeshResource)[];
  for (const p of peerAuths) {
    const errors = validatePeerAuthentication(p);
    if (errors.length) throw new CompileError(`${errors.join('; ')} (${where(p)})`);
  }
  for (const p of authzPolicies) {
    const errors = validateAuthorizationPolicy(p);
    if (errors.length) throw new CompileError(`${errors.join('; ')} (${where(p)})`);
  }
  // A policy selects workloads of its own namespace; the root namespace's apply mesh-wide (Istio).
  const w = { service: workload.service, labels: workload.labels, namespace: workload.namespace ?? 'default' };
  // portLevelMtls is keyed by the workload's port: the inbound port this sidecar announces as its endpoint.
  return { mtlsMode: effectiveMtlsMode(peerAuths, { ...w, port: workload.port }), authz: compileAuthorization(authzPolicies, w) };
}
