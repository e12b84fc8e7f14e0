/**
 * What `meshlab apply` refuses in a ServiceEntry or a Sidecar because the sidecars do not run it (ML0003 naming
 * the field). Validation (`meshlab analyze`) still reads them as Istio does; this is the line between "valid
 * Istio" and "what meshlab's sidecar does": ServiceEntry = MESH_EXTERNAL hosts on HTTP ports, STATIC or DNS;
 * Sidecar = `egress[].hosts` and `outboundTrafficPolicy.mode`.
 */
import { Codes, type Message } from '../config/messages';
import { messageAt, resourceLabel } from '../config/schema/validate';
import type { MeshResource } from '../config/types';

const HTTP_PROTOCOLS = new Set(['HTTP']);

/**
 * DestinationRule tls SIMPLE / MUTUAL originates TLS to a ServiceEntry host, and portLevelSettings set a
 * ServiceEntry port's policy; to a service of the mesh (whose sidecar already terminates mTLS, on the one port a
 * service has in the lab) meshlab does not run them: ML0003 at apply, instead of a NACK from every sidecar.
 */
export function tlsOriginationMessages(r: MeshResource, all: readonly MeshResource[]): Message[] {
  if (r.kind !== 'DestinationRule') return [];
  const spec = (r.spec ?? {}) as { host?: string; trafficPolicy?: { tls?: { mode?: string }; portLevelSettings?: unknown }; subsets?: { name?: string; trafficPolicy?: { tls?: { mode?: string }; portLevelSettings?: unknown } }[] };
  const host = String(spec.host ?? '').toLowerCase();
  const external = all.some((x) => x.kind === 'ServiceEntry' && ((x.spec as { hosts?: string[] }).hosts ?? []).some((h) => h.toLowerCase() === host));
  if (external) return [];
  const out: Message[] = [];
  const check = (mode: string | undefined, path: string): void => {
    if (mode === 'SIMPLE' || mode === 'MUTUAL') out.push(messageAt(r, Codes.UnsupportedField, path, `${resourceLabel(r)}: ${path} ${mode} is not supported by meshlab for ${host}: TLS origination runs to a ServiceEntry host (no ServiceEntry declares ${host}); mesh services use ISTIO_MUTUAL or DISABLE`));
  };
  check(spec.trafficPolicy?.tls?.mode, 'spec.trafficPolicy.tls.mode');
  (spec.subsets ?? []).forEach((s, i) => check(s.trafficPolicy?.tls?.mode, `spec.subsets[${i}].trafficPolicy.tls.mode`));
  const ports = (tp: { portLevelSettings?: unknown } | undefined, path: string): void => {
    if (tp?.portLevelSettings !== undefined) out.push(messageAt(r, Codes.UnsupportedField, path, `${resourceLabel(r)}: ${path} is not supported by meshlab for ${host}: a service of the mesh has one port in the lab; portLevelSettings apply to ServiceEntry hosts`));
  };
  ports(spec.trafficPolicy, 'spec.trafficPolicy.portLevelSettings');
  (spec.subsets ?? []).forEach((s, i) => ports(s.trafficPolicy, `spec.subsets[${i}].trafficPolicy.portLevelSettings`));
  return out;
}

export function egressRuntimeMessages(r: MeshResource): Message[] {
  const out: Message[] = [];
  const no = (path: string, why: string): void => {
    out.push(messageAt(r, Codes.UnsupportedField, path, `${resourceLabel(r)}: ${path} ${why}`));
  };
  const spec = (r.spec ?? {}) as Record<string, unknown>;
  if (r.kind === 'ServiceEntry') {
    if (spec.location === 'MESH_INTERNAL') no('spec.location', 'MESH_INTERNAL is not supported by meshlab: its ServiceEntries are MESH_EXTERNAL hosts (no mTLS to them)');
    const resolution = (spec.resolution as string | undefined) ?? 'NONE';
    if (!['STATIC', 'DNS', 'DNS_ROUND_ROBIN'].includes(resolution)) no('spec.resolution', `${resolution} is not supported by meshlab: the sidecar sees no original destination address (use STATIC or DNS)`);
    (Array.isArray(spec.hosts) ? (spec.hosts as unknown[]) : []).forEach((h, i) => {
      if (typeof h === 'string' && h.startsWith('*')) no(`spec.hosts[${i}]`, `${h}: a wildcard host is not supported by meshlab (Istio resolves it with resolution NONE to the dialled address, which meshlab's sidecar does not see)`);
    });
    if (spec.addresses !== undefined) no('spec.addresses', 'is not supported by meshlab: its outbound listener routes by Host header, not by virtual IP');
    if (spec.workloadSelector !== undefined) no('spec.workloadSelector', 'is not supported by meshlab (no WorkloadEntries)');
    if (spec.subjectAltNames !== undefined) no('spec.subjectAltNames', 'is not supported by meshlab (it verifies mesh workloads by SPIFFE id; for an external host use the DestinationRule tls.subjectAltNames)');
    const ports = Array.isArray(spec.ports) ? (spec.ports as Array<Record<string, unknown>>) : [];
    if (ports.length === 0) no('spec.ports', 'is required by meshlab: the sidecar routes a host on its declared ports');
    ports.forEach((p, i) => {
      const protocol = String(p?.protocol ?? '').toUpperCase();
      if (!HTTP_PROTOCOLS.has(protocol)) no(`spec.ports[${i}].protocol`, `${protocol || '(unset)'} is not supported by meshlab for a ServiceEntry: its sidecar routes HTTP to external hosts (protocol: HTTP; TLS origination with a DestinationRule)`);
    });
    const endpoints = Array.isArray(spec.endpoints) ? (spec.endpoints as Array<Record<string, unknown>>) : [];
    endpoints.forEach((e, i) => {
      for (const f of ['network', 'weight', 'serviceAccount']) if (e?.[f] !== undefined) no(`spec.endpoints[${i}].${f}`, 'is not supported by meshlab');
      if (typeof e?.address === 'string' && e.address.startsWith('unix://')) no(`spec.endpoints[${i}].address`, 'unix domain sockets are not supported by meshlab');
    });
  }
  if (r.kind === 'Sidecar') {
    for (const f of ['ingress', 'inboundConnectionPool']) if (spec[f] !== undefined) no(`spec.${f}`, 'is not supported by meshlab (a Sidecar scopes egress here: egress[].hosts, outboundTrafficPolicy.mode)');
    const egress = Array.isArray(spec.egress) ? (spec.egress as Array<Record<string, unknown>>) : [];
    egress.forEach((e, i) => {
      for (const f of ['port', 'bind', 'captureMode']) if (e?.[f] !== undefined) no(`spec.egress[${i}].${f}`, 'is not supported by meshlab: one outbound listener serves every host');
    });
    const otp = spec.outboundTrafficPolicy as Record<string, unknown> | undefined;
    if (otp?.egressProxy !== undefined) no('spec.outboundTrafficPolicy.egressProxy', 'is not supported by meshlab (no egress gateway)');
  }
  return out;
}
