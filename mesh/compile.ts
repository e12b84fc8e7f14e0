import type { Endpoint } from './xds';
import type { DestinationRule, HTTPRoute, MeshResource, VirtualService } from './config/types';
import { canonicalHost, fqdn } from './config/hosts';
import { destinationRuleFor, effectiveRoute, effectiveTrafficPolicy, subsetTrafficPolicy, virtualServiceFor, type EffectiveRoute, type EffectiveTrafficPolicy } from './config/effective';
import { effectiveMtlsMode, type PeerAuthenticationPolicy } from './security/peer-authentication';
import { TLS_MODE_LABEL } from './upstream-tls';
import { compileMatches, sourceLabelsMatch, type RequestTest } from './route-match';
import { RetryPolicy } from './retry-policy';
import { compileHeaderOps, mergeHeaderOps, type HeaderOps } from './header-ops';
import type { FaultPolicy } from './route-table';
import { compileRewrite, type RouteRewrite } from './rewrite';
import { exportedTo } from './config/runtime-view';
import { destinationRuleForPort, externalClusterName, externalKey, externalServices, type ExternalService } from './egress/service-entry';
import { DEFAULT_SCOPE, sidecarScope, type OutboundMode } from './egress/sidecar-scope';
import { readTlsOrigination, type TlsOrigination } from './egress/tls-origination';

/** Who is compiling: a sidecar's own service, labels and namespace (sourceLabels / sourceNamespace matches, exportTo). */
export interface SidecarIdentity {
  service: string;
  labels: Record<string, string>;
  /** Default "default". */
  namespace?: string;
  /** The ingress gateway: no Sidecar resource applies to it (egress scope, outbound traffic policy). */
  gateway?: boolean;
}

/** One Envoy cluster to run: a service or one of its subsets, with its endpoints and policy. */
export interface ClusterSpec {
  name: string;
  service: string;
  subset?: string;
  endpoints: Endpoint[];
  policy: EffectiveTrafficPolicy;
  /** The caller's own labels (its locality), when the policy has a localityLbSetting. */
  callerLabels?: Record<string, string>;
  /** Identity of the settings: a cluster whose key did not change keeps its runtime state. */
  settingsKey: string;
  /** DestinationRule tls SIMPLE/MUTUAL to a ServiceEntry host: the sidecar originates TLS (mesh/egress/). */
  tlsOrigination?: TlsOrigination;
}

export interface DestinationSpec {
  cluster: string;
  weight: number;
  requestOps?: HeaderOps;
  responseOps?: HeaderOps;
}

export interface RouteSpec {
  name: string;
  /** undefined = matches every request. */
  match?: RequestTest;
  destinations: DestinationSpec[];
  totalWeight: number;
  timeoutMs: number;
  retry: RetryPolicy;
  fault?: FaultPolicy;
  mirror?: { cluster: string; percent: number };
  /** Istio's HTTPRewrite, compiled against the match blocks this proxy kept (mesh/rewrite.ts). */
  rewrite?: RouteRewrite;
}

/** The routes for one host (service): a VirtualService's http rules, or undefined for Istio's default route. */
export interface HostSpec {
  service: string;
  /** Its other Host names: `svc.ns` (Host `svc.ns`, `svc.ns.svc`, `svc.ns.svc.cluster.local`; mesh/headers.ts). */
  aliases?: string[];
  defaultCluster: string;
  routes?: RouteSpec[];
  /** A ServiceEntry host: what metrics name it (destination_service = the host, its entry's namespace). */
  external?: { host: string; namespace: string };
}

export interface CompiledConfig {
  clusters: Map<string, ClusterSpec>;
  hosts: Map<string, HostSpec>;
  /** What a Host the sidecar does not know gets: PassthroughCluster (ALLOW_ANY) or 502 block_all (REGISTRY_ONLY). */
  outbound?: { mode: OutboundMode; sidecar?: string };
}

/** A snapshot that cannot run: names the resource, its file and line, the field and what would be right. */
export class CompileError extends Error {}

/** Envoy's cluster name: `outbound|80|<subset>|<FQDN>`, the FQDN in the service's namespace (`namespace` default "default"). */
export function clusterName(service: string, subset?: string, namespace?: string): string {
  return `outbound|80|${subset ?? ''}|${namespace && namespace !== 'default' && !service.includes('.') ? `${service}.${namespace}.svc.cluster.local` : fqdn(service)}`;
}

