/**
 * The effective (normalized, defaulted) view of the config that the control plane compiles into
 * sidecar snapshots: canonical host names, durations in ms, Istio defaults filled in, and
 * DestinationRule subset policies resolved. Pure functions over a validated resource set.
 */
import { parseDuration } from './duration';
import { localityLbActive, type EffectiveLocalityLb } from '../lb/locality';
import { canonicalHost, sameHost } from './hosts';
import {
  CONNECTION_POOL_DEFAULTS,
  DEFAULT_LB,
  DEFAULT_MIN_RING_SIZE,
  DEFAULT_RETRY,
  OUTLIER_DEFAULTS,
} from './defaults';
import type {
  ConnectionPoolSettings,
  DestinationRule,
  HTTPMatchRequest,
  HTTPRetry,
  HTTPRewrite,
  HTTPRoute,
  LoadBalancerSettings,
  LocalityLoadBalancerSetting,
  MeshResource,
  OutlierDetection,
  StringMatch,
  Subset,
  TrafficPolicy,
  TrafficPolicyKind,
  VirtualService,
  ClientTLSSettings,
  Headers,
} from './types';

// ---------- lookups ----------

/** Whether a VirtualService applies to sidecars (gateways absent or containing "mesh"). */
export function appliesToMesh(vs: VirtualService): boolean {
  const g = vs.spec.gateways;
  return !g || g.length === 0 || g.includes('mesh');
}

/** The VirtualService routing `host` for sidecars, or undefined (default routing). */
export function virtualServiceFor(resources: readonly MeshResource[], host: string): VirtualService | undefined {
  return resources.find(
    (r): r is VirtualService =>
      r.kind === 'VirtualService' && appliesToMesh(r as VirtualService) && (r as VirtualService).spec.hosts.some((h) => sameHost(h, host)),
  );
}

/** The DestinationRule for `host`, or undefined. */
export function destinationRuleFor(resources: readonly MeshResource[], host: string): DestinationRule | undefined {
  return resources.find((r): r is DestinationRule => r.kind === 'DestinationRule' && sameHost((r as DestinationRule).spec.host, host));
}

export function findSubset(dr: DestinationRule | undefined, name: string): Subset | undefined {
  return dr?.spec.subsets?.find((s) => s.name === name);
}

/**
 * The trafficPolicy block of one kind that applies to traffic for `subset`: a subset's block of a
 * kind *replaces* the top-level block of the same kind (Istio does not deep-merge), and kinds the
 * subset does not set fall back to the top-level block.
 */
export function subsetTrafficPolicy<K extends TrafficPolicyKind>(
  dr: DestinationRule | undefined,
  subset: string | undefined,
  kind: K,
): TrafficPolicy[K] | undefined {
  if (!dr) return undefined;
  const s = subset ? findSubset(dr, subset) : undefined;
  const own = s?.trafficPolicy?.[kind];
  return own !== undefined ? own : dr.spec.trafficPolicy?.[kind];
}

// ---------- destination policies ----------

export interface EffectiveOutlierDetection {
  consecutive5xxErrors: number;
  consecutiveGatewayErrors: number;
  intervalMs: number;
  baseEjectionTimeMs: number;
  maxEjectionPercent: number;
  minHealthPercent: number;
  /** Present only when written. Istio passes these only when split is on; off, local failures count as 503/504. */
  splitExternalLocalOriginErrors?: boolean;
  consecutiveLocalOriginFailures?: number;
}

