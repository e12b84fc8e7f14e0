/**
 * VirtualService `tcp` and `tls` routes → what one sidecar's TCP listeners run, as Istio's
 * pilot/pkg/networking/core (tls.go) builds the filter chains of an outbound listener: one listener per
 * captured destination (service, port). A TLS listener routes by its `tls` rules on SNI (passthrough:
 * the bytes are never decrypted), an SNI no rule names meeting no filter chain; a TCP listener by its
 * `tcp` rules, the first that applies taking the listener's connections; with no VirtualService, or
 * no rule applying, the destination service itself (Istio's default route).
 * `port` and `destinationSubnets` are matched against the captured destination (the address the app
 * dialled), `sourceLabels` / `sourceNamespace` against this sidecar — settled here, once, as Istio
 * settles them when it generates a proxy's listeners. Weighted destinations keep Istio's relative
 * weights (a lone destination gets all). Pure; throws CompileError naming the field that cannot run.
 */
import type { Endpoint } from '../xds';
import type { DestinationRule, MeshResource, RouteDestination, VirtualService } from '../config/types';
import { canonicalHost, fqdn, hostMatches } from '../config/hosts';
import { destinationRuleFor, effectiveTrafficPolicy, subsetTrafficPolicy, virtualServiceFor, type EffectiveTrafficPolicy } from '../config/effective';
import { parseDuration } from '../config/duration';
import { sourceLabelsMatch } from '../route-match';
import { exportedTo } from '../config/runtime-view';
import { CompileError, type SidecarIdentity } from '../compile';

/** Envoy's tcp_proxy idle_timeout default, which Istio keeps when connectionPool.tcp.idleTimeout is unset. */
export const TCP_IDLE_TIMEOUT_MS = 3_600_000;

/** A destination the sidecar captures for its app (Istio: iptables sends every outbound connection to Envoy's listener for the service's port). */
export interface TcpCapture {
  /** The destination service (`rabbitmq`, `kafka`). */
  service: string;
  /** Its service port (5672, 9092). */
  port: number;
  /** The address the app means (Istio: the ClusterIP or pod IP the listener is bound to); matched by destinationSubnets. Default 127.0.0.1. */
  address?: string;
}

export interface TcpClusterSpec {
  name: string;
  service: string;
  /** The destination's service port (a peer sidecar is told it in ALPN). */
  port: number;
  subset?: string;
  endpoints: Endpoint[];
  policy: EffectiveTrafficPolicy;
  keepaliveMs?: number;
  /** Envoy's tcp_proxy idle_timeout (connectionPool.tcp.idleTimeout; default 1 h, 0 = none). */
  idleTimeoutMs: number;
  /** A cluster whose key did not change keeps its runtime state (outlier ejections, open connections). */
  settingsKey: string;
}

export interface TcpWeightedCluster {
  cluster: string;
  weight: number;
}

export interface TcpRouteSpec {
  /** `<VirtualService>.tls.<i>` / `<VirtualService>.tcp.<i>`, or the default route's cluster name. */
  name: string;
  /** tls routes: the SNI names (`*.example.com` allowed) a connection must ask for. */
  sniHosts?: string[];
  destinations: TcpWeightedCluster[];
  totalWeight: number;
}

export interface TcpListenerSpec {
  /** Envoy's listener name for the captured address: `127.0.0.1_5672`. */
  name: string;
  capture: TcpCapture;
  /** In order: tls routes (they need the ClientHello's SNI), then tcp routes, then the default route. */
  routes: TcpRouteSpec[];
  /** True when some route needs SNI: the listener reads the ClientHello before routing (tls_inspector). */
  inspectTls: boolean;
}

export interface CompiledTcp {
  clusters: Map<string, TcpClusterSpec>;
  listeners: TcpListenerSpec[];
}

/** Envoy's cluster name with the port: `outbound|5672|<subset>|rabbitmq.default.svc.cluster.local`. */
export function tcpClusterName(service: string, port: number, subset?: string, namespace?: string): string {
  const host = namespace && namespace !== 'default' && !service.includes('.') ? `${service}.${namespace}.svc.cluster.local` : fqdn(service);
  return `outbound|${port}|${subset ?? ''}|${host}`;
}

/** Is IPv4 `ip` inside `cidr` (an address alone is /32)? */
export function inSubnet(ip: string, cidr: string): boolean {
  const [net, bitsText] = cidr.split('/');
  const bits = bitsText === undefined ? 32 : Number(bitsText);
  const a = ipv4(ip);
  const b = ipv4(net);
  if (a === undefined || b === undefined) return false;
  if (bits === 0) return true;
  const mask = bits >= 32 ? 0xffffffff : (~((1 << (32 - bits)) - 1)) >>> 0;
  return ((a & mask) >>> 0) === ((b & mask) >>> 0);
}

function ipv4(s: string): number | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s);
  if (!m) return undefined;
  return m.slice(1).reduce((acc, o) => ((acc << 8) | Number(o)) >>> 0, 0);
}

function fail(vs: MeshResource, path: string, message: string): never {
  throw new CompileError(`${vs.kind} ${vs.metadata?.name ?? '?'} (${vs.source?.file ?? '<unknown>'}) ${path}: ${message}`);
}