function where(r: MeshResource, path: string): string {
  const pos = r.source?.positions?.[path];
  const file = r.source?.file ?? '<unknown>';
  const line = pos?.line ?? r.source?.line;
  const col = pos?.column ?? r.source?.column;
  return `${r.kind} ${r.metadata?.name ?? '?'} (${file}${line ? `:${line}` : ''}${col ? `:${col}` : ''}) ${path}`;
}

function fail(r: MeshResource, path: string, err: unknown): never {
  throw new CompileError(`${where(r, path)}: ${(err as Error).message ?? String(err)}`);
}

/**
 * Istio's per-endpoint mTLS decision (pilot/pkg/xds/endpoints/mtls_checker.go), made where EDS would make it: a
 * DestinationRule tls mode, when set, decides (ISTIO_MUTUAL → mTLS, anything else → plaintext); otherwise auto mTLS
 * sends mTLS to an endpoint with a sidecar unless the PeerAuthentication in force for that workload and port is
 * DISABLE. The verdict is written into the endpoint's `security.istio.io/tlsMode` label (`istio` / `disabled`),
 * which is what the connector reads. The port is the endpoint's port as the registry announces it.
 */
function withTlsMode(eps: Endpoint[], drMode: string | undefined, peerAuths: readonly PeerAuthenticationPolicy[]): Endpoint[] {
  return eps.map((e) => {
    let mtls: boolean;
    if (drMode !== undefined) mtls = drMode === 'ISTIO_MUTUAL';
    else if (e.labels[TLS_MODE_LABEL] !== 'istio') mtls = false;
    else {
      let mode: string;
      try {
        mode = effectiveMtlsMode(peerAuths, { service: e.service, labels: e.labels, namespace: e.namespace ?? 'default', port: e.port });
      } catch {
        mode = 'PERMISSIVE'; // an invalid policy is the destination's to NACK; keep mTLS
      }
      mtls = mode !== 'DISABLE';
    }
    const want = mtls ? 'istio' : e.labels[TLS_MODE_LABEL] === undefined ? undefined : 'disabled';
    if (e.labels[TLS_MODE_LABEL] === want) return e;
    return { ...e, labels: { ...e.labels, [TLS_MODE_LABEL]: want ?? 'disabled' } };
  });
}

function labelsMatch(want: Record<string, string>, labels: Record<string, string>): boolean {
  for (const k in want) if (labels[k] !== want[k]) return false;
  return true;
}

/**
 * Istio's fault percentages, as Pilot translates them: `percentage.value` when set, else the
 * deprecated integer `percent` (delay only), else 0 — Pilot leaves Envoy's FractionalPercent unset
 * and Envoy reads an unset one as 0 %, so a fault without a percentage injects nothing (the
 * effective view, `effectiveRoute`, says the same).
 */
function compileFault(vs: VirtualService, i: number, http: HTTPRoute, eff: EffectiveRoute): FaultPolicy | undefined {
  const f = http.fault;
  if (!f) return undefined;
  const out: FaultPolicy = {};
  if (f.delay?.fixedDelay && eff.fault?.delay) {
    const percent = f.delay.percentage?.value ?? f.delay.percent ?? 0;
    if (percent < 0 || percent > 100) fail(vs, `spec.http[${i}].fault.delay.percentage.value`, new Error(`percentage ${percent} must be between 0 and 100`));
    out.delay = { ms: eff.fault.delay.ms, percent };
  }
  if (f.abort?.httpStatus !== undefined) {
    const status = f.abort.httpStatus;
    if (!Number.isInteger(status) || status < 200 || status > 599) fail(vs, `spec.http[${i}].fault.abort.httpStatus`, new Error(`httpStatus ${status} must be an HTTP status between 200 and 599`));
    const percent = f.abort.percentage?.value ?? 0;
    if (percent < 0 || percent > 100) fail(vs, `spec.http[${i}].fault.abort.percentage.value`, new Error(`percentage ${percent} must be between 0 and 100`));
    out.abort = { httpStatus: status, percent };
  }
  return out.delay || out.abort ? out : undefined;
}

/**
 * Turns the mesh config (validated Istio resources) and the endpoints into what one sidecar runs:
 * clusters per service and per DestinationRule subset, and per-host route lists. Pure; throws
 * CompileError (the sidecar NACKs and keeps its old config) when something cannot run.
 */
