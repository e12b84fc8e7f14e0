/**
 * What the outbound listener does with a Host that is not in this sidecar's registry (or out of its Sidecar
 * scope), as Istio's outbound route configuration does (pilot httproute.go, its last virtual host `*`):
 * - REGISTRY_ONLY: route `block_all`, a direct response 502 with no response flag (Envoy's
 *   `response_code_details` `direct_response`); Istio's telemetry names it BlackHoleCluster.
 * - ALLOW_ANY (Istio's default): route `allow_any` to PassthroughCluster, no timeout, no retries, plaintext.
 *   Envoy's PassthroughCluster is an ORIGINAL_DST cluster: it connects to the address the app dialled, which
 *   the app resolved itself. meshlab's apps dial their sidecar and name the destination in the Host header, so
 *   the original destination is the Host's address and port (80 when none) when the app could have dialled it
 *   without a DNS query: an IP address, or a name the machine's hosts file maps (`localhost`). Any other name is
 *   404 NR: the sidecar makes no DNS query on an app's behalf (in Kubernetes an unknown in-cluster name fails
 *   the app's own lookup before any proxy sees it; and a lab's traffic stays on loopback).
 * Passthrough keeps one small cluster per destination (bounded, oldest dropped), as Envoy's original-dst cluster
 * keeps a host per address.
 */
import fs from 'node:fs';
import net from 'node:net';
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

/** Name → address from a hosts file (`/etc/hosts` form: address, then names), the first address of a name winning; IPv4 preferred. */
export function parseHostsFile(text: string): Map<string, string> {
  const v4 = new Map<string, string>();
  const v6 = new Map<string, string>();
  for (const line of text.split('\n')) {
    const [address, ...names] = line.replace(/#.*/, '').trim().split(/\s+/);
    const family = net.isIP(address ?? '');
    if (!family) continue;
    for (const n of names) {
      const m = family === 4 ? v4 : v6;
      if (!m.has(n.toLowerCase())) m.set(n.toLowerCase(), address);
    }
  }
  for (const [n, a] of v6) if (!v4.has(n)) v4.set(n, a);
  return v4;
}

function readHostsFile(): Map<string, string> {
  try {
    return parseHostsFile(fs.readFileSync('/etc/hosts', 'utf8'));
  } catch {
    return new Map([['localhost', '127.0.0.1']]);
  }
}

/** The address an app could have dialled for `name` without a DNS query, or undefined. */
export function originalAddress(name: string, hosts: ReadonlyMap<string, string>): string | undefined {
  return net.isIP(name) ? name : hosts.get(name);
}

export class OutboundPolicy {
  private readonly passthrough = new Map<string, Cluster>();
  private readonly blackhole: RouteResult;
  private readonly hostsFile = readHostsFile();

  constructor(
    private readonly mode: OutboundMode,
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
    const address = originalAddress(name, this.hostsFile);
    if (address === undefined) return undefined;
    const target = `${address}:${port ?? 80}`;
    let cluster = this.passthrough.get(target);
    if (!cluster) {
      if (this.passthrough.size >= MAX_PASSTHROUGH_HOSTS) {
        const [oldest, c] = this.passthrough.entries().next().value as [string, Cluster];
        c.close();
        this.passthrough.delete(oldest);
      }
      cluster = new Cluster(PASSTHROUGH_CLUSTER, { observer: this.observer });
      cluster.setEndpoints([{ instance: target, service: name, labels: {}, host: address, port: port ?? 80 }]);
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
