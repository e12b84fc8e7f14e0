import { untried, type LbContext, type LoadBalancer } from './types';
import type { UpstreamHost } from '../upstream-host';
import type { Rng } from '../rng';

/**
 * Envoy's LEAST_REQUEST with equal weights (Istio's default): power of two choices — draw two hosts
 * at random and take the one with fewer active requests (the first on a tie). Cheap, and avoids the
 * herd that "always the global least" causes.
 */
export class LeastRequestLb implements LoadBalancer {
  readonly name = 'LEAST_REQUEST';
  constructor(private readonly rng: Rng) {}

  pick(hosts: readonly UpstreamHost[], ctx: LbContext): UpstreamHost | undefined {
    const pool = untried(hosts, ctx.tried);
    const n = pool.length;
    if (n === 0) return undefined;
    if (n === 1) return pool[0];
    const a = pool[Math.floor(this.rng() * n)];
    const b = pool[Math.floor(this.rng() * n)];
    return b.activeRequests < a.activeRequests ? b : a;
  }
}
