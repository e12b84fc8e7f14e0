import type { Endpoint } from './xds';
import { UpstreamHost } from './upstream-host';
import type { LbContext, LoadBalancer } from './lb/types';
import { RoundRobin } from './lb/round-robin';

/**
 * An Envoy cluster: the endpoints of one service (or subset), a load balancer over the healthy ones,
 * and one connection pool per endpoint. Endpoint updates keep the pools of endpoints that stay, so
 * a config push never drops a live connection.
 */
export class Cluster {
  readonly name: string;
  private hosts: UpstreamHost[] = [];
  private readonly byKey = new Map<string, UpstreamHost>();
  lb: LoadBalancer;

  constructor(name: string, lb: LoadBalancer = new RoundRobin()) {
    this.name = name;
    this.lb = lb;
  }

  /** Replaces the endpoint set; hosts that remain keep their pools and counters. */
  setEndpoints(endpoints: readonly Endpoint[]): void {
    const next: UpstreamHost[] = [];
    const keep = new Set<string>();
    for (const ep of endpoints) {
      const key = `${ep.host}:${ep.port}`;
      keep.add(key);
      let host = this.byKey.get(key);
      if (!host || host.endpoint.instance !== ep.instance) {
        host?.close();
        host = new UpstreamHost(ep);
        this.byKey.set(key, host);
      }
      next.push(host);
    }
    for (const [key, host] of this.byKey) {
      if (!keep.has(key)) {
        host.close();
        this.byKey.delete(key);
      }
    }
    this.hosts = next;
  }

  /** All hosts, healthy or not. */
  get members(): readonly UpstreamHost[] {
    return this.hosts;
  }

  /** Hosts eligible for traffic now (outlier detection filters here). */
  healthyHosts(): readonly UpstreamHost[] {
    return this.hosts;
  }

  pick(ctx: LbContext): UpstreamHost | undefined {
    return this.lb.pick(this.healthyHosts(), ctx);
  }

  close(): void {
    for (const host of this.hosts) host.close();
    this.hosts = [];
    this.byKey.clear();
  }
}
