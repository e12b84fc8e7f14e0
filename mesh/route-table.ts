import type { IncomingMessage } from 'node:http';
import type { Cluster } from './cluster';
import type { StreamInfo } from './stream-info';
import { RetryPolicy } from './retry-policy';
import { DEFAULT_RETRY } from './config/defaults';
import type { HeaderOps } from './header-ops';
import type { RouteRewrite } from './rewrite';

/** Fault injection of one route, decided per request before routing (client side, like Istio). */
export interface FaultPolicy {
  delay?: { ms: number; percent: number };
  abort?: { httpStatus: number; percent: number };
}

/** Everything a matched route asks of the router beyond "which cluster". */
export interface RoutePolicy {
  /** Whole-request deadline over all tries and back-off; 0 = none (Istio's default). */
  timeoutMs: number;
  retry: RetryPolicy;
  fault?: FaultPolicy;
  mirror?: { cluster: Cluster; percent: number };
  requestOps?: HeaderOps;
  responseOps?: HeaderOps;
  /** Istio's HTTPRewrite: the upstream path and Host (mesh/rewrite.ts). */
  rewrite?: RouteRewrite;
  /** Envoy's direct_response: answered by the proxy, nothing sent upstream (Istio's block_all, 502). */
  directResponse?: { status: number };
}

/** Where a request goes: the matched route's name, its cluster and its policies. */
export interface RouteResult {
  name: string;
  cluster: Cluster;
  policy: RoutePolicy;
}

/** Envoy's route table: request → route, or none (404 NR). */
export interface RouteTable {
  route(req: IncomingMessage, info: StreamInfo): RouteResult | undefined;
}

/**
 * Istio's retry policy on routes it generates without a VirtualService (and on VirtualService
 * routes without `retries`): 2 retries on connect-failure, refused-stream, unavailable, cancelled
 * and retriable-status-codes — with no status codes since Istio 1.24, so a 503 is not retried.
 */
export const DEFAULT_RETRY_POLICY = new RetryPolicy(DEFAULT_RETRY.retryOn, [], DEFAULT_RETRY.attempts);
export const DEFAULT_OUTBOUND_POLICY: RoutePolicy = { timeoutMs: 0, retry: DEFAULT_RETRY_POLICY };
/** Inbound routes (sidecar → its own app) have no retries or timeout in Istio. */
export const INBOUND_POLICY: RoutePolicy = { timeoutMs: 0, retry: new RetryPolicy([], [], 0) };

/** A sidecar's outbound default: a request for service S (by Host) goes to S's cluster, if S exists. */
export class ServiceRouteTable implements RouteTable {
  constructor(private readonly clusters: ReadonlyMap<string, Cluster>) {}

  route(_req: IncomingMessage, info: StreamInfo): RouteResult | undefined {
    const cluster = this.clusters.get(info.destinationService);
    return cluster && { name: 'default', cluster, policy: DEFAULT_OUTBOUND_POLICY };
  }
}

/** Matches the ingress gateway's path prefixes: the first that matches names the service. */
export function matchPrefix(routes: readonly { prefix: string; service: string }[], path: string): { prefix: string; service: string } | undefined {
  for (const r of routes) {
    if (path === r.prefix || path.startsWith(r.prefix.endsWith('/') ? r.prefix : `${r.prefix}/`) || path.startsWith(`${r.prefix}?`)) return r;
  }
  return undefined;
}

/** The ingress gateway's table: the first path prefix that matches picks the service. */
export class PrefixRouteTable implements RouteTable {
  constructor(
    private readonly routes: readonly { prefix: string; service: string }[],
    private readonly clusters: ReadonlyMap<string, Cluster>,
  ) {}

  route(req: IncomingMessage, info: StreamInfo): RouteResult | undefined {
    const r = matchPrefix(this.routes, req.url ?? '/');
    if (!r) return undefined;
    const cluster = this.clusters.get(r.service);
    if (!cluster) return undefined;
    info.destinationService = r.service;
    return { name: r.prefix, cluster, policy: DEFAULT_OUTBOUND_POLICY };
  }
}

/** The inbound side: everything goes to the local app. */
export class LocalRouteTable implements RouteTable {
  private readonly result: RouteResult;
  constructor(cluster: Cluster) {
    this.result = { name: 'inbound', cluster, policy: INBOUND_POLICY };
  }

  route(): RouteResult {
    return this.result;
  }
}
