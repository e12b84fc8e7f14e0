import type { UpstreamHost } from '../upstream-host';

/** What a load balancer may look at to choose a host. */
export interface LbContext {
  /** Hosts already tried for this request (retries prefer others: Envoy's previous_hosts predicate). */
  tried?: ReadonlySet<UpstreamHost>;
  /** Hash key for consistent hashing, when the route's policy computes one. */
  hashKey?: string;
}

/** Chooses one host among the healthy ones. Implementations keep their own state (round-robin cursor, ring). */
export interface LoadBalancer {
  readonly name: string;
  pick(hosts: readonly UpstreamHost[], ctx: LbContext): UpstreamHost | undefined;
}
