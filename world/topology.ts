/**
 * The world, defined once: which services exist, their versions and instance counts, who calls whom,
 * and the gateway's routes. The launcher, the tests and the compose generator all read this.
 */
export interface ServiceSpec {
  /** The name peers use to reach it (`payments`), also its SPIFFE service account. */
  name: string;
  /** Entry module under dist/, relative to the project root. */
  entry: string;
  /** Versions and how many instances each runs (`version` label). */
  versions: Record<string, number>;
  /** Services it calls through its sidecar (for the chaos edges and the service graph). */
  calls: string[];
  /** Whether it publishes to / consumes from the event bus. */
  bus?: 'producer' | 'consumer';
  /** Its Kubernetes namespace (default: the topology's): its SPIFFE id, the policies that select it, its metrics' namespace labels. */
  namespace?: string;
  /** Istio locality (`region/zone[/subzone]`) of instances that are not in the topology's (by instance id). */
  localities?: Record<string, string>;
}

/**
 * A path prefix the edge routes to a service. The gateway itself routes by config/default/gateway.yaml (a
 * Gateway and its VirtualService), which says the same (test/export checks it); these name the services the
 * gateway calls, for the chaos edges and the service graph.
 */
export interface GatewayRoute {
  /** Path prefix at the gateway. */
  prefix: string;
  service: string;
}

/**
 * A system outside the mesh that the world runs beside it (`World` option `externals`, world/external/): no
 * sidecar; its callers reach it by name through their own sidecars, once a ServiceEntry declares it.
 */
export interface ExternalSystemSpec {
  /** Its process name (`mail-provider`). */
  name: string;
  /** The name its callers use (`api.mail.example`), a ServiceEntry host. */
  host: string;
  /** The services that call it, each told the name in this environment variable. */
  callers: Record<string, string>;
}

export interface Topology {
  /** Kubernetes namespace of the services that name none (default "default"). */
  namespace?: string;
  services: ServiceSpec[];
  /** Systems outside the mesh (started only with the World option `externals`). */
  externals?: ExternalSystemSpec[];
  gateway: { routes: GatewayRoute[] };
  /** Istio locality (`region/zone[/subzone]`) of every instance a service does not place elsewhere. */
  locality?: string;
}

/** Two zones of one region: orders and payments-v1-0 in zone-a, payments-v1-1 and payments-v2-0 in zone-b. */
export const DEFAULT_TOPOLOGY: Topology = {
  locality: 'region-1/zone-a',
  services: [
    { name: 'orders', entry: 'services/orders/main.js', versions: { v1: 1 }, calls: ['payments'], bus: 'producer' },
    {
      name: 'payments',
      entry: 'services/payments/main.js',
      versions: { v1: 2, v2: 1 },
      calls: [],
      localities: { 'payments-v1-1': 'region-1/zone-b', 'payments-v2-0': 'region-1/zone-b' },
    },
    { name: 'notifications', entry: 'services/notifications/main.js', versions: { v1: 1 }, calls: [], bus: 'consumer' },
  ],
  externals: [{ name: 'mail-provider', host: 'api.mail.example', callers: { notifications: 'MAIL_PROVIDER_HOST' } }],
  gateway: {
    routes: [
      { prefix: '/orders', service: 'orders' },
      { prefix: '/notifications', service: 'notifications' },
      { prefix: '/api/payments', service: 'payments' },
    ],
  },
};

/** The namespace `service` runs in: its own, else the topology's, else "default". */
export function namespaceOf(topology: Topology, service: ServiceSpec): string {
  return service.namespace ?? topology.namespace ?? 'default';
}

/**
 * The services as the control plane is told them (MESH_SERVICES): `name` for the default namespace,
 * `namespace/name` otherwise. Service names are unique across namespaces in meshlab (apps call peers
 * by name), so the name alone still identifies a service.
 */
export function declaredServices(topology: Topology): string[] {
  return topology.services.map((s) => (namespaceOf(topology, s) === 'default' ? s.name : `${namespaceOf(topology, s)}/${s.name}`));
}

export interface InstanceSpec {
  /** Unique instance name, e.g. `payments-v1-0`. */
  id: string;
  /** Istio locality `region/zone[/subzone]`; '' when the topology names none. */
  locality: string;
  service: ServiceSpec;
  version: string;
  index: number;
}

/** Every instance the topology asks for, in a stable order. */
export function instancesOf(topology: Topology): InstanceSpec[] {
  const out: InstanceSpec[] = [];
  for (const service of topology.services) {
    for (const [version, count] of Object.entries(service.versions)) {
      for (let index = 0; index < count; index++) {
        const id = `${service.name}-${version}-${index}`;
        out.push({ id, locality: service.localities?.[id] ?? topology.locality ?? '', service, version, index });
      }
    }
  }
  return out;
}

/** A copy of the topology with some versions' instance counts changed (tests, scenarios). */
export function withInstances(topology: Topology, service: string, versions: Record<string, number>): Topology {
  return {
    ...topology,
    services: topology.services.map((s) => (s.name === service ? { ...s, versions: { ...versions } } : s)),
  };
}

/**
 * The labels Istio gives a workload in `locality` (the node's topology.kubernetes.io/region and
 * zone, the pod's topology.istio.io/subzone): endpoints carry them to every caller's sidecar, and a
 * sidecar's own tell it where it runs (mesh/lb/locality.ts).
 */
export function localityLabels(locality: string): Record<string, string> {
  const [region, zone, subzone] = locality.split('/');
  return {
    ...(region ? { 'topology.kubernetes.io/region': region } : {}),
    ...(zone ? { 'topology.kubernetes.io/zone': zone } : {}),
    ...(subzone ? { 'topology.istio.io/subzone': subzone } : {}),
  };
}