export function compileConfig(resources: readonly unknown[], endpoints: Record<string, readonly Endpoint[]>, identity: SidecarIdentity, namespaces: Readonly<Record<string, string>> = {}): CompiledConfig {
  for (const [i, r] of ((resources ?? []) as MeshResource[]).entries()) {
    if (!r || typeof r !== 'object' || typeof (r as MeshResource).kind !== 'string' || !(r as MeshResource).spec) throw new CompileError(`snapshot resource #${i} is not an Istio resource (kind, metadata, spec expected)`);
  }
  // exportTo: a VirtualService or DestinationRule reaches the sidecars of the namespaces it is exported to.
  const ns = identity.namespace ?? 'default';
  const res = ((resources ?? []) as MeshResource[]).filter((r) => (r.kind !== 'VirtualService' && r.kind !== 'DestinationRule') || exportedTo(r, ns));
  const clusters = new Map<string, ClusterSpec>();
  const hosts = new Map<string, HostSpec>();
  // The Sidecar resource in force scopes what this workload sees; ServiceEntry hosts join the registry (mesh/egress/).
  const scope = identity.gateway ? DEFAULT_SCOPE : sidecarScope(res, ns, identity.labels);
  const externals = new Map<string, ExternalService>();
  for (const [key, e] of externalServices(res, ns)) if (scope.visible(e.namespace, e.host)) externals.set(key, e);
  const externalHosts = new Set([...externals.values()].map((e) => e.host));
  const services = new Set<string>(Object.keys(endpoints).map(canonicalHost));
  const peerAuths = res.filter((r) => r.kind === 'PeerAuthentication') as unknown as PeerAuthenticationPolicy[];
  for (const r of res) {
    if (r.kind === 'VirtualService') for (const h of (r as VirtualService).spec.hosts ?? []) if (!externalHosts.has(h.toLowerCase())) services.add(canonicalHost(h));
  }

  // A service's namespace: as declared (the snapshot's map, endpoints or not), else its endpoints', else default.
  const namespaceOf = (service: string): string => namespaces[service] ?? endpoints[service]?.[0]?.namespace ?? 'default';
  for (const service of [...services]) {
    const svcNs = namespaceOf(service);
    const fq = service.includes('.') ? service : `${service}.${svcNs}.svc.cluster.local`;
    if (!scope.visible(svcNs, fq)) services.delete(service);
  }
  const hostOf = (service: string): string => externals.get(service)?.host ?? service;

  const ensureCluster = (service: string, subset?: string): string => {
    const ext = externals.get(service);
    const name = ext ? externalClusterName(ext, subset) : clusterName(service, subset, namespaceOf(service));
    if (clusters.has(name)) return name;
    const dr = ext ? destinationRuleForPort(destinationRuleFor(res, ext.host), ext.port) : destinationRuleFor(res, service);
    const eps = ext ? ext.endpoints : (endpoints[service] ?? []);
    let selected: Endpoint[] = [...eps];
    if (subset) {
      const s = dr?.spec.subsets?.find((x) => x.name === subset);
      // A subset no DestinationRule defines has no endpoints: 503 UH, as in Istio (IST0101 warns about it).
      selected = s ? eps.filter((e) => labelsMatch(s.labels ?? {}, e.labels)) : [];
    }
    let policy: EffectiveTrafficPolicy;
    try {
      policy = effectiveTrafficPolicy(dr, subset);
    } catch (err) {
      fail(dr!, subset ? `spec.subsets[${subset}].trafficPolicy` : 'spec.trafficPolicy', err);
    }
    const subsetLabels = subset ? (dr?.spec.subsets?.find((x) => x.name === subset)?.labels ?? null) : null;
    const tlsSettings = subsetTrafficPolicy(dr, subset, 'tls');
    let tlsOrigination: TlsOrigination | undefined;
    if (ext) {
      try {
        tlsOrigination = tlsSettings ? readTlsOrigination(tlsSettings, ext.host) : undefined;
      } catch (err) {
        fail(dr!, subset ? `spec.subsets[${subset}].trafficPolicy.tls` : 'spec.trafficPolicy.tls', err);
      }
    } else if (tlsSettings?.mode === 'SIMPLE' || tlsSettings?.mode === 'MUTUAL') {
      // Origination is for hosts outside the mesh; to a sidecar it would be TLS inside mTLS, which meshlab does not run.
      fail(dr!, 'spec.trafficPolicy.tls.mode', new Error(`tls mode ${tlsSettings.mode} originates TLS to a ServiceEntry host; ${service} is a service of the mesh (use ISTIO_MUTUAL or DISABLE)`));
    }
    selected = withTlsMode(selected, tlsSettings?.mode, peerAuths);
    const callerLabels = policy.localityLb ? identity.labels : undefined;
    clusters.set(name, { name, service: hostOf(service), subset, endpoints: selected, policy, ...(callerLabels ? { callerLabels } : {}), ...(tlsOrigination ? { tlsOrigination } : {}), settingsKey: JSON.stringify({ policy, subsetLabels, callerLabels, tls: tlsOrigination?.fingerprint }) });
    return name;
  };

  // A world service answers to `svc` and to `svc.<its namespace>`; an FQDN-keyed one to `svc.ns`.
  const aliasesOf = (service: string): string[] => {
    const fq = /^([^.]+\.[^.]+)\.svc\.cluster\.local$/.exec(service);
    if (fq) return [fq[1]];
    if (service.includes('.')) return [];
    return [`${service}.${namespaceOf(service)}`];
  };

  // A route's destination: a ServiceEntry host goes to its port (the destination's, else the request's, else its only one).
  const destinationKey = (host: string, port: number | undefined, requestPort: number | undefined): string => {
    const h = host.toLowerCase();
    if (!externalHosts.has(h)) return host;
    const ports = [...externals.values()].filter((e) => e.host === h).map((e) => e.port);
    const p = port ?? (requestPort !== undefined && ports.includes(requestPort) ? requestPort : ports.length === 1 ? ports[0] : requestPort ?? ports[0]);
    return externalKey(h, p);
  };

  for (const service of [...services, ...externals.keys()]) {
    const ext = externals.get(service);
    const defaultCluster = ensureCluster(service);
    const aliases = ext ? [] : aliasesOf(service);
    const external = ext ? { host: ext.host, namespace: ext.namespace } : undefined;
    const dr = destinationRuleFor(res, hostOf(service)) as DestinationRule | undefined;
    for (const s of dr?.spec.subsets ?? []) ensureCluster(service, s.name);
    const vs = virtualServiceFor(res, hostOf(service));
    if (!vs) {
      hosts.set(service, { service, aliases, defaultCluster, ...(external ? { external } : {}) });
      continue;
    }
    const routes: RouteSpec[] = [];
    (vs.spec.http ?? []).forEach((http, i) => {
      let eff: EffectiveRoute;
      try {
        eff = effectiveRoute(http);
      } catch (err) {
        fail(vs, `spec.http[${i}]`, err);
      }
      // sourceLabels and sourceNamespace are about the caller — this sidecar — so they are settled here, once.
      const blocks = eff.matches.filter((m) => sourceLabelsMatch(m.sourceLabels, identity.labels) && (m.sourceNamespace === undefined || m.sourceNamespace === ns));
      if (eff.matches.length > 0 && blocks.length === 0) return;
      let match: RequestTest | undefined;
      try {
        match = blocks.length > 0 ? compileMatches(blocks) : undefined;
      } catch (err) {
        fail(vs, `spec.http[${i}].match`, err);
      }
      let retry: RetryPolicy;
      try {
        retry = RetryPolicy.fromEffective(eff.retries, http.retries === undefined);
      } catch (err) {
        fail(vs, `spec.http[${i}].retries.retryOn`, err);
      }
      const routeReq = compileHeaderOps(http.headers?.request);
      const routeResp = compileHeaderOps(http.headers?.response);
      const destinations = eff.destinations.map<DestinationSpec>((d) => ({
        cluster: ensureCluster(destinationKey(d.host, d.port, ext?.port), d.subset),
        weight: d.weight,
        requestOps: mergeHeaderOps(routeReq, compileHeaderOps(d.headers?.request)),
        responseOps: mergeHeaderOps(routeResp, compileHeaderOps(d.headers?.response)),
      }));
      if (destinations.length === 0) fail(vs, `spec.http[${i}].route`, new Error('a route needs at least one destination'));
      routes.push({
        name: http.name ?? `${vs.metadata.name}.${i}`,
        match,
        destinations,
        totalWeight: destinations.reduce((a, d) => a + d.weight, 0),
        timeoutMs: eff.timeoutMs,
        retry,
        fault: compileFault(vs, i, http, eff),
        mirror: eff.mirror ? { cluster: ensureCluster(destinationKey(eff.mirror.host, undefined, ext?.port), eff.mirror.subset), percent: eff.mirror.percent } : undefined,
        rewrite: compileRewrite(http.rewrite, blocks),
      });
    });
    hosts.set(service, { service, aliases, defaultCluster, routes, ...(external ? { external } : {}) });
  }
  return { clusters, hosts, outbound: { mode: scope.outboundMode, ...(scope.sidecar ? { sidecar: scope.sidecar } : {}) } };
}
