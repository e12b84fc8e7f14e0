/**
 * One gateway server port's route configuration, as Envoy runs Istio's gateway RDS: the request's Host
 * (port dropped) picks a virtual host — exact domain first, then the longest `*.suffix`, then `*` (Envoy's
 * virtual host selection) — and its routes are tried in order, first match wins.
 *
 * Knowingly different from Istio: a route that only names a service (one destination, no subset, no
 * timeout/retries/fault/mirror/headers) hands over to that service's mesh routing (its VirtualService for
 * `mesh`), as meshlab's gateway always did, so the labs that drive `/api/payments` through the gateway
 * still see the payments VirtualService act. Istio's gateway would send such a request to the service as
 * a whole (analyzer IST0140 warns about exactly this case). A route with a subset or any policy of its
 * own is the gateway's alone, as in Istio.
 */
import type { IncomingMessage } from 'node:http';
import type { RouteResult, RouteTable } from '../route-table';
import type { StreamInfo } from '../stream-info';
import type { MeshRuntime, RuntimeRoute } from '../runtime';
import type { ClusterSpec } from '../compile';
import type { GatewayVirtualHost } from './compile';

interface VhostRuntime {
  requireTls: boolean;
  routes: Array<{ runtime: RuntimeRoute; services: string[]; plainService?: string }>;
}

export class GatewayRouteTable implements RouteTable {
  private readonly exact = new Map<string, VhostRuntime>();
  private readonly wildcards: Array<{ suffix: string; vhost: VhostRuntime }> = [];
  private any?: VhostRuntime;

  constructor(vhosts: readonly GatewayVirtualHost[], private readonly runtime: MeshRuntime, clusters: ReadonlyMap<string, ClusterSpec>) {
    for (const v of vhosts) {
      const built: VhostRuntime = {
        requireTls: v.requireTls,
        routes: v.routes.map((r) => ({ runtime: runtime.buildRoute(r), services: r.destinations.map((d) => clusters.get(d.cluster)?.service ?? ''), plainService: r.plainService })),
      };
      for (const d of v.domains) {
        if (d === '*') this.any ??= built;
        else if (d.startsWith('*.')) this.wildcards.push({ suffix: d.slice(1), vhost: built });
        else if (!this.exact.has(d)) this.exact.set(d, built);
      }
    }
    this.wildcards.sort((a, b) => b.suffix.length - a.suffix.length);
  }

  /** The virtual host for a Host header value, or undefined (404 NR). */
  virtualHost(authority: string): VhostRuntime | undefined {
    const host = stripPort(authority).toLowerCase();
    const exact = this.exact.get(host);
    if (exact) return exact;
    for (const w of this.wildcards) if (host.endsWith(w.suffix)) return w.vhost;
    return this.any;
  }

  route(req: IncomingMessage, info: StreamInfo): RouteResult | undefined {
    const vhost = this.virtualHost(info.authority);
    if (!vhost) return undefined;
    for (const r of vhost.routes) {
      if (r.runtime.match && !r.runtime.match(req)) continue;
      if (r.plainService !== undefined) {
        info.destinationService = r.plainService;
        return this.runtime.routeService(r.plainService, req, info);
      }
      const result = r.runtime.results.length === 1 ? r.runtime.results[0] : this.runtime.weighted(r.runtime);
      info.destinationService = r.services[r.runtime.results.indexOf(result)] ?? info.destinationService;
      return result;
    }
    return undefined;
  }
}

/** `host:port` → `host` (an IPv6 literal keeps its brackets). */
export function stripPort(authority: string): string {
  if (authority.startsWith('[')) {
    const end = authority.indexOf(']');
    return end < 0 ? authority : authority.slice(0, end + 1);
  }
  const colon = authority.lastIndexOf(':');
  return colon < 0 ? authority : authority.slice(0, colon);
}
