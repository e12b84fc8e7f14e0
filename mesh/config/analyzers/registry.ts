/**
 * The service registry as istioctl's analyzers see it (util.InitServiceEntryHostMap): every
 * ServiceEntry host and every Kubernetes Service, scoped by the namespaces it is exported to
 * ("*" = all). A destination host resolves if a scoped entry is visible from the referring namespace.
 */
import { resolveHost } from '../hosts';
import type { MeshResource } from '../types';
import type { Inventory } from '../kube';

export interface RegistryEntry {
  host: string;
  ports: { number: number; protocol?: string; name?: string }[];
  /** ServiceEntry resource, when the entry comes from one. */
  from?: MeshResource;
}

export type Registry = Map<string, RegistryEntry>; // "scope/fqdn" -> entry

const asArray = <T>(v: unknown): T[] => (Array.isArray(v) ? (v as T[]) : []);

/** Istio's ConvertHostToFQDN: only dotless, non-wildcard names get the namespace appended. */
export function toFqdn(ns: string, host: string): string {
  return resolveHost(host, ns);
}

export function buildRegistry(resources: readonly MeshResource[], inv: Inventory): Registry {
  const reg: Registry = new Map();
  for (const r of resources) {
    if (r.kind !== 'ServiceEntry') continue;
    const spec = (r.spec ?? {}) as { hosts?: unknown; exportTo?: unknown; ports?: unknown };
    const ns = r.metadata.namespace;
    const exportTo = asArray<string>(spec.exportTo);
    const ports = asArray<{ number: number; protocol?: string; name?: string }>(spec.ports).filter((p) => p && typeof p === 'object');
    for (const h of asArray<unknown>(spec.hosts)) {
      if (typeof h !== 'string') continue;
      const fq = toFqdn(ns, h);
      const scopes = exportTo.length === 0 || exportTo.includes('*') ? ['*'] : exportTo.map((e) => (e === '.' ? ns : e));
      for (const s of scopes) reg.set(`${s}/${fq}`, { host: fq, ports, from: r });
    }
  }
  for (const s of inv.services) {
    const anno = inv.serviceAnnotations?.get(`${s.namespace}/${s.name}`)?.['networking.istio.io/exportTo'];
    const scopes = !anno ? ['*'] : anno.split(',').map((x) => x.trim()).map((x) => (x === '.' ? s.namespace : x));
    const ports = s.ports.map((p) => ({ number: p.port, protocol: p.protocol, name: p.name }));
    for (const scope of scopes) reg.set(`${scope}/${s.fqdn}`, { host: s.fqdn, ports });
  }
  return reg;
}

/** util.GetDestinationHost: the entry `host` (written in namespace `ns`, resource exportTo `exportTo`) resolves to, if any. */
export function lookupHost(reg: Registry, ns: string, exportTo: string[] | undefined, host: string): RegistryEntry | undefined {
  const fq = toFqdn(ns, host);
  const all = reg.get(`*/${fq}`);
  if (all) return all;
  const scopes = !exportTo || exportTo.length === 0 ? [ns] : exportTo.map((e) => (e === '.' ? ns : e));
  for (const s of scopes) {
    const e = reg.get(`${s}/${fq}`);
    if (e) return e;
  }
  for (const [key, e] of reg) {
    const slash = key.indexOf('/');
    const scope = key.slice(0, slash);
    const seHost = key.slice(slash + 1);
    if (!seHost.startsWith('*')) continue;
    if (scope !== '*' && scope !== ns) continue;
    if (fq.replace(/^\*/, '').endsWith(seHost.slice(1))) return e;
  }
  return undefined;
}
