/**
 * Istio's gateway translation (pilot/pkg/networking/core/gateway.go), for the one ingress gateway: the
 * Gateways whose selector picks this workload give servers (port, protocol, hosts, tls); per server port,
 * the VirtualServices bound to one of those Gateways through `gateways:` give virtual hosts — each VS host
 * intersected with the hosts of the servers it may bind to (`ns/host`: `*` any namespace, `.` the
 * Gateway's, else that namespace; wildcards on either side, the narrower wins) — and routes, compiled by the
 * sidecars' own route compiler. A server with `tls.httpsRedirect` makes its hosts' virtual hosts answer 301
 * to https (Envoy's `require_tls: ALL`). Pure; throws CompileError (the gateway NACKs) when a bound route
 * cannot run.
 */
import type { Endpoint } from '../xds';
import type { MeshResource, VirtualService } from '../config/types';
import { compileConfig, CompileError, type HostSpec, type RouteSpec, type SidecarIdentity } from '../compile';
import { appliesToMesh } from '../config/effective';

export interface GatewayTls {
  mode: 'SIMPLE' | 'MUTUAL';
  credentialName?: string;
  serverCertificate?: string;
  privateKey?: string;
  caCertificates?: string;
}

export interface GatewayServer {
  /** `ns/name` of the Gateway. */
  gateway: string;
  port: number;
  protocol: 'HTTP' | 'HTTPS';
  /** Host part of each `ns/host`, lower-cased. */
  hosts: string[];
  /** The hosts as written (`ns/host`), for binding VirtualServices by namespace. */
  rawHosts: string[];
  tls?: GatewayTls;
  httpsRedirect: boolean;
}

/** One Envoy virtual host of a server port's route configuration. */
export interface GatewayVirtualHost {
  /** Exact names and wildcards (`*.example.test`, `*`). */
  domains: string[];
  /** Envoy's require_tls: every request answered 301 to https. */
  requireTls: boolean;
  /** The bound VirtualServices' routes in order; with `plain`, a route that only names a service. */
  routes: Array<RouteSpec & { plainService?: string }>;
}

export interface CompiledGateway {
  servers: GatewayServer[];
  /** Server port → its virtual hosts. */
  ports: Map<number, GatewayVirtualHost[]>;
  /** The clusters the routes name, compiled like a sidecar's. */
  clusters: ReturnType<typeof compileConfig>['clusters'];
  /** The mesh host table (a plain route hands over to it). */
  hosts: Map<string, HostSpec>;
}

interface GatewaySpec {
  selector?: Record<string, string>;
  servers?: Array<{ port: { number: number; protocol: string }; hosts: string[]; tls?: Record<string, unknown> }>;
}

function selects(selector: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  // Istio: a Gateway without selector selects every gateway workload (and only in its namespace with
  // PILOT_SCOPE_GATEWAY_TO_NAMESPACE, off by default).
  for (const [k, v] of Object.entries(selector ?? {})) if (labels[k] !== v) return false;
  return true;
}

/** `ns/name` a VirtualService's `gateways` entry names (short names in the VS's namespace, FQDN form too). */
export function gatewayRef(ref: string, vsNamespace: string): string {
  if (ref.includes('/')) return ref;
  const fq = /^([^.]+)\.([^.]+)\.svc\.cluster\.local$/.exec(ref);
  if (fq) return `${fq[2]}/${fq[1]}`;
  return `${vsNamespace}/${ref}`;
}

/** Host `name` covered by pattern `pattern` (`*`, `*.suffix`, or exact). */
export function hostCovers(pattern: string, name: string): boolean {
  if (pattern === '*') return true;
  if (pattern.startsWith('*.')) return name.endsWith(pattern.slice(1)) || (name.startsWith('*.') && name.endsWith(pattern.slice(1)));
  return pattern === name;
}

/** The narrower of two hosts when one covers the other (Istio's gateway host intersection), else undefined. */
export function intersectHost(vsHost: string, serverHost: string): string | undefined {
  if (hostCovers(serverHost, vsHost)) return vsHost;
  if (hostCovers(vsHost, serverHost)) return serverHost;
  return undefined;
}

/** Server hosts a VirtualService of `vsNamespace` may bind to (`ns/host`; `.` = the Gateway's namespace). */
function hostsFor(serverHosts: string[], gatewayNs: string, vsNamespace: string): string[] {
  const out: string[] = [];
  for (const h of serverHosts) {
    const slash = h.indexOf('/');
    const ns = slash < 0 ? '*' : h.slice(0, slash);
    const host = (slash < 0 ? h : h.slice(slash + 1)).toLowerCase();
    if (ns === '*' || ns === vsNamespace || (ns === '.' && vsNamespace === gatewayNs)) out.push(host);
  }
  return out;
}

const SYNTHETIC = (i: number): string => `gateway-vs-${i}.meshlab.invalid`;

/**
 * What the gateway workload `identity` runs: its servers and, per server port, virtual hosts with routes.
 * `resources` is the runtime view the control plane pushes; `endpoints` the snapshot's.
 */
