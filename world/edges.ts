import type { ChaosClient } from '../chaos/client';
import type { Topology } from './topology';
import { operatorHeaders } from '../lib/cp-auth';

/** A caller's way to one destination instance through its chaos proxy. */
export interface Edge {
  /** Calling service (as its sidecar registers: `orders`, or `istio-ingressgateway`). */
  from: string;
  instance: string;
  host: string;
  port: number;
}

export const GATEWAY_SERVICE = 'istio-ingressgateway';

/** Services whose sidecars call `service`: its declared callers, and the gateway if it routes there. */
export function callersOf(topology: Topology, service: string): string[] {
  const callers = topology.services.filter((s) => s.calls.includes(service)).map((s) => s.name);
  if (topology.gateway.routes.some((r) => r.service === service)) callers.push(GATEWAY_SERVICE);
  return callers;
}

/** The chaos proxy's name for an edge: `orders->payments-v1-0`, `gateway->orders-v1-0`. */
export function edgeName(from: string, instance: string): string {
  return `${from === GATEWAY_SERVICE ? 'gateway' : from}->${instance}`;
}

export interface EdgeProxyOptions {
  /** The host callers use to reach the chaos server's listeners. */
  advertise: string;
  /** Listen address per proxy (default an ephemeral 127.0.0.1 port); compose gives fixed `0.0.0.0:N`. */
  listen?: (name: string) => string;
}

/**
 * Creates (or re-points) the chaos proxy of every edge into one instance, whose sidecar inbound is
 * `upstream` (host:port), and returns the edges to tell the control plane.
 */
export async function ensureEdgeProxies(client: ChaosClient, topology: Topology, service: string, instance: string, upstream: string, opts: EdgeProxyOptions): Promise<Edge[]> {
  const edges: Edge[] = [];
  for (const from of callersOf(topology, service)) {
    const name = edgeName(from, instance);
    const proxy = await client.ensureProxy({ name, upstream, listen: opts.listen?.(name) });
    const port = Number(proxy.listen.slice(proxy.listen.lastIndexOf(':') + 1));
    edges.push({ from, instance, host: opts.advertise, port });
  }
  return edges;
}

/** Tells the control plane that callers reach instances through these edge proxies. */
export async function postEdges(controlPlaneUrl: string, edges: Edge[]): Promise<void> {
  if (edges.length === 0) return;
  const res = await fetch(`${controlPlaneUrl}/v1/edges`, { method: 'POST', headers: { 'content-type': 'application/json', ...operatorHeaders(controlPlaneUrl) }, body: JSON.stringify({ edges }) });
  if (!res.ok) throw new Error(`registering chaos edges with the control plane failed: ${await res.text()}`);
}
