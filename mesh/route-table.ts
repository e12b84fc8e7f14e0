import type { IncomingMessage } from 'node:http';
import type { Cluster } from './cluster';
import type { StreamInfo } from './stream-info';

/** Where a request goes: the matched route's name and its cluster. Policies (timeouts, retries, faults) attach here. */
export interface RouteResult {
  name: string;
  cluster: Cluster;
}

/** Envoy's route table: request → route, or none (404 NR). */
export interface RouteTable {
  route(req: IncomingMessage, info: StreamInfo): RouteResult | undefined;
}

/** A sidecar's outbound default: a request for service S (by Host) goes to S's cluster, if S exists. */
export class ServiceRouteTable implements RouteTable {
  constructor(private readonly clusters: ReadonlyMap<string, Cluster>) {}

  route(_req: IncomingMessage, info: StreamInfo): RouteResult | undefined {
    const cluster = this.clusters.get(info.destinationService);
    return cluster && { name: 'default', cluster };
  }
}

/** The ingress gateway's table: the first path prefix that matches picks the service. */
export class PrefixRouteTable implements RouteTable {
  constructor(
    private readonly routes: readonly { prefix: string; service: string }[],
    private readonly clusters: ReadonlyMap<string, Cluster>,
  ) {}

  route(req: IncomingMessage, info: StreamInfo): RouteResult | undefined {
    const path = req.url ?? '/';
    for (const r of this.routes) {
      if (path === r.prefix || path.startsWith(r.prefix.endsWith('/') ? r.prefix : `${r.prefix}/`) || path.startsWith(`${r.prefix}?`)) {
        const cluster = this.clusters.get(r.service);
        if (!cluster) return undefined;
        info.destinationService = r.service;
        return { name: r.prefix, cluster };
      }
    }
    return undefined;
  }
}

/** The inbound side: everything goes to the local app. */
export class LocalRouteTable implements RouteTable {
  constructor(private readonly cluster: Cluster) {}

  route(): RouteResult {
    return { name: 'inbound', cluster: this.cluster };
  }
}
