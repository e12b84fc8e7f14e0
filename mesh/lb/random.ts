import { untried, type LbContext, type LoadBalancer } from './types';
import type { UpstreamHost } from '../upstream-host';
import type { Rng } from '../rng';

/** Envoy's RANDOM: a uniformly random healthy host (not one already tried by this request, when others remain). */
export class RandomLb implements LoadBalancer {
  readonly name = 'RANDOM';
  constructor(private readonly rng: Rng) {}

  pick(hosts: readonly UpstreamHost[], ctx: LbContext): UpstreamHost | undefined {
    const pool = untried(hosts, ctx.tried);
    if (pool.length === 0) return undefined;
    return pool[Math.floor(this.rng() * pool.length)];
  }
}