export function compileGateway(resources: readonly MeshResource[], endpoints: Record<string, readonly Endpoint[]>, identity: SidecarIdentity, namespaces: Readonly<Record<string, string>> = {}): CompiledGateway {
  const servers: GatewayServer[] = [];
  const gateways = new Map<string, { ns: string; spec: GatewaySpec }>();
  for (const r of resources) {
    if (r.kind !== 'Gateway') continue;
    const spec = r.spec as GatewaySpec;
    if (!selects(spec.selector, identity.labels)) continue;
    const key = `${r.metadata.namespace}/${r.metadata.name}`;
    gateways.set(key, { ns: r.metadata.namespace, spec });
    for (const s of spec.servers ?? []) {
      const protocol = s.port.protocol.toUpperCase();
      if (protocol !== 'HTTP' && protocol !== 'HTTPS') throw new CompileError(`Gateway ${key}: server protocol ${s.port.protocol} is not run by meshlab (HTTP, HTTPS)`);
      const tls = s.tls as (GatewayTls & { httpsRedirect?: boolean }) | undefined;
      servers.push({
        gateway: key,
        port: s.port.number,
        protocol,
        hosts: s.hosts.map((h) => (h.includes('/') ? h.slice(h.indexOf('/') + 1) : h).toLowerCase()),
        rawHosts: s.hosts,
        tls: tls?.mode ? { mode: tls.mode, credentialName: tls.credentialName, serverCertificate: tls.serverCertificate, privateKey: tls.privateKey, caCertificates: tls.caCertificates } : undefined,
        httpsRedirect: protocol === 'HTTP' && tls?.httpsRedirect === true,
      });
    }
  }

  // Bound VirtualServices: each one's http routes compiled under a synthetic host by the sidecars' compiler.
  const bound: Array<{ vs: VirtualService; gateways: string[]; synthetic: string }> = [];
  const synthetic: MeshResource[] = [];
  for (const r of resources) {
    if (r.kind !== 'VirtualService') continue;
    const vs = r as VirtualService;
    const refs = (vs.spec.gateways ?? []).filter((g) => g !== 'mesh').map((g) => gatewayRef(g, vs.metadata.namespace));
    const mine = refs.filter((g) => gateways.has(g));
    if (mine.length === 0) continue;
    const host = SYNTHETIC(bound.length);
    bound.push({ vs, gateways: mine, synthetic: host });
    synthetic.push({ ...vs, metadata: { ...vs.metadata, name: vs.metadata.name }, spec: { ...vs.spec, hosts: [host], gateways: undefined, exportTo: undefined } } as unknown as MeshResource);
  }
  // The sidecars' view (mesh-bound VirtualServices) plus the synthetic ones.
  const meshOnly = resources.filter((r) => r.kind !== 'VirtualService' || appliesToMesh(r as VirtualService));
  const compiled = compileConfig([...meshOnly, ...synthetic], endpoints as Record<string, Endpoint[]>, identity, namespaces);

  const ports = new Map<number, GatewayVirtualHost[]>();
  const vhostsOf = (port: number): GatewayVirtualHost[] => {
    let v = ports.get(port);
    if (!v) ports.set(port, (v = []));
    return v;
  };
  for (const s of servers) {
    if (s.httpsRedirect) vhostsOf(s.port).push({ domains: s.hosts, requireTls: true, routes: [] });
    else vhostsOf(s.port);
  }
  for (const b of bound) {
    const spec = compiled.hosts.get(b.synthetic);
    compiled.hosts.delete(b.synthetic);
    compiled.clusters.delete(spec?.defaultCluster ?? '');
    const rules = new Map((b.vs.spec.http ?? []).map((h, i) => [h.name ?? `${b.vs.metadata.name}.${i}`, h]));
    const routes = (spec?.routes ?? []).map((r) => {
      const h = rules.get(r.name);
      const d = h?.route?.[0]?.destination;
      const plain = h && h.route?.length === 1 && d && !d.subset && !h.timeout && !h.retries && !h.fault && !h.mirror && !h.headers && !h.route[0].headers && !h.rewrite;
      return plain ? { ...r, plainService: compiled.clusters.get(r.destinations[0].cluster)?.service } : r;
    });
    for (const s of servers) {
      if (s.httpsRedirect || !b.gateways.includes(s.gateway)) continue;
      const gwNs = s.gateway.slice(0, s.gateway.indexOf('/'));
      const serverHosts = hostsFor(s.rawHosts, gwNs, b.vs.metadata.namespace);
      const domains = new Set<string>();
      for (const vh of b.vs.spec.hosts) for (const sh of serverHosts) {
        const d = intersectHost(vh.toLowerCase(), sh);
        if (d) domains.add(d);
      }
      if (domains.size === 0) continue;
      const list = vhostsOf(s.port);
      // Istio merges VirtualServices of one host into one virtual host, routes in order of the VirtualServices.
      for (const d of domains) {
        const existing = list.find((v) => !v.requireTls && v.domains.length === 1 && v.domains[0] === d);
        if (existing) existing.routes.push(...routes);
        else list.push({ domains: [d], requireTls: false, routes: [...routes] });
      }
    }
  }
  return { servers, ports, clusters: compiled.clusters, hosts: compiled.hosts };
}