/** Outlier detection with Istio's defaults, or undefined when the block is absent (no ejection). */
export function effectiveOutlierDetection(od: OutlierDetection | undefined): EffectiveOutlierDetection | undefined {
  if (!od) return undefined;
  const d = OUTLIER_DEFAULTS;
  return {
    consecutive5xxErrors: od.consecutive5xxErrors ?? d.consecutive5xxErrors,
    // consecutiveErrors is the deprecated spelling of gateway-error ejection.
    consecutiveGatewayErrors: od.consecutiveGatewayErrors ?? od.consecutiveErrors ?? d.consecutiveGatewayErrors,
    intervalMs: od.interval ? parseDuration(od.interval) : d.intervalMs,
    baseEjectionTimeMs: od.baseEjectionTime ? parseDuration(od.baseEjectionTime) : d.baseEjectionTimeMs,
    maxEjectionPercent: od.maxEjectionPercent ?? d.maxEjectionPercent,
    minHealthPercent: od.minHealthPercent ?? d.minHealthPercent,
    ...(od.splitExternalLocalOriginErrors !== undefined ? { splitExternalLocalOriginErrors: od.splitExternalLocalOriginErrors } : {}),
    ...(od.consecutiveLocalOriginFailures !== undefined ? { consecutiveLocalOriginFailures: od.consecutiveLocalOriginFailures } : {}),
  };
}

/** Envoy's max_ejection_percent default: what Istio's `maxEjectionPercent: 0` means (Pilot leaves 0 unset). */
export const ENVOY_MAX_EJECTION_PERCENT = 10;

/** The max_ejection_percent Envoy runs with for Istio's `maxEjectionPercent` (0 → Envoy's default 10). */
export function envoyMaxEjectionPercent(maxEjectionPercent: number): number {
  return maxEjectionPercent > 0 ? Math.min(100, maxEjectionPercent) : ENVOY_MAX_EJECTION_PERCENT;
}

/**
 * Envoy's rule: with N hosts and `ejected` already out, one more is ejected only if
 * 100*(ejected+1)/N <= maxEjectionPercent. Returns the smallest N at which one host can be ejected
 * (0 is Envoy's default 10%: 10 hosts).
 */
export function minHostsForEjection(maxEjectionPercent: number): number {
  return Math.ceil(100 / envoyMaxEjectionPercent(maxEjectionPercent));
}

/** How many hosts of a pool of `n` can be ejected at once. */
export function maxEjectableHosts(n: number, maxEjectionPercent: number): number {
  return Math.floor((n * maxEjectionPercent) / 100);
}

export interface EffectiveConnectionPool {
  maxConnections: number;
  connectTimeoutMs: number;
  http1MaxPendingRequests: number;
  http2MaxRequests: number;
  maxRequestsPerConnection: number;
  maxRetries: number;
  idleTimeoutMs: number;
}

/** Connection pool limits with Istio's defaults (unset or 0 counts mean "unlimited"). */
export function effectiveConnectionPool(cp: ConnectionPoolSettings | undefined): EffectiveConnectionPool {
  const d = CONNECTION_POOL_DEFAULTS;
  const pos = (v: number | undefined, def: number): number => (v && v > 0 ? v : def);
  return {
    maxConnections: pos(cp?.tcp?.maxConnections, d.maxConnections),
    connectTimeoutMs: cp?.tcp?.connectTimeout ? parseDuration(cp.tcp.connectTimeout) : d.connectTimeoutMs,
    http1MaxPendingRequests: pos(cp?.http?.http1MaxPendingRequests, d.http1MaxPendingRequests),
    http2MaxRequests: pos(cp?.http?.http2MaxRequests, d.http2MaxRequests),
    maxRequestsPerConnection: cp?.http?.maxRequestsPerConnection ?? d.maxRequestsPerConnection,
    maxRetries: pos(cp?.http?.maxRetries, d.maxRetries),
    idleTimeoutMs: cp?.http?.idleTimeout ? parseDuration(cp.http.idleTimeout) : d.idleTimeoutMs,
  };
}

export type EffectiveLoadBalancer =
  | { type: 'LEAST_REQUEST' | 'ROUND_ROBIN' | 'RANDOM' }
  | {
      type: 'RING_HASH';
      minimumRingSize: number;
      hashOn:
        | { header: string }
        | { cookie: { name: string; path?: string; ttlMs?: number } }
        | { sourceIp: true }
        | { queryParameter: string };
    };

