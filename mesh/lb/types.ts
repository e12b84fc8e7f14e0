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

/**
 * The hosts a retry may use: those not tried yet, or all of them when every host was tried
 * (Envoy's previous_hosts predicate gives up after a few re-picks and takes what it gets).
 */
export function untried(hosts: readonly UpstreamHost[], tried: ReadonlySet<UpstreamHost> | undefined): readonly UpstreamHost[] {
  if (!tried || tried.size === 0) return hosts;
  let out: UpstreamHost[] | undefined;
  for (const h of hosts) if (!tried.has(h)) (out ??= []).push(h);
  return out ?? hosts;
}
