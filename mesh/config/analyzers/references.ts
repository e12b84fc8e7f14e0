/**
 * References from VirtualServices to destinations, as istioctl's virtualservice analyzers check them:
 * - DestinationRuleAnalyzer: a route/mirror subset no DestinationRule defines for that host (IST0101);
 * - DestinationHostAnalyzer: a host no Service or ServiceEntry visible from the VirtualService's
 *   namespace defines (IST0101), a port the service does not expose (IST0101), a service with several
 *   ports and no port in the destination (IST0112), and subset-less routes of a gateway-bound
 *   VirtualService to a host another VirtualService splits by subset (IST0140).
 * Host checks need a known registry (Service objects, ServiceEntries or the running world).
 */
import { Codes, type Message } from '../messages';
import { messageAt } from '../schema/validate';
import { resolveHost } from '../hosts';
import type { MeshResource } from '../types';
import type { Analyzer } from './types';
import { buildRegistry, lookupHost } from './registry';

interface Dest {
  host?: unknown;
  subset?: unknown;
  port?: { number?: unknown };
}

interface Annotated {
  kind: 'route' | 'mirror';
  d: Dest;
  path: string;
}

const asArray = <T>(v: unknown): T[] => (Array.isArray(v) ? (v as T[]) : []);
const objOf = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

/** Every destination of a VirtualService (tcp, tls, http routes, then http mirrors), with its path. */
export function destinations(vs: MeshResource): Annotated[] {
  const spec = objOf(vs.spec);
  const out: Annotated[] = [];
  for (const section of ['tcp', 'tls', 'http'] as const) {
    asArray<unknown>(spec[section]).forEach((rule, i) => {
      asArray<unknown>(objOf(rule).route).forEach((rd, j) => {
        // A route without a destination (`- {}`) names host "" — not found, as istioctl reports it.
        out.push({ kind: 'route', d: objOf(objOf(rd).destination) as Dest, path: `spec.${section}[${i}].route[${j}].destination` });
      });
    });
  }
  asArray<unknown>(spec.http).forEach((rule, i) => {
    const m = objOf(rule).mirror;
    if (m && typeof m === 'object') out.push({ kind: 'mirror', d: m as Dest, path: `spec.http[${i}].mirror` });
    asArray<unknown>(objOf(rule).mirrors).forEach((mm, j) => {
      const d = objOf(mm).destination;
      if (d && typeof d === 'object') out.push({ kind: 'mirror', d: d as Dest, path: `spec.http[${i}].mirrors[${j}].destination` });
    });
  });
  return out;
}

export const destinationReferences: Analyzer = (resources) => {
  const known = new Set<string>();
  for (const r of resources) {
    if (r.kind !== 'DestinationRule') continue;
    const spec = objOf(r.spec);
    if (typeof spec.host !== 'string') continue;
    for (const s of asArray<unknown>(spec.subsets)) {
      const name = objOf(s).name;
      if (typeof name === 'string') known.add(`${resolveHost(spec.host, r.metadata.namespace)}+${name}`);
    }
  }
  const out: Message[] = [];
  for (const r of resources) {
    if (r.kind !== 'VirtualService') continue;
    for (const { kind, d, path } of destinations(r)) {
      if (typeof d.subset !== 'string' || d.subset === '' || typeof d.host !== 'string') continue;
      if (known.has(`${resolveHost(d.host, r.metadata.namespace)}+${d.subset}`)) continue;
      const what = kind === 'mirror' ? 'mirror+subset in destinationrule' : 'host+subset in destinationrule';
      out.push(messageAt(r, Codes.ReferencedResourceNotFound, `${path}.subset`, `Referenced ${what} not found: ${JSON.stringify(`${d.host}+${d.subset}`)}`));
    }
  }
  return out;
};

export const destinationHosts: Analyzer = (resources, ctx) => {
  const inv = ctx.inventory!;
  const hasServiceEntries = resources.some((r) => r.kind === 'ServiceEntry');
  const out: Message[] = [];
  const registry = inv.servicesKnown || (hasServiceEntries && !ctx.registryOutsideConfig) ? buildRegistry(resources, inv) : undefined;
  const vss = resources.filter((r) => r.kind === 'VirtualService');
  for (const r of vss) {
    const spec = objOf(r.spec);
    const exportTo = asArray<string>(spec.exportTo).filter((e) => typeof e === 'string');
    if (registry) {
      for (const { kind, d, path } of destinations(r)) {
        const host = typeof d.host === 'string' ? d.host : '';
        const e = host === '' ? undefined : lookupHost(registry, r.metadata.namespace, exportTo, host);
        if (!e) {
          out.push(messageAt(r, Codes.ReferencedResourceNotFound, host === '' ? path : `${path}.host`, `Referenced ${kind === 'mirror' ? 'mirror host' : 'host'} not found: ${JSON.stringify(host)}`));
          continue;
        }
        const port = d.port && typeof d.port === 'object' ? d.port.number : undefined;
        if (port === undefined) {
          if (e.ports.length > 1) {
            out.push(messageAt(r, Codes.VirtualServiceDestinationPortSelectorRequired, `${path}.host`, `This VirtualService routes to a service ${JSON.stringify(d.host)} that exposes multiple ports [${e.ports.map((p) => p.number).join(' ')}]. Specifying a port in the destination is required to disambiguate.`));
          }
        } else if (!e.ports.some((p) => p.number === port)) {
          out.push(messageAt(r, Codes.ReferencedResourceNotFound, `${path}.port`, `Referenced host:port not found: ${JSON.stringify(`${d.host}:${String(port)}`)}`));
        }
      }
    }
    // IST0140: a gateway-bound VirtualService's subset-less route to a host another VirtualService splits by subset.
    if (asArray(spec.gateways).length === 0) continue;
    asArray<unknown>(spec.http).forEach((rule, i) => {
      asArray<unknown>(objOf(rule).route).forEach((rd, j) => {
        const d = objOf(objOf(rd).destination);
        if (typeof d.host !== 'string' || (typeof d.subset === 'string' && d.subset !== '')) return;
        for (const other of vss) {
          const subsetted = destinations(other).some(
            (x) => x.kind === 'route' && typeof x.d.subset === 'string' && x.d.subset !== '' && x.d.host === d.host && asArray(objOf(other.spec).hosts).includes(x.d.host),
          );
          if (subsetted) {
            out.push(messageAt(r, Codes.IngressRouteRulesNotAffected, `spec.http[${i}].route[${j}].destination.host`, `Subset in virtual service ${other.metadata.namespace}/${other.metadata.name} has no effect on ingress gateway ${r.metadata.namespace}/${r.metadata.name} requests`));
          }
        }
      });
    });
  }
  return out;
};
