/**
 * Gateway checks as istioctl runs them: a selector no pod matches (IST0101), a server port the
 * selected pods' Services do not expose (IST0162), two Gateways on the same workload and port
 * claiming the same host (IST0145), and VirtualServices naming a Gateway that does not exist
 * (IST0101), an implementation-generated one (IST0165), or one that serves none of its hosts (IST0132).
 */
import { Codes, type Message } from '../messages';
import { messageAt } from '../schema/validate';
import { hostMatches } from '../hosts';
import { selectsLabels } from '../kube';
import type { MeshResource } from '../types';
import type { Analyzer } from './types';

const asArray = <T>(v: unknown): T[] => (Array.isArray(v) ? (v as T[]) : []);
const objOf = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
const strMap = (v: unknown): Record<string, string> => Object.fromEntries(Object.entries(objOf(v)).map(([k, x]) => [k, String(x)]));

/** klabels.SelectorFromSet(...).String(): "k=v,k2=v2", keys sorted. */
export function selectorString(sel: Record<string, string>): string {
  return Object.keys(sel).sort().map((k) => `${k}=${sel[k]}`).join(',');
}

interface Server {
  port?: { number?: number };
  hosts?: unknown;
  bind?: unknown;
}

const serversOf = (gw: MeshResource): Server[] => asArray<unknown>(objOf(gw.spec).servers).map(objOf) as Server[];
const fullName = (r: MeshResource): string => `${r.metadata.namespace}/${r.metadata.name}`;

export const gatewayPorts: Analyzer = (resources, ctx) => {
  const inv = ctx.inventory!;
  // istioctl skips this analyzer when it has no pods to read (its inputs are Gateway, Pod, Service).
  if (!inv.workloadsKnown) return [];
  const out: Message[] = [];
  for (const gw of resources) {
    if (gw.kind !== 'Gateway') continue;
    const sel = strMap(objOf(gw.spec).selector);
    const sels = selectorString(sel);
    const pods = inv.workloads.filter((w) => selectsLabels(sel, w.labels));
    if (pods.length === 0) {
      out.push(messageAt(gw, Codes.ReferencedResourceNotFound, 'spec.selector', `Referenced selector not found: ${JSON.stringify(sels)}`));
      continue;
    }
    const ports = new Set<number>();
    for (const pod of pods) {
      for (const svc of inv.services) {
        if (svc.namespace !== pod.namespace || !svc.selector || !selectsLabels(svc.selector, pod.labels)) continue;
        for (const p of svc.ports) {
          if ((p.protocol ?? 'TCP') !== 'TCP') continue;
          const tp = typeof p.targetPort === 'number' ? p.targetPort : undefined;
          ports.add(tp ?? p.port);
          ports.add(p.port);
        }
      }
    }
    for (const s of serversOf(gw)) {
      const n = objOf(s.port).number;
      if (typeof n === 'number' && !ports.has(n)) {
        out.push(messageAt(gw, Codes.GatewayPortNotDefinedOnService, 'spec.selector', `The gateway is listening on a target port (port ${n}) that is not defined in the Service associated with its workload instances (Pod selector ${sels}). If you need to access the gateway port through the gateway Service, it will not be available.`));
      }
    }
  }
  return out;
};

/** model.CheckDuplicates: a host already bound (same bind) on that workload and port. */
function conflicts(hosts: string[], bind: string, known: Map<string, string>): boolean {
  for (const h of hosts) {
    for (const [k, b] of known) if (b === bind && hostMatches(k, h)) return true;
  }
  return false;
}