export function effectiveLoadBalancer(lb: LoadBalancerSettings | undefined): EffectiveLoadBalancer {
  const ch = lb?.consistentHash;
  if (ch) {
    const minimumRingSize = ch.ringHash?.minimumRingSize ?? ch.minimumRingSize ?? DEFAULT_MIN_RING_SIZE;
    const hashOn = ch.httpHeaderName
      ? { header: ch.httpHeaderName.toLowerCase() }
      : ch.httpCookie
        ? { cookie: { name: ch.httpCookie.name, path: ch.httpCookie.path, ttlMs: ch.httpCookie.ttl ? parseDuration(ch.httpCookie.ttl) : undefined } }
        : ch.httpQueryParameterName
          ? { queryParameter: ch.httpQueryParameterName }
          : { sourceIp: true as const };
    return { type: 'RING_HASH', minimumRingSize, hashOn };
  }
  const simple = lb?.simple;
  if (simple === 'ROUND_ROBIN' || simple === 'RANDOM') return { type: simple };
  // LEAST_CONN is the deprecated name of LEAST_REQUEST; UNSPECIFIED means Istio's default.
  return { type: DEFAULT_LB };
}

/**
 * Istio's GetEffectiveLbSetting + ApplyToCluster: `enabled: false` is no setting; failover
 * (and failoverPriority) only with outlier detection; `distribute` always. Undefined = Envoy gets
 * no priorities and no locality weights from it.
 */
export function effectiveLocalityLb(s: LocalityLoadBalancerSetting | undefined, outlierDetection: boolean): EffectiveLocalityLb | undefined {
  if (!s || s.enabled === false) return undefined;
  const eff: EffectiveLocalityLb = {
    ...(s.distribute?.length ? { distribute: s.distribute.map((d) => ({ from: d.from, to: { ...d.to } })) } : {}),
    ...(s.failover?.length ? { failover: s.failover.map((f) => ({ from: f.from, to: f.to })) } : {}),
    ...(s.failoverPriority?.length ? { failoverPriority: [...s.failoverPriority] } : {}),
    outlierDetection,
  };
  return localityLbActive(eff) ? eff : undefined;
}

export interface EffectiveTrafficPolicy {
  loadBalancer: EffectiveLoadBalancer;
  /** localityLbSetting, when it changes Istio's load assignment (distribute, or failover with outlier detection). */
  localityLb?: EffectiveLocalityLb;
  connectionPool: EffectiveConnectionPool;
  outlierDetection?: EffectiveOutlierDetection;
  /** ISTIO_MUTUAL unless DISABLE: every lab workload has a sidecar, so auto-mTLS means mTLS. */
  tlsMode: NonNullable<ClientTLSSettings['mode']>;
}

/** Effective policy for traffic to `subset` (or the whole host when no subset) of a DestinationRule. */
export function effectiveTrafficPolicy(dr: DestinationRule | undefined, subset?: string): EffectiveTrafficPolicy {
  const od = effectiveOutlierDetection(subsetTrafficPolicy(dr, subset, 'outlierDetection'));
  const lb = subsetTrafficPolicy(dr, subset, 'loadBalancer');
  const locality = effectiveLocalityLb(lb?.localityLbSetting, od !== undefined);
  return {
    loadBalancer: effectiveLoadBalancer(lb),
    ...(locality ? { localityLb: locality } : {}),
    connectionPool: effectiveConnectionPool(subsetTrafficPolicy(dr, subset, 'connectionPool')),
    ...(od ? { outlierDetection: od } : {}),
    tlsMode: subsetTrafficPolicy(dr, subset, 'tls')?.mode ?? 'ISTIO_MUTUAL',
  };
}

// ---------- routes ----------

export type EffectiveStringMatch =
  | { type: 'exact' | 'prefix' | 'regex'; value: string }
  | { type: 'present' };

export interface EffectiveMatch {
  name?: string;
  uri?: EffectiveStringMatch;
  method?: EffectiveStringMatch;
  /** Header names lower-cased. */
  headers: Record<string, EffectiveStringMatch>;
  queryParams: Record<string, EffectiveStringMatch>;
  withoutHeaders: Record<string, EffectiveStringMatch>;
  ignoreUriCase: boolean;
  sourceLabels: Record<string, string>;
  /** Present when written: the caller's namespace must equal it. */
  sourceNamespace?: string;
}

