/**
 * What the outbound listener does with a Host that is not in this sidecar's registry (or out of its Sidecar
 * scope), as Istio's outbound route configuration does (pilot httproute.go, its last virtual host `*`):
 * - REGISTRY_ONLY: route `block_all`, a direct response 502 with no response flag (Envoy's
 *   `response_code_details` `direct_response`); Istio's telemetry names it BlackHoleCluster.
 * - ALLOW_ANY (Istio's default): route `allow_any` to PassthroughCluster, no timeout, no retries, plaintext.
 *   Envoy's PassthroughCluster is an ORIGINAL_DST cluster: it connects to the address the app dialled. meshlab's
 *   apps dial their sidecar, so the address is the Host header's `name[:port]` (port 80 when none), resolved
 *   by DNS at connect time. A Host that reads as an in-cluster name (one label, `*.svc`, `*.cluster.local`,
 *   `svc.<namespace of the world>`) stays 404 NR under ALLOW_ANY: in Kubernetes its DNS lookup would fail in
 *   the app before any proxy saw it, and there is no kube-proxy address to pass it to.
 * Passthrough keeps one small cluster per destination (bounded, oldest dropped), as Envoy's original-dst cluster
 * keeps a host per address.
 */
import { Cluster, type ClusterObserver } from '../cluster';
import { RetryPolicy } from '../retry-policy';
import type { RoutePolicy, RouteResult } from '../route-table';
import type { StreamInfo } from '../stream-info';
import type { OutboundMode } from './sidecar-scope';

export const PASSTHROUGH_CLUSTER = 'PassthroughCluster';
export const BLACKHOLE_CLUSTER = 'BlackHoleCluster';
export const PASSTHROUGH_ROUTE = 'allow_any';
export const BLACKHOLE_ROUTE = 'block_all';

const MAX_PASSTHROUGH_HOSTS = 256;
const PASSTHROUGH_POLICY: RoutePolicy = { timeoutMs: 0, retry: new RetryPolicy([], [], 0) };
const BLACKHOLE_POLICY: RoutePolicy = { timeoutMs: 0, retry: new RetryPolicy([], [], 0), directResponse: { status: 502 } };

/** `name` and port of a Host header (port 80 when none; IPv6 brackets kept off). */
export function splitAuthority(authority: string): { name: string; port: number | undefined } {
  const a = authority.toLowerCase();
  const colon = a.lastIndexOf(':');
  if (colon > 0 && a.indexOf(']') < colon) {
    const port = Number(a.slice(colon + 1));
    return { name: a.slice(0, colon).replace(/^\[|\]$/g, ''), port: Number.isInteger(port) && port > 0 && port < 65536 ? port : undefined };
  }
  return { name: a.replace(/^\[|\]$/g, ''), port: undefined };
}

/** Whether a Host names a Kubernetes service (rather than something outside the cluster). */
export function inClusterName(name: string, namespaces: readonly string[]): boolean {
  if (!name.includes('.')) return true;
  if (name.endsWith('.svc') || name.endsWith('.cluster.local')) return true;
  const parts = name.split('.');
  return parts.length === 2 && namespaces.includes(parts[1]);
}

export class OutboundPolicy {
  private readonly passthrough = new Map<string, Cluster>();
  private readonly blackhole: RouteResult;

  constructor(
    private readonly mode: OutboundMode,
    private readonly namespaces: readonly string[],
    private readonly observer?: ClusterObserver,
  ) {
    this.blackhole = { name: BLACKHOLE_ROUTE, cluster: new Cluster(BLACKHOLE_CLUSTER, { observer }), policy: BLACKHOLE_POLICY };
  }

  /** The route for a Host nobody declared, or undefined (404 NR). Sets the request's egress labels. */
  route(info: StreamInfo): RouteResult | undefined {
    const { name, port } = splitAuthority(info.authority);
    if (name === '') return undefined;
    if (this.mode === 'REGISTRY_ONLY') {
      info.egress = { service: BLACKHOLE_CLUSTER, name: BLACKHOLE_CLUSTER, namespace: 'unknown' };
      return this.blackhole;
    }
    if (inClusterName(name, this.namespaces)) return undefined;
    const target = `${name}:${port ?? 80}`;
    let cluster = this.passthrough.get(target);
    if (!cluster) {
      if (this.passthrough.size >= MAX_PASSTHROUGH_HOSTS) {
        const [oldest, c] = this.passthrough.entries().next().value as [string, Cluster];
        c.close();
        this.passthrough.delete(oldest);
      }
      cluster = new Cluster(PASSTHROUGH_CLUSTER, { observer: this.observer });
      cluster.setEndpoints([{ instance: target, service: name, labels: {}, host: name, port: port ?? 80 }]);
      this.passthrough.set(target, cluster);
    }
    info.destinationService = name;
    info.egress = { service: name, name: PASSTHROUGH_CLUSTER, namespace: 'unknown' };
    return { name: PASSTHROUGH_ROUTE, cluster, policy: PASSTHROUGH_POLICY };
  }

  close(): void {
    for (const c of this.passthrough.values()) c.close();
    this.passthrough.clear();
    this.blackhole.cluster.close();
  }
}