export const conflictingGateways: Analyzer = (resources, ctx) => {
  const inv = ctx.inventory!;
  const gws = resources.filter((r) => r.kind === 'Gateway');
  // "selector~port" -> gateway full name -> host -> bind
  const map = new Map<string, Map<string, Map<string, string>>>();
  for (const gw of gws) {
    const sels = selectorString(strMap(objOf(gw.spec).selector));
    for (const s of serversOf(gw)) {
      const key = `${sels}~${String(objOf(s.port).number ?? 0)}`;
      const g = map.get(key) ?? new Map<string, Map<string, string>>();
      const hb = new Map<string, string>();
      for (const h of asArray<unknown>(s.hosts)) if (typeof h === 'string') hb.set(h, typeof s.bind === 'string' ? s.bind : '');
      g.set(fullName(gw), hb);
      map.set(key, g);
    }
  }
  const parseSel = (s: string): Record<string, string> => Object.fromEntries(s.split(',').filter(Boolean).map((kv) => kv.split('=') as [string, string]));
  const out: Message[] = [];
  for (const gw of gws) {
    const sel = strMap(objOf(gw.spec).selector);
    const sels = selectorString(sel);
    const hit = new Map<string, Map<string, Map<string, string>>>();
    for (const [key, g] of map) {
      const xs = key.slice(0, key.lastIndexOf('~'));
      let matched = xs === sels;
      if (!matched && (xs.includes(sels) || sels.includes(xs))) {
        const xsel = parseSel(xs);
        matched = inv.workloads.some((w) => selectsLabels(sel, w.labels) && selectsLabels(xsel, w.labels));
      }
      if (matched) hit.set(key, g);
    }
    if (sels !== '' && hit.size === 0 && inv.workloadsKnown) {
      out.push(messageAt(gw, Codes.ReferencedResourceNotFound, 'spec.selector', `Referenced selector not found: ${JSON.stringify(sels)}`));
      continue;
    }
    for (const s of serversOf(gw)) {
      const port = String(objOf(s.port).number ?? 0);
      const names: string[] = [];
      const hosts = asArray<unknown>(s.hosts).filter((h): h is string => typeof h === 'string');
      for (const [key, g] of hit) {
        if (key.slice(key.lastIndexOf('~') + 1) !== port) continue;
        for (const [name, hb] of g) {
          if (name !== fullName(gw) && conflicts(hosts, typeof s.bind === 'string' ? s.bind : '', hb)) names.push(name);
        }
      }
      if (names.length > 0) {
        out.push(messageAt(gw, Codes.ConflictingGateways, 'spec.servers', `Conflict with gateways ${names.sort().join(',')} (workload selector ${sels}, port ${port}, hosts ${hosts.join(',')}).`));
      }
    }
  }
  return out;
};

/** Gateway hosts visible to a VirtualService in `vsNs` (host.NamesForNamespace after sanitizeServerHostNamespace). */
function gatewayHostsFor(gw: MeshResource, vsNs: string): string[] {
  const out: string[] = [];
  for (const s of serversOf(gw)) {
    for (const h of asArray<unknown>(s.hosts)) {
      if (typeof h !== 'string') continue;
      const slash = h.indexOf('/');
      if (slash < 0) {
        out.push(h);
        continue;
      }
      let ns = h.slice(0, slash);
      const name = h.slice(slash + 1);
      if (ns === '.') ns = gw.metadata.namespace;
      if (ns === '*' || ns === vsNs) out.push(name);
    }
  }
  return out;
}

export const virtualServiceGateways: Analyzer = (resources, ctx) => {
  const out: Message[] = [];
  const gws = new Map(resources.filter((r) => r.kind === 'Gateway').map((g) => [fullName(g), g]));
  const kubeGws = new Map(
    (ctx.objects ?? [])
      .filter((o) => o.kind === 'Gateway' && o.apiVersion.startsWith('gateway.networking.k8s.io/'))
      .map((o) => [`${o.metadata.namespace || 'default'}/${o.metadata.name}`, o]),
  );
  for (const vs of resources) {
    if (vs.kind !== 'VirtualService') continue;
    const spec = objOf(vs.spec);
    const vsHosts = asArray<unknown>(spec.hosts).filter((h): h is string => typeof h === 'string');
    asArray<unknown>(spec.gateways).forEach((g, i) => {
      if (typeof g !== 'string' || g === 'mesh') return;
      const path = `spec.gateways[${i}]`;
      // kubeconfig.IsInternalGatewayReference: names generated for Kubernetes Gateways.
      if (g.includes("~istio-autogenerated-k8s-gateway")) {
        out.push(messageAt(vs, Codes.ReferencedInternalGateway, path, `Gateway reference in VirtualService ${fullName(vs)} is to an implementation-generated internal Gateway: ${g}.`));
        return;
      }
      const full = g.includes('/') ? g : `${vs.metadata.namespace}/${g}`;
      const gw = gws.get(full);
      const kgw = gw ? undefined : kubeGws.get(full);
      if (!gw && !kgw) out.push(messageAt(vs, Codes.ReferencedResourceNotFound, path, `Referenced gateway not found: ${JSON.stringify(g)}`));
      let match: boolean;
      if (kgw) {
        const listeners = asArray<unknown>(objOf(kgw.raw.spec).listeners).map(objOf);
        match = listeners.some((l) => typeof l.hostname !== 'string' || l.hostname === '') || listeners.some((l) => vsHosts.some((h) => hostMatches(String(l.hostname), h)));
      } else {
        const ghs = gw ? gatewayHostsFor(gw, vs.metadata.namespace) : [];
        match = ghs.some((gh) => vsHosts.some((h) => hostMatches(gh, h)));
      }
      if (!match) {
        out.push(messageAt(vs, Codes.VirtualServiceHostNotFoundInGateway, path, `one or more host [${vsHosts.join(' ')}] defined in VirtualService ${fullName(vs)} not found in Gateway ${full}.`));
      }
    });
  }
  return out;
};