export interface EffectiveDestination {
  host: string;
  subset?: string;
  port?: number;
  /** Relative weight as written (100 for a lone destination). */
  weight: number;
  /** Share of traffic in percent (weight / total * 100). */
  percent: number;
  headers?: Headers;
}

export interface EffectiveRetry {
  attempts: number;
  perTryTimeoutMs?: number;
  retryOn: string[];
  retriableStatusCodes: number[];
  /** retries.backoff: Envoy's base interval of the jittered back-off (absent = 25 ms). */
  backoffMs?: number;
  /** retries.retryIgnorePreviousHosts as written (absent = Istio's default for the route's load balancer). */
  retryIgnorePreviousHosts?: boolean;
}

export interface EffectiveFault {
  delay?: { ms: number; percent: number };
  abort?: { httpStatus: number; percent: number };
}

export interface EffectiveRoute {
  name?: string;
  /** Empty = matches every request. */
  matches: EffectiveMatch[];
  destinations: EffectiveDestination[];
  /** 0 = no timeout (Istio's default for HTTP routes). */
  timeoutMs: number;
  retries: EffectiveRetry;
  fault?: EffectiveFault;
  mirror?: { host: string; subset?: string; port?: number; percent: number };
  headers?: Headers;
  /** As written: the sidecar compiles it against the match blocks it keeps (../rewrite.ts). */
  rewrite?: HTTPRewrite;
}

function stringMatch(m: StringMatch | undefined): EffectiveStringMatch | undefined {
  if (!m) return undefined;
  if (m.exact !== undefined) return { type: 'exact', value: m.exact };
  if (m.prefix !== undefined) return { type: 'prefix', value: m.prefix };
  if (m.regex !== undefined) return { type: 'regex', value: m.regex };
  return { type: 'present' };
}

function matchMap(m: Record<string, StringMatch> | undefined, lower: boolean): Record<string, EffectiveStringMatch> {
  const out: Record<string, EffectiveStringMatch> = {};
  for (const [k, v] of Object.entries(m ?? {})) out[lower ? k.toLowerCase() : k] = stringMatch(v ?? {})!;
  return out;
}

export function effectiveMatch(m: HTTPMatchRequest): EffectiveMatch {
  return {
    ...(m.name ? { name: m.name } : {}),
    ...(m.uri ? { uri: stringMatch(m.uri) } : {}),
    ...(m.method ? { method: stringMatch(m.method) } : {}),
    headers: matchMap(m.headers, true),
    queryParams: matchMap(m.queryParams, false),
    withoutHeaders: matchMap(m.withoutHeaders, true),
    ignoreUriCase: m.ignoreUriCase ?? false,
    sourceLabels: { ...(m.sourceLabels ?? {}) },
    ...(m.sourceNamespace !== undefined ? { sourceNamespace: m.sourceNamespace } : {}),
  };
}

/**
 * Retry policy: Istio's default when `retries` is absent; otherwise attempts as written (0 or
 * unset disables retries), retryOn defaulting to Istio's list, and numeric retryOn tokens turned
 * into retriable status codes (as Istio does).
 */
export function effectiveRetry(r: HTTPRetry | undefined): EffectiveRetry {
  if (!r) {
    return { attempts: DEFAULT_RETRY.attempts, retryOn: [...DEFAULT_RETRY.retryOn], retriableStatusCodes: [...DEFAULT_RETRY.retriableStatusCodes] };
  }
  const tokens = r.retryOn ? r.retryOn.split(',').map((t) => t.trim()).filter(Boolean) : [...DEFAULT_RETRY.retryOn];
  const codes = tokens.filter((t) => /^\d+$/.test(t)).map(Number);
  const retryOn = tokens.filter((t) => !/^\d+$/.test(t));
  if (codes.length > 0 && !retryOn.includes('retriable-status-codes')) retryOn.push('retriable-status-codes');
  const retriableStatusCodes = r.retryOn ? codes : [...DEFAULT_RETRY.retriableStatusCodes];
  return {
    attempts: r.attempts ?? 0,
    ...(r.perTryTimeout ? { perTryTimeoutMs: parseDuration(r.perTryTimeout) } : {}),
    retryOn,
    retriableStatusCodes,
    ...(r.backoff ? { backoffMs: parseDuration(r.backoff) } : {}),
    ...(r.retryIgnorePreviousHosts !== undefined ? { retryIgnorePreviousHosts: r.retryIgnorePreviousHosts } : {}),
  };
}

