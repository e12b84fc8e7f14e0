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
}

export interface GatewayRoute {
  /** Path prefix at the gateway. */
  prefix: string;
  service: string;
}

export interface Topology {
  /** Kubernetes namespace of the services that name none (default "default"). */
  namespace?: string;
  services: ServiceSpec[];
  gateway: { routes: GatewayRoute[] };
}

export const DEFAULT_TOPOLOGY: Topology = {
  services: [
    { name: 'orders', entry: 'services/orders/main.js', versions: { v1: 1 }, calls: ['payments'], bus: 'producer' },
    { name: 'payments', entry: 'services/payments/main.js', versions: { v1: 2, v2: 1 }, calls: [] },
    { name: 'notifications', entry: 'services/notifications/main.js', versions: { v1: 1 }, calls: [], bus: 'consumer' },
  ],
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
  service: ServiceSpec;
  version: string;
  index: number;
}

/** Every instance the topology asks for, in a stable order. */
export function instancesOf(topology: Topology): InstanceSpec[] {
  const out: InstanceSpec[] = [];
  for (const service of topology.services) {
    for (const [version, count] of Object.entries(service.versions)) {
      for (let index = 0; index < count; index++) out.push({ id: `${service.name}-${version}-${index}`, service, version, index });
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
