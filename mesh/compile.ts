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

/** Who is compiling: a sidecar's own service and labels (for sourceLabels matches). */
export interface SidecarIdentity {
  service: string;
  labels: Record<string, string>;
}

/** One Envoy cluster to run: a service or one of its subsets, with its endpoints and policy. */
export interface ClusterSpec {
  name: string;
  service: string;
  subset?: string;
  endpoints: Endpoint[];
  policy: EffectiveTrafficPolicy;
  /** Identity of the settings: a cluster whose key did not change keeps its runtime state. */
  settingsKey: string;
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
}

/** The routes for one host (service): a VirtualService's http rules, or undefined for Istio's default route. */
export interface HostSpec {
  service: string;
  defaultCluster: string;
  routes?: RouteSpec[];
}

export interface CompiledConfig {
  clusters: Map<string, ClusterSpec>;
  hosts: Map<string, HostSpec>;
}

/** A snapshot that cannot run: names the resource, its file and line, the field and what would be right. */
export class CompileError extends Error {}

export function clusterName(service: string, subset?: string): string {
  return `outbound|80|${subset ?? ''}|${fqdn(service)}`;
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
        mode = effectiveMtlsMode(peerAuths, { service: e.service, labels: e.labels, namespace: 'default', port: e.port });
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
export function compileConfig(resources: readonly unknown[], endpoints: Record<string, readonly Endpoint[]>, identity: SidecarIdentity): CompiledConfig {
  const res = (resources ?? []) as MeshResource[];
  for (const [i, r] of res.entries()) {
    if (!r || typeof r !== 'object' || typeof (r as MeshResource).kind !== 'string' || !(r as MeshResource).spec) throw new CompileError(`snapshot resource #${i} is not an Istio resource (kind, metadata, spec expected)`);
  }
  const clusters = new Map<string, ClusterSpec>();
  const hosts = new Map<string, HostSpec>();
  const services = new Set<string>(Object.keys(endpoints).map(canonicalHost));
  const peerAuths = res.filter((r) => r.kind === 'PeerAuthentication') as unknown as PeerAuthenticationPolicy[];
  for (const r of res) {
    if (r.kind === 'VirtualService') for (const h of (r as VirtualService).spec.hosts ?? []) services.add(canonicalHost(h));
  }

  const ensureCluster = (service: string, subset?: string): string => {
    const name = clusterName(service, subset);
    if (clusters.has(name)) return name;
    const dr = destinationRuleFor(res, service);
    const eps = endpoints[service] ?? [];
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
    selected = withTlsMode(selected, subsetTrafficPolicy(dr, subset, 'tls')?.mode, peerAuths);
    clusters.set(name, { name, service, subset, endpoints: selected, policy, settingsKey: JSON.stringify({ policy, subsetLabels }) });
    return name;
  };

  for (const service of services) {
    const defaultCluster = ensureCluster(service);
    const dr = destinationRuleFor(res, service) as DestinationRule | undefined;
    for (const s of dr?.spec.subsets ?? []) ensureCluster(service, s.name);
    const vs = virtualServiceFor(res, service);
    if (!vs) {
      hosts.set(service, { service, defaultCluster });
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
      // sourceLabels are about the caller — this sidecar — so they are settled here, once.
      const blocks = eff.matches.filter((m) => sourceLabelsMatch(m.sourceLabels, identity.labels));
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
        cluster: ensureCluster(d.host, d.subset),
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
        mirror: eff.mirror ? { cluster: ensureCluster(eff.mirror.host, eff.mirror.subset), percent: eff.mirror.percent } : undefined,
      });
    });
    hosts.set(service, { service, defaultCluster, routes });
  }
  return { clusters, hosts };
}
