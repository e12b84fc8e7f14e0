import type { LbContext, LoadBalancer } from './types';
import type { UpstreamHost } from '../upstream-host';

/** Envoy's ROUND_ROBIN: each healthy host in turn; skips hosts already tried by this request when others remain. */
export class RoundRobin implements LoadBalancer {
  readonly name = 'ROUND_ROBIN';
  private next = 0;

  pick(hosts: readonly UpstreamHost[], ctx: LbContext): UpstreamHost | undefined {
    const n = hosts.length;
    if (n === 0) return undefined;
    for (let i = 0; i < n; i++) {
      const host = hosts[(this.next + i) % n];
      if (!ctx.tried || !ctx.tried.has(host)) {
        this.next = (this.next + i + 1) % n;
        return host;
      }
    }
    const host = hosts[this.next % n];
    this.next = (this.next + 1) % n;
    return host;
  }
}
