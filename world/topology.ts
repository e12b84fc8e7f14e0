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
}

export interface GatewayRoute {
  /** Path prefix at the gateway. */
  prefix: string;
  service: string;
}

export interface Topology {
  /** Kubernetes namespace of every service (default "default"): config analysis and `meshlab get -n` use it. */
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
