import { stringify } from 'yaml';
import { canonicalHost, sameHost } from '../../config/hosts';
import { destinationRuleFor, virtualServiceFor } from '../../config/effective';
import type { Message } from '../../config/messages';
import type { DestinationRule, MeshResource, VirtualService, WorkloadSelector } from '../../config/types';
import type { Endpoint } from '../../xds';
import { worldHost, type WorldNamespaces } from '../../config/runtime-view';

/** The Istio YAML of one resource, as it would be applied again. */
export interface PolicyDoc {
  kind: string;
  name: string;
  file?: string;
  yaml: string;
}

export interface ServicePolicies {
  /** A service name, or "mesh-wide" for policies with no workload selector. */
  service: string;
  resources: PolicyDoc[];
  messages: Message[];
}

export const MESH_WIDE = 'mesh-wide';

function toYaml(r: MeshResource): string {
  return stringify({ apiVersion: r.apiVersion, kind: r.kind, metadata: { name: r.metadata.name, namespace: r.metadata.namespace }, spec: r.spec });
}

/**
 * Which services a resource is about: VirtualService hosts, DestinationRule host (resolved in the
 * resource's namespace as the sidecars get them: `payments` written in `team` is payments.team),
 * a security policy's `app` selector.
 */
export function servicesOf(r: MeshResource, services: readonly string[], world: WorldNamespaces = new Map()): string[] {
  const ns = r.metadata.namespace ?? 'default';
  const host = (h: string): string => {
    const w = worldHost(h, ns, world);
    return canonicalHost(w.startsWith('absent.') ? w.slice('absent.'.length) : w); // a service that does not exist: its FQDN
  };
  if (r.kind === 'VirtualService') return (r as VirtualService).spec.hosts.map(host);
  if (r.kind === 'DestinationRule') return [host((r as DestinationRule).spec.host)];
  const selector = (r.spec as { selector?: WorkloadSelector }).selector;
  const app = selector?.matchLabels?.app;
  if (!selector?.matchLabels || Object.keys(selector.matchLabels).length === 0) return [MESH_WIDE];
  return app ? [app] : services.slice();
}

/** The config in force grouped per service, each with the analyzer's messages about its resources. */
export function policiesByService(resources: readonly MeshResource[], messages: readonly Message[], services: readonly string[], world: WorldNamespaces = new Map()): ServicePolicies[] {
  const groups = new Map<string, ServicePolicies>();
  const group = (s: string): ServicePolicies => groups.get(s) ?? groups.set(s, { service: s, resources: [], messages: [] }).get(s)!;
  for (const s of services) group(s);
  for (const r of resources) {
    for (const s of servicesOf(r, services, world)) {
      const g = group(s);
      g.resources.push({ kind: r.kind, name: r.metadata.name, file: r.source?.file, yaml: toYaml(r) });
      for (const m of messages) {
        // Messages name resources as istioctl does: `Kind namespace/name`.
        if (m.resource === `${r.kind} ${r.metadata.namespace ?? 'default'}/${r.metadata.name}` && !g.messages.includes(m)) g.messages.push(m);
      }
    }
  }
  return [...groups.values()].sort((a, b) => (a.service === MESH_WIDE ? 1 : b.service === MESH_WIDE ? -1 : a.service.localeCompare(b.service)));
}

/** One subset's configured weight beside its measured share. */
export interface SplitRow {
  subset: string;
  /** The subset's `version` label (what the metrics call destination_version). */
  version?: string;
  /** Percent from the VirtualService's catch-all route; by ready endpoint count when no VirtualService routes the host. */
  configured: number;
  /** Percent of requests to the service over the window, by destination version; null without traffic. */
  measured: number | null;
  endpoints: number;
}

export interface ServiceSplit {
  service: string;
  /** "VirtualService payments" or "no VirtualService: by ready endpoints (round robin)". */
  source: string;
  rows: SplitRow[];
  /** Requests seen over the window. */
  requests: number;
  /** Other routes (with match conditions) that also send traffic here, described in one line each. */
  matchRoutes: string[];
}

function describeMatch(m: NonNullable<VirtualService['spec']['http']>[number]): string {
  const cond = (m.match ?? []).map((x) => JSON.stringify(x)).join(' or ');
  const dests = (m.route ?? []).map((d) => `${d.destination.subset ?? d.destination.host}${d.weight !== undefined ? ` ${d.weight}%` : ''}`).join(', ');
  return `${m.name ? `${m.name}: ` : ''}when ${cond} → ${dests}`;
}

/**
 * Traffic split per service with DestinationRule subsets: the configured weights of the
 * VirtualService's catch-all route (the one without `match`), beside the measured share of
 * requests per version (`versionCounts`, summed over every caller).
 */
export function trafficSplits(resources: readonly MeshResource[], endpoints: Record<string, Endpoint[]>, versionCounts: (service: string) => Record<string, number>): ServiceSplit[] {
  const out: ServiceSplit[] = [];
  for (const service of Object.keys(endpoints).sort()) {
    const dr = destinationRuleFor(resources, service);
    const subsets = dr?.spec.subsets ?? [];
    if (subsets.length === 0) continue;
    const eps = endpoints[service] ?? [];
    const selects = (labels: Record<string, string> = {}): number => eps.filter((e) => Object.entries(labels).every(([k, v]) => e.labels[k] === v)).length;
    const counts = versionCounts(service);
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    const vs = virtualServiceFor(resources, service);
    const http = vs?.spec.http ?? [];
    const catchAll = http.find((h) => !h.match || h.match.length === 0) ?? http[http.length - 1];
    const weights = new Map<string, number>();
    let source: string;
    if (vs && catchAll?.route?.length) {
      source = `VirtualService ${vs.metadata.name}`;
      const dests = catchAll.route.filter((d) => sameHost(d.destination.host, service));
      const unweighted = dests.every((d) => d.weight === undefined);
      for (const d of dests) {
        const name = d.destination.subset ?? '(all)';
        const w = unweighted ? 100 / dests.length : (d.weight ?? 0);
        weights.set(name, (weights.get(name) ?? 0) + w);
      }
    } else {
      source = 'no VirtualService: spread over ready endpoints (round robin)';
      const n = eps.length;
      for (const s of subsets) weights.set(s.name, n ? (100 * selects(s.labels)) / n : 0);
    }
    const rows: SplitRow[] = subsets.map((s) => {
      const version = s.labels?.version;
      const measured = total > 0 && version ? (100 * (counts[version] ?? 0)) / total : total > 0 ? null : null;
      return { subset: s.name, version, configured: round1(weights.get(s.name) ?? 0), measured: measured === null ? null : round1(measured), endpoints: selects(s.labels ?? {}) };
    });
    out.push({ service, source, rows, requests: total, matchRoutes: http.filter((h) => h !== catchAll && h.match?.length).map(describeMatch) });
  }
  return out;
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}
