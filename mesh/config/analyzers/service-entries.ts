/**
 * istioctl's ServiceEntry analyzers: TCP (or protocol-less) ports without addresses (IST0134), and
 * ServiceEntries visible in one scope that give one host:port different protocols (IST0177).
 */
import { Codes, type Message } from '../messages';
import { messageAt } from '../schema/validate';
import type { MeshResource } from '../types';
import type { Analyzer } from './types';
import { asArray, fullName, objOf, strings } from './util';

export const serviceEntryAddresses: Analyzer = (resources) => {
  const out: Message[] = [];
  for (const se of resources) {
    if (se.kind !== 'ServiceEntry') continue;
    const spec = objOf(se.spec);
    if (spec.addresses !== undefined && spec.addresses !== null) continue;
    asArray(spec.ports).forEach((p, i) => {
      const proto = objOf(p).protocol;
      if (proto === undefined || proto === '' || (typeof proto === 'string' && proto.toUpperCase() === 'TCP')) {
        out.push(messageAt(se, Codes.ServiceEntryAddressesRequired, `spec.ports[${i}]`, 'ServiceEntry addresses are required for this protocol.'));
      }
    });
  }
  return out;
};

export const serviceEntryProtocols: Analyzer = (resources) => {
  const index = new Map<string, { scope: string; host: string; port: number; entries: { protocol: string; r: MeshResource }[] }>();
  for (const se of resources) {
    if (se.kind !== 'ServiceEntry') continue;
    const spec = objOf(se.spec);
    const exportTo = strings(spec.exportTo);
    const scopes = exportTo.length === 0 || exportTo.includes('*') ? ['*'] : [...new Set(exportTo.map((e) => (e === '.' ? se.metadata.namespace : e)))];
    for (const scope of scopes) {
      for (const host of strings(spec.hosts)) {
        for (const p of asArray(spec.ports).map(objOf)) {
          if (typeof p.number !== 'number') continue;
          const key = `${scope}|${host}|${p.number}`;
          const e = index.get(key) ?? { scope, host, port: p.number, entries: [] };
          e.entries.push({ protocol: typeof p.protocol === 'string' ? p.protocol : '', r: se });
          index.set(key, e);
        }
      }
    }
  }
  const out: Message[] = [];
  const reported = new Set<string>();
  for (const { scope, host, port, entries: own } of index.values()) {
    const entries = scope === '*' ? own : [...own, ...(index.get(`*|${host}|${port}`)?.entries ?? [])];
    const protocols = [...new Set(entries.map((e) => e.protocol.toUpperCase()))].sort();
    if (protocols.length < 2) continue;
    const names = [...new Set(entries.map((e) => fullName(e.r)))].sort().join(', ');
    for (const e of entries) {
      if (reported.has(fullName(e.r))) continue;
      reported.add(fullName(e.r));
      out.push(messageAt(e.r, Codes.ConflictingServiceEntryProtocol, 'metadata.name', `Multiple ServiceEntries (${names}) define the same host ${JSON.stringify(host)} and port ${port} with conflicting protocols (${protocols.join(', ')}).`));
    }
  }
  return out;
};