export function compileTcp(resources: readonly unknown[], endpoints: Record<string, readonly Endpoint[]>, identity: SidecarIdentity, captures: readonly TcpCapture[], namespaces: Readonly<Record<string, string>> = {}): CompiledTcp {
  const ns = identity.namespace ?? 'default';
  const res = ((resources ?? []) as MeshResource[]).filter((r) => (r.kind !== 'VirtualService' && r.kind !== 'DestinationRule') || exportedTo(r, ns));
  const clusters = new Map<string, TcpClusterSpec>();
  const namespaceOf = (service: string): string => namespaces[service] ?? endpoints[service]?.[0]?.namespace ?? 'default';

  const ensureCluster = (service: string, port: number, subset?: string): string => {
    const name = tcpClusterName(service, port, subset, namespaceOf(service));
    if (clusters.has(name)) return name;
    const dr = destinationRuleFor(res, service) as DestinationRule | undefined;
    let selected = [...(endpoints[service] ?? [])];
    let subsetLabels: Record<string, string> | null = null;
    if (subset) {
      const s = dr?.spec.subsets?.find((x) => x.name === subset);
      subsetLabels = s?.labels ?? null;
      // A subset no DestinationRule defines has no endpoints: UH, as in Istio.
      selected = s ? selected.filter((e) => Object.entries(s.labels ?? {}).every(([k, v]) => e.labels[k] === v)) : [];
    }
    let policy: EffectiveTrafficPolicy;
    try {
      policy = effectiveTrafficPolicy(dr, subset);
    } catch (err) {
      fail(dr!, subset ? `spec.subsets[${subset}].trafficPolicy` : 'spec.trafficPolicy', (err as Error).message);
    }
    const tcpPool = subsetTrafficPolicy(dr, subset, 'connectionPool')?.tcp;
    const keepalive = tcpPool?.tcpKeepalive;
    const idleTimeoutMs = tcpPool?.idleTimeout !== undefined ? parseDuration(tcpPool.idleTimeout) : TCP_IDLE_TIMEOUT_MS;
    const keepaliveMs = keepalive ? (keepalive.time ? parseDuration(keepalive.time) : 7_200_000) : undefined; // Linux's tcp_keepalive_time default, as Envoy leaves it
    clusters.set(name, { name, service, port, subset, endpoints: selected, policy, ...(keepaliveMs !== undefined ? { keepaliveMs } : {}), idleTimeoutMs, settingsKey: JSON.stringify({ policy, subsetLabels, keepaliveMs, idleTimeoutMs }) });
    return name;
  };

  const weighted = (vs: VirtualService, path: string, route: RouteDestination[] | undefined, port: number): { destinations: TcpWeightedCluster[]; totalWeight: number } => {
    if (!route || route.length === 0) fail(vs, `${path}.route`, 'a route needs at least one destination');
    const destinations = route.map((d) => ({ cluster: ensureCluster(canonicalHost(d.destination.host), d.destination.port?.number ?? port, d.destination.subset), weight: route.length === 1 ? 100 : (d.weight ?? 0) }));
    const totalWeight = destinations.reduce((a, d) => a + d.weight, 0);
    if (totalWeight <= 0) fail(vs, `${path}.route`, 'total destination weight = 0');
    return { destinations, totalWeight };
  };

  const listeners: TcpListenerSpec[] = captures.map((capture) => {
    const address = capture.address ?? '127.0.0.1';
    const service = canonicalHost(capture.service);
    const routes: TcpRouteSpec[] = [];
    const l4Applies = (m: { port?: number; destinationSubnets?: string[]; sourceLabels?: Record<string, string>; sourceNamespace?: string }): boolean =>
      (m.port === undefined || m.port === capture.port) &&
      (!m.destinationSubnets?.length || m.destinationSubnets.some((c) => inSubnet(address, c))) &&
      sourceLabelsMatch(m.sourceLabels ?? {}, identity.labels) &&
      (m.sourceNamespace === undefined || m.sourceNamespace === ns);
    const vs = virtualServiceFor(res, service);
    // Istio builds tls filter chains for a TLS port and tcp ones for a TCP port; the lab's captures carry no port
    // protocol, so a listener is TLS when a tls rule applies to it: then only its tls rules route, and a ClientHello
    // no rule names meets no filter chain (closed, NR).
    (vs?.spec.tls ?? []).forEach((tls, i) => {
      const sni = (tls.match ?? []).filter(l4Applies).flatMap((m) => m.sniHosts.map((h) => h.toLowerCase()));
      if (sni.length === 0 || !tls.route?.length) return;
      routes.push({ name: `${vs!.metadata.name}.tls.${i}`, sniHosts: sni, ...weighted(vs!, `spec.tls[${i}]`, tls.route, capture.port) });
    });
    if (routes.length > 0) return { name: `${address}_${capture.port}`, capture, routes, inspectTls: true };
    let catchAll = false;
    for (const [i, tcp] of (vs?.spec.tcp ?? []).entries()) {
      const matching = (tcp.match ?? []).filter(l4Applies);
      if (tcp.match?.length && matching.length === 0) continue;
      routes.push({ name: `${vs!.metadata.name}.tcp.${i}`, ...weighted(vs!, `spec.tcp[${i}]`, tcp.route, capture.port) });
      // Istio stops at a rule without match or a matching match without destinationSubnets; a match by
      // destinationSubnets gets a filter chain for those CIDRs, which on a listener of one address (the captured
      // one, which they contain) takes every connection too.
      catchAll = true;
      break;
    }
    if (!catchAll) {
      const cluster = ensureCluster(service, capture.port);
      routes.push({ name: cluster, destinations: [{ cluster, weight: 100 }], totalWeight: 100 });
    }
    return { name: `${address}_${capture.port}`, capture, routes, inspectTls: false };
  });
  return { clusters, listeners };
}

/** Does SNI `name` match one of `patterns` (exact, or `*.suffix`)? */
export function sniMatches(patterns: readonly string[], name: string | undefined): boolean {
  if (name === undefined) return false;
  return patterns.some((p) => p === '*' || hostMatches(p, name));
}