export function effectiveRoute(route: HTTPRoute): EffectiveRoute {
  const dests = route.route ?? [];
  const weights = dests.length === 1 ? [100] : dests.map((d) => d.weight ?? 0);
  const total = weights.reduce((a, b) => a + b, 0);
  const destinations = dests.map<EffectiveDestination>((d, i) => ({
    host: canonicalHost(d.destination.host),
    ...(d.destination.subset ? { subset: d.destination.subset } : {}),
    ...(d.destination.port?.number ? { port: d.destination.port.number } : {}),
    weight: weights[i],
    percent: total > 0 ? (weights[i] * 100) / total : 0,
    ...(d.headers ? { headers: d.headers } : {}),
  }));
  let fault: EffectiveFault | undefined;
  if (route.fault) {
    const { delay, abort } = route.fault;
    fault = {};
    // Istio: "If left unspecified, no request will be delayed/aborted" — an unset percentage is 0%.
    if (delay?.fixedDelay) fault.delay = { ms: parseDuration(delay.fixedDelay), percent: delay.percentage?.value ?? delay.percent ?? 0 };
    if (abort?.httpStatus !== undefined) fault.abort = { httpStatus: abort.httpStatus, percent: abort.percentage?.value ?? 0 };
  }
  return {
    ...(route.name ? { name: route.name } : {}),
    matches: (route.match ?? []).map(effectiveMatch),
    destinations,
    timeoutMs: route.timeout ? parseDuration(route.timeout) : 0,
    retries: effectiveRetry(route.retries),
    ...(fault ? { fault } : {}),
    ...(route.mirror
      ? {
          mirror: {
            host: canonicalHost(route.mirror.host),
            ...(route.mirror.subset ? { subset: route.mirror.subset } : {}),
            ...(route.mirror.port?.number ? { port: route.mirror.port.number } : {}),
            percent: route.mirrorPercentage?.value ?? 100,
          },
        }
      : {}),
    ...(route.headers ? { headers: route.headers } : {}),
    ...(route.rewrite ? { rewrite: route.rewrite } : {}),
  };
}

/** Routes for `host`: the VirtualService's http rules, or Istio's default single route. */
export function effectiveRoutes(resources: readonly MeshResource[], host: string): EffectiveRoute[] {
  const vs = virtualServiceFor(resources, host);
  if (vs) return (vs.spec.http ?? []).map(effectiveRoute);
  return [effectiveRoute({ route: [{ destination: { host: canonicalHost(host) } }] })];
}

export interface EffectiveSubset {
  name: string;
  labels: Record<string, string>;
  trafficPolicy: EffectiveTrafficPolicy;
}

export interface EffectiveHostConfig {
  host: string;
  virtualService?: string;
  destinationRule?: string;
  routes: EffectiveRoute[];
  /** Policy for traffic to the host without a subset. */
  trafficPolicy: EffectiveTrafficPolicy;
  subsets: EffectiveSubset[];
}

/** Everything a client sidecar needs to send traffic to `host`. */
export function effectiveHostConfig(resources: readonly MeshResource[], host: string): EffectiveHostConfig {
  const vs = virtualServiceFor(resources, host);
  const dr = destinationRuleFor(resources, host);
  return {
    host: canonicalHost(host),
    ...(vs ? { virtualService: vs.metadata.name } : {}),
    ...(dr ? { destinationRule: dr.metadata.name } : {}),
    routes: effectiveRoutes(resources, host),
    trafficPolicy: effectiveTrafficPolicy(dr),
    subsets: (dr?.spec.subsets ?? []).map((s) => ({
      name: s.name,
      labels: { ...(s.labels ?? {}) },
      trafficPolicy: effectiveTrafficPolicy(dr, s.name),
    })),
  };
}
