/**
 * The brokers through the mesh. A broker (the machine's RabbitMQ or Kafka, or a lab's own) runs
 * beside the mesh, without a sidecar, as a Kubernetes Service whose pods have none: the world
 * announces its endpoint to the control plane (`/v1/workloads`: service `rabbitmq` or `kafka`,
 * instance `rabbitmq-0`), every bus-using service's sidecar gets an outbound TCP listener for it
 * (MESH_TCP_CAPTURE; Istio's outbound listener for the service's TCP port), and the app's bus URL
 * names that listener — the app dials its broker by the one address it was given, and the hop is
 * the mesh's: routes, connection pool, outlier detection, istio_tcp_* metrics, the access log. With
 * a chaos server, each caller reaches the broker through its own edge proxy (`orders->rabbitmq-0`),
 * so a lab can slow or cut one service's broker connection with the mesh's tools.
 */
import type { ChaosClient } from '../chaos/client';
import { operatorHeaders } from '../lib/cp-auth';
import type { Topology } from './topology';
import { postEdges, type Edge } from './edges';

export interface BrokerCapture {
  /** The broker's service name in the mesh. */
  service: 'rabbitmq' | 'kafka';
  /** Its service port (what the sidecar's listener stands for). */
  port: number;
  /** The one broker instance's id (`rabbitmq-0`). */
  instance: string;
  /** Where the broker really listens. */
  target: { host: string; port: number };
}

/** The broker of a `kafka`/`rabbitmq` bus URL, or undefined (memory bus, or an address list of several Kafka brokers). */
export function brokerCapture(kind: string, url: string): BrokerCapture | undefined {
  if (kind === 'rabbitmq') {
    const u = new URL(url || 'amqp://guest:guest@127.0.0.1:5672');
    return { service: 'rabbitmq', port: 5672, instance: 'rabbitmq-0', target: { host: u.hostname, port: Number(u.port || 5672) } };
  }
  if (kind === 'kafka') {
    const list = (url || '127.0.0.1:9092').split(',').map((b) => b.trim()).filter(Boolean);
    if (list.length !== 1) return undefined; // one listener per broker would be needed (Istio: a headless Service's per-pod listeners)
    const i = list[0].lastIndexOf(':');
    return { service: 'kafka', port: 9092, instance: 'kafka-0', target: { host: list[0].slice(0, i), port: Number(list[0].slice(i + 1)) } };
  }
  return undefined;
}

/**
 * What the app is told about its bus when its sidecar carries the broker. RabbitMQ: the broker's URL with the
 * address replaced by the sidecar's listener (amqplib dials only the address it is given). Kafka: the broker by
 * its service name (`kafka:9092`) and the pod's capture table (bus/capture.ts) sending that name and the broker's
 * advertised listener — the address Kafka's metadata tells clients to dial — to the sidecar's listener.
 */
export function appBusEnv(c: BrokerCapture, url: string, host: string, sidecarPort: number): Record<string, string> {
  if (c.service === 'kafka') {
    const listener = `${host}:${sidecarPort}`;
    const name = `${c.service}:${c.port}`;
    return { BUS_URL: name, MESH_TCP_REDIRECT: JSON.stringify({ [name]: listener, [`${c.target.host}:${c.target.port}`]: listener }) };
  }
  const u = new URL(url || 'amqp://guest:guest@127.0.0.1:5672');
  u.hostname = host;
  u.port = String(sidecarPort);
  return { BUS_URL: u.toString() };
}

/** The key of the capture's port in a sidecar's reported ports (mesh/sidecar/main.ts). */
export function capturePortKey(c: BrokerCapture): string {
  return `tcp:${c.service}:${c.port}`;
}

/** Announces the broker's endpoint to the control plane (a workload without a sidecar). */
export async function registerBroker(controlPlaneUrl: string, c: BrokerCapture): Promise<void> {
  const res = await fetch(`${controlPlaneUrl}/v1/workloads`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...operatorHeaders(controlPlaneUrl) },
    body: JSON.stringify({ service: c.service, endpoints: [{ instance: c.instance, host: c.target.host, port: c.target.port, labels: { app: c.service } }] }),
  });
  if (!res.ok) throw new Error(`announcing broker ${c.service} to the control plane failed: ${await res.text()}`);
}

/** Services whose apps use the bus. */
export function busServices(topology: Topology): string[] {
  return topology.services.filter((s) => s.bus).map((s) => s.name);
}

/** One chaos proxy per bus-using service to the broker (`orders->rabbitmq-0`), told to the control plane. */
export async function ensureBrokerEdges(client: ChaosClient, controlPlaneUrl: string, topology: Topology, c: BrokerCapture, advertise: string): Promise<Edge[]> {
  const edges: Edge[] = [];
  for (const from of busServices(topology)) {
    const proxy = await client.ensureProxy({ name: `${from}->${c.instance}`, upstream: `${c.target.host}:${c.target.port}` });
    edges.push({ from, instance: c.instance, host: advertise, port: Number(proxy.listen.slice(proxy.listen.lastIndexOf(':') + 1)) });
  }
  await postEdges(controlPlaneUrl, edges);
  return edges;
}
