/**
 * Resources that compete for the same traffic: VirtualServices bound to the mesh gateway that
 * define the same host in an overlapping exportTo scope (IST0109, istioctl's
 * ConflictingMeshGatewayHostsAnalyzer), two DestinationRules for one host in one namespace (meshlab
 * does not merge them, ML0005), two PeerAuthentications with the same selector in one namespace (ML0007).
 */
import { Codes, type Message } from '../messages';
import { hostMatches, resolveHost } from '../hosts';
import { messageAt } from '../schema/validate';
import type { MeshResource } from '../types';
import type { Analyzer } from './types';
import { asArray, fullName, objOf, strings } from './util';

function byKey<T extends MeshResource>(items: Array<{ r: T; path: string; key: string }>): Map<string, Array<{ r: T; path: string }>> {
  const groups = new Map<string, Array<{ r: T; path: string }>>();
  for (const it of items) {
    const g = groups.get(it.key) ?? [];
    // A resource listing a host twice is not a conflict with itself, and two resources with the
    // same name are duplicates (reported by the duplicates analyzer), not competing resources.
    if (!g.some((x) => fullName(x.r) === fullName(it.r))) g.push({ r: it.r, path: it.path });
    groups.set(it.key, g);
  }
  return groups;
}

const names = (g: Array<{ r: MeshResource }>): string => [...new Set(g.map((x) => fullName(x.r)))].sort().join(',');

/** True if a VirtualService applies to sidecars (no gateways, or "mesh" among them). */
function boundToMesh(vs: MeshResource): boolean {
  const g = strings(objOf(vs.spec).gateways);
  return asArray(objOf(vs.spec).gateways).length === 0 || g.includes('mesh');
}

export const conflictingVirtualServices: Analyzer = (resources) => {
  // "scope/fqdn" -> VirtualServices (with the path of the host), scope "*" = exported everywhere.
  const hosts = new Map<string, Array<{ r: MeshResource; path: string }>>();
  for (const r of resources) {
    if (r.kind !== 'VirtualService' || !boundToMesh(r)) continue;
    const spec = objOf(r.spec);
    const exportTo = strings(spec.exportTo);
    const scopes = exportTo.length === 0 || exportTo.includes('*') ? ['*'] : [...new Set(exportTo.map((e) => (e === '.' ? r.metadata.namespace : e)))];
    asArray(spec.hosts).forEach((h, i) => {
      if (typeof h !== 'string') return;
      for (const scope of scopes) {
        const key = `${scope}/${resolveHost(h, r.metadata.namespace)}`;
        const list = hosts.get(key) ?? [];
        if (!list.some((x) => x.r === r)) list.push({ r, path: `spec.hosts[${i}]` });
        hosts.set(key, list);
      }
    });
  }
  const out: Message[] = [];
  const reported = new Set<string>();
  const sortedKeys = [...hosts.keys()].sort();
  for (const key of sortedKeys) {
    const slash = key.indexOf('/');
    const scope = key.slice(0, slash);
    const fq = key.slice(slash + 1);
    let list = hosts.get(key)!;
    if (scope !== '*') {
      for (const [k2, l2] of hosts) {
        if (!k2.startsWith('*/')) continue;
        if (hostMatches(fq, k2.slice(2))) list = [...list, ...l2];
      }
    }
    const distinct = [...new Map(list.map((x) => [fullName(x.r), x])).values()];
    if (distinct.length < 2) continue;
    for (const { r, path } of distinct) {
      if (reported.has(fullName(r))) continue;
      reported.add(fullName(r));
      out.push(
        messageAt(r, Codes.ConflictingMeshGatewayVirtualServiceHosts, path, `The VirtualServices ${names(distinct)} associated with mesh gateway define the same host ${key} which can lead to undefined behavior. This can be fixed by merging the conflicting VirtualServices into a single resource.`),
      );
    }
  }
  return out;
};

export const conflictingDestinationRules: Analyzer = (resources) => {
  const items: Array<{ r: MeshResource; path: string; key: string }> = [];
  for (const r of resources) {
    if (r.kind !== 'DestinationRule') continue;
    const spec = objOf(r.spec);
    // A DestinationRule with a workloadSelector applies to some workloads only; Istio merges the rest.
    if (typeof spec.host === 'string' && !spec.workloadSelector) items.push({ r, path: 'spec.host', key: `${r.metadata.namespace}/${resolveHost(spec.host, r.metadata.namespace)}` });
  }
  const out: Message[] = [];
  for (const [key, g] of byKey(items)) {
    if (g.length < 2) continue;
    const host = key.slice(key.indexOf('/') + 1);
    for (const { r, path } of g) {
      out.push(
        messageAt(r, Codes.ConflictingDestinationRules, path, `The DestinationRules ${names(g)} define the same host ${host}; meshlab does not merge DestinationRules. Merge their subsets and trafficPolicy into a single resource.`),
      );
    }
  }
  return out;
};

function selectorKey(pa: MeshResource): string {
  const labels = objOf(objOf(objOf(pa.spec).selector).matchLabels);
  return `${pa.metadata.namespace}|${JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)))}`;
}

export const conflictingPeerAuthentications: Analyzer = (resources) => {
  const items = resources
    .filter((r) => r.kind === 'PeerAuthentication' && r.spec && typeof r.spec === 'object')
    .map((r) => ({ r, path: objOf(r.spec).selector ? 'spec.selector' : 'metadata.name', key: selectorKey(r) }));
  const out: Message[] = [];
  for (const [key, g] of byKey(items)) {
    if (g.length < 2) continue;
    const sel = key.slice(key.indexOf('|') + 1);
    const what = sel === '[]' ? `are all namespace-wide (no selector) in namespace ${g[0].r.metadata.namespace}` : `select the same workloads (${sel})`;
    for (const { r, path } of g) {
      out.push(messageAt(r, Codes.ConflictingPeerAuthentications, path, `The PeerAuthentications ${names(g)} ${what}; which one applies would be undefined. Keep one.`));
    }
  }
  return out;
};
