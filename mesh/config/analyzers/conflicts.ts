/**
 * Resources that compete for the same traffic: two VirtualServices for one host (IST0109), two
 * DestinationRules for one host (meshlab does not merge them, ML0005), two PeerAuthentications
 * with the same selector (ML0007).
 */
import { Codes, type Message } from '../messages';
import { canonicalHost } from '../hosts';
import { messageAt } from '../schema/validate';
import { appliesToMesh } from '../effective';
import type { DestinationRule, MeshResource, PeerAuthentication, VirtualService } from '../types';
import type { Analyzer } from './types';

function byKey<T extends MeshResource>(items: Array<{ r: T; path: string; key: string }>): Map<string, Array<{ r: T; path: string }>> {
  const groups = new Map<string, Array<{ r: T; path: string }>>();
  for (const it of items) {
    const g = groups.get(it.key) ?? [];
    // A resource listing a host twice is not a conflict with itself, and two resources with the
    // same name are duplicates (reported by the duplicates analyzer), not competing resources.
    if (!g.some((x) => x.r.metadata.name === it.r.metadata.name)) g.push({ r: it.r, path: it.path });
    groups.set(it.key, g);
  }
  return groups;
}

const names = (g: Array<{ r: MeshResource }>): string => g.map((x) => `${x.r.metadata.name}.${x.r.metadata.namespace}`).join(',');

export const conflictingVirtualServices: Analyzer = (resources) => {
  const items: Array<{ r: VirtualService; path: string; key: string }> = [];
  for (const r of resources) {
    if (r.kind !== 'VirtualService') continue;
    const vs = r as VirtualService;
    if (!Array.isArray(vs.spec?.hosts) || !appliesToMesh(vs)) continue;
    vs.spec.hosts.forEach((h, i) => typeof h === 'string' && items.push({ r: vs, path: `spec.hosts[${i}]`, key: canonicalHost(h) }));
  }
  const out: Message[] = [];
  for (const [host, g] of byKey(items)) {
    if (g.length < 2) continue;
    for (const { r, path } of g) {
      out.push(
        messageAt(r, Codes.ConflictingMeshGatewayVirtualServiceHosts, path, `The VirtualServices ${names(g)} associated with mesh gateway define the same host ${host} which can lead to undefined behavior. This can be fixed by merging the conflicting VirtualServices into a single resource.`),
      );
    }
  }
  return out;
};

export const conflictingDestinationRules: Analyzer = (resources) => {
  const items: Array<{ r: DestinationRule; path: string; key: string }> = [];
  for (const r of resources) {
    if (r.kind !== 'DestinationRule') continue;
    const dr = r as DestinationRule;
    if (typeof dr.spec?.host === 'string') items.push({ r: dr, path: 'spec.host', key: canonicalHost(dr.spec.host) });
  }
  const out: Message[] = [];
  for (const [host, g] of byKey(items)) {
    if (g.length < 2) continue;
    for (const { r, path } of g) {
      out.push(
        messageAt(r, Codes.ConflictingDestinationRules, path, `The DestinationRules ${names(g)} define the same host ${host}; meshlab does not merge DestinationRules. Merge their subsets and trafficPolicy into a single resource.`),
      );
    }
  }
  return out;
};

function selectorKey(pa: PeerAuthentication): string {
  const labels = pa.spec?.selector?.matchLabels ?? {};
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)));
}

export const conflictingPeerAuthentications: Analyzer = (resources) => {
  const items = resources
    .filter((r): r is PeerAuthentication => r.kind === 'PeerAuthentication' && !!r.spec)
    .map((r) => ({ r, path: r.spec.selector ? 'spec.selector' : 'metadata.name', key: selectorKey(r) }));
  const out: Message[] = [];
  for (const [key, g] of byKey(items)) {
    if (g.length < 2) continue;
    const what = key === '[]' ? 'are all namespace-wide (no selector)' : `select the same workloads (${key})`;
    for (const { r, path } of g) {
      out.push(messageAt(r, Codes.ConflictingPeerAuthentications, path, `The PeerAuthentications ${names(g)} ${what}; which one applies would be undefined. Keep one.`));
    }
  }
  return out;
};
