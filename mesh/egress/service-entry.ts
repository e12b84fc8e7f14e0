/**
 * Istio's ServiceEntry, as a sidecar runs it (pilot's serviceentry controller → one outbound cluster per host
 * and port, `outbound|<port>||<host>`): a MESH_EXTERNAL host, its HTTP ports and its endpoints, exported to the
 * caller's namespace. STATIC resolution takes the endpoints' IP addresses; DNS (and DNS_ROUND_ROBIN) resolves
 * each endpoint's address — or the host itself when there are no endpoints — when a connection is made, as
 * Envoy's STRICT_DNS / LOGICAL_DNS clusters re-resolve (Node's `net.connect` does the lookup). An endpoint's
 * port is its `ports[<port name>]`, else the port's `targetPort`, else the port's number.
 *
 * meshlab's sidecar sees no original destination address, only the Host header the app sent: a request for
 * `host` reaches the entry's port 80, `host:8443` its port 8443 (the routing key is the host for port 80,
 * `host:port` otherwise). What the sidecar does not run is refused at apply with ML0003 (`runtime-support.ts`).
 */
import type { Endpoint } from '../xds';
import type { DestinationRule, MeshResource, TrafficPolicy } from '../config/types';
import { exportedTo } from '../config/runtime-view';
import { REGION_LABEL, SUBZONE_LABEL, ZONE_LABEL } from '../lb/locality';

export interface ServiceEntryPort {
  number: number;
  protocol?: string;
  name?: string;
  targetPort?: number;
}

export interface WorkloadEntryLike {
  address?: string;
  ports?: Record<string, number>;
  labels?: Record<string, string>;
  locality?: string;
}

export interface ServiceEntrySpec {
  hosts: string[];
  addresses?: string[];
  ports?: ServiceEntryPort[];
  location?: 'MESH_EXTERNAL' | 'MESH_INTERNAL';
  resolution?: 'NONE' | 'STATIC' | 'DNS' | 'DNS_ROUND_ROBIN' | 'DYNAMIC_DNS';
  endpoints?: WorkloadEntryLike[];
  exportTo?: string[];
}

/** One host and port of a ServiceEntry, as the caller's sidecar routes to it. */
export interface ExternalService {
  /** Routing key: `host` for port 80, `host:port` otherwise (the Host header's forms). */
  key: string;
  host: string;
  port: number;
  /** The ServiceEntry's namespace (destination_service_namespace). */
  namespace: string;
  /** `namespace/name` of the ServiceEntry that declared it. */
  entry: string;
  resolution: string;
  endpoints: Endpoint[];
}

/** The routing key of `host` on `port`. */
export function externalKey(host: string, port: number): string {
  return port === 80 ? host : `${host}:${port}`;
}

/** Envoy's cluster name for an external host and port (`outbound|443||api.example.com`). */
export function externalClusterName(e: { host: string; port: number }, subset?: string): string {
  return `outbound|${e.port}|${subset ?? ''}|${e.host}`;
}

/** An endpoint's `locality` (region/zone/subzone) as the labels Istio gives it. */
function localityLabels(locality: string): Record<string, string> {
  const [region, zone, subzone] = locality.split('/');
  return { ...(region ? { [REGION_LABEL]: region } : {}), ...(zone ? { [ZONE_LABEL]: zone } : {}), ...(subzone ? { [SUBZONE_LABEL]: subzone } : {}) };
}

function endpointsOf(spec: ServiceEntrySpec, host: string, port: ServiceEntryPort, namespace: string): Endpoint[] {
  const resolution = spec.resolution ?? 'NONE';
  const fallbackPort = port.targetPort || port.number;
  const list = spec.endpoints ?? [];
  // DNS without endpoints: the host itself is the address to resolve.
  if (list.length === 0) {
    if (resolution === 'STATIC') return [];
    return [{ instance: `${host}:${fallbackPort}`, service: host, namespace, labels: {}, host, port: fallbackPort }];
  }
  return list
    .filter((ep) => typeof ep.address === 'string' && ep.address !== '')
    .map((ep) => {
      const p = (port.name !== undefined ? ep.ports?.[port.name] : undefined) || fallbackPort;
      const address = ep.address as string;
      return { instance: `${address}:${p}`, service: host, namespace, labels: { ...(ep.locality ? localityLabels(ep.locality) : {}), ...(ep.labels ?? {}) }, host: address, port: p };
    });
}

/**
 * Every ServiceEntry host and port exported to namespace `ns`, by routing key. The first entry to declare a
 * host and port wins (resources in the store's order), as meshlab does not merge ServiceEntries.
 */
export function externalServices(resources: readonly MeshResource[], ns: string): Map<string, ExternalService> {
  const out = new Map<string, ExternalService>();
  for (const r of resources) {
    if (r.kind !== 'ServiceEntry' || !exportedTo(r, ns)) continue;
    const spec = r.spec as unknown as ServiceEntrySpec;
    const namespace = r.metadata.namespace ?? 'default';
    for (const raw of spec.hosts ?? []) {
      const host = raw.toLowerCase();
      for (const port of spec.ports ?? []) {
        const key = externalKey(host, port.number);
        if (out.has(key)) continue;
        out.set(key, { key, host, port: port.number, namespace, entry: `${namespace}/${r.metadata.name}`, resolution: spec.resolution ?? 'NONE', endpoints: endpointsOf(spec, host, port, namespace) });
      }
    }
  }
  return out;
}

/** A traffic policy for one port: its portLevelSettings entry for `port` replaces the policy's own fields, field by field (Istio's port-level merge). */
function policyForPort(tp: TrafficPolicy | undefined, port: number): TrafficPolicy | undefined {
  if (!tp) return tp;
  const { portLevelSettings, ...rest } = tp;
  const pls = portLevelSettings?.find((p) => p.port?.number === port);
  if (!pls) return portLevelSettings ? rest : tp;
  const { port: _port, ...fields } = pls;
  return { ...rest, ...fields };
}

/** The DestinationRule as it applies to one port of an external host (top level and each subset). */
export function destinationRuleForPort(dr: DestinationRule | undefined, port: number): DestinationRule | undefined {
  if (!dr) return dr;
  const hasPorts = !!dr.spec.trafficPolicy?.portLevelSettings || (dr.spec.subsets ?? []).some((s) => s.trafficPolicy?.portLevelSettings);
  if (!hasPorts) return dr;
  return {
    ...dr,
    spec: {
      ...dr.spec,
      trafficPolicy: policyForPort(dr.spec.trafficPolicy, port),
      ...(dr.spec.subsets ? { subsets: dr.spec.subsets.map((s) => ({ ...s, trafficPolicy: policyForPort(s.trafficPolicy, port) })) } : {}),
    },
  };
}
