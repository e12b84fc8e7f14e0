/**
 * The compose world's fixed addresses, derived from the topology: container names, in-pod ports
 * (Istio's numbers), host ports published on 127.0.0.1, and the Toxiproxy listen port of every
 * edge. The compose generator, the chaos-init container and the compose scenario target all read
 * this, so they cannot disagree about where anything lives.
 */
import { DEFAULT_TOPOLOGY, type InstanceSpec, type Topology, instancesOf } from './topology';
import { GATEWAY_SERVICE, callersOf, edgeName } from './edges';
import { busServices, type BrokerCapture } from './broker-mesh';

/** Ports inside a pod (app container + sidecar container sharing its network namespace). */
export const POD_PORTS = {
  /** The app, bound to 127.0.0.1 only: reachable from its sidecar, from nothing else. */
  app: 8000,
  /** The app's lab control (sickness), loopback only too. */
  lab: 9901,
  /** Sidecar listeners, Istio's numbers. */
  inbound: 15006,
  outbound: 15001,
  admin: 15000,
  /**
   * The sidecar's outbound TCP listeners for the brokers (world/broker-mesh.ts's capture, on fixed ports here):
   * the app's capture table (MESH_TCP_REDIRECT) sends `kafka:9092` and `rabbitmq:5672` to them.
   */
  kafkaCapture: 19092,
  rabbitmqCapture: 19672,
} as const;

/**
 * The external mail provider's ports inside its container (world/external/): plaintext, TLS (its own CA) and
 * lab control. Above 1024: the image runs as the unprivileged node user.
 */
export const MAIL_PROVIDER_PORTS = { http: 8025, tls: 8443, control: 9901 } as const;

/** Where a sidecar finds the mail provider's CA (the read-only volume the provider writes its ca.pem into). */
export const MAIL_PROVIDER_CA_DIR = '/etc/mail-provider';

/** The generated mesh registration of the world's external systems, which the control plane loads with config/default. */
export const WORLD_CONFIG_FILE = 'deploy/mesh/mail-provider.yaml';

/** Ports of the infrastructure containers, as other containers reach them on the compose network. */
export const INFRA_PORTS = {
  controlPlane: 15010,
  gateway: 8080,
  toxiproxyApi: 8474,
  kafka: 9092,
  kafkaController: 9093,
  rabbitmq: 5672,
  rabbitmqUi: 15672,
  prometheus: 9090,
  grafana: 3000,
  jaegerUi: 16686,
  jaegerOtlpHttp: 4318,
  jaegerOtlpGrpc: 4317,
} as const;

/**
 * Host ports (127.0.0.1) of the infrastructure: each set by a variable whose default is the
 * container's own port, written `${VAR:-default}` in compose.yaml. The gateway (8080), the control
 * plane (15010) and the chaos API (8474) are the embedded world's ports too: running `npm start` and
 * `docker compose up` side by side needs e.g. `MESHLAB_GATEWAY_PORT=18080` for one of them.
 */
export const HOST_PORTS = {
  gateway: { variable: 'MESHLAB_GATEWAY_PORT', port: INFRA_PORTS.gateway },
  controlPlane: { variable: 'MESHLAB_CP_PORT', port: INFRA_PORTS.controlPlane },
  toxiproxyApi: { variable: 'MESHLAB_TOXIPROXY_PORT', port: INFRA_PORTS.toxiproxyApi },
  rabbitmqUi: { variable: 'MESHLAB_RABBITMQ_UI_PORT', port: INFRA_PORTS.rabbitmqUi },
  prometheus: { variable: 'MESHLAB_PROMETHEUS_PORT', port: INFRA_PORTS.prometheus },
  grafana: { variable: 'MESHLAB_GRAFANA_PORT', port: INFRA_PORTS.grafana },
  jaegerUi: { variable: 'MESHLAB_JAEGER_PORT', port: INFRA_PORTS.jaegerUi },
} as const;
export type HostPortName = keyof typeof HOST_PORTS;

/** A `ports:` entry publishing a container port on 127.0.0.1 at the variable's port (compose interpolates it). */
export function publishedPort(name: HostPortName): string {
  const { variable, port } = HOST_PORTS[name];
  return `127.0.0.1:\${${variable}:-${port}}:${INFRA_PORTS[name]}`;
}

/** The host port compose published, as compose resolved it from the same environment (the compose target reads this). */
export function hostPort(name: HostPortName, env: NodeJS.ProcessEnv = process.env): number {
  const { variable, port } = HOST_PORTS[name];
  const raw = env[variable];
  if (raw === undefined || raw === '') return port;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`${variable} must be a port number 1-65535, got "${raw}"`);
  return n;
}

/** First Toxiproxy listen port inside the toxiproxy container; edges take consecutive ports. */
export const EDGE_PORT_BASE = 21000;
/** Host ports (127.0.0.1) for sidecar admin listeners: gateway at the base, instance i at base+1+i. */
export const HOST_ADMIN_PORT_BASE = 15100;
/** Host ports (127.0.0.1) for sidecar inbound listeners: instance i at base+1+i (reads for invariants). */
export const HOST_INBOUND_PORT_BASE = 15200;

export const CONTAINER = {
  controlPlane: 'control-plane',
  gateway: 'gateway',
  toxiproxy: 'toxiproxy',
  chaosInit: 'chaos-init',
  credentials: 'credentials',
  kafka: 'kafka',
  rabbitmq: 'rabbitmq',
  prometheus: 'prometheus',
  grafana: 'grafana',
  jaeger: 'jaeger',
  mailProvider: 'mail-provider',
} as const;

/** The image every Node part runs (built from the one Dockerfile). */
export const NODE_IMAGE = 'meshlab-node:0.1.0';

/**
 * The one service that builds NODE_IMAGE (`build:` + `pull_policy: build`); every other Node part
 * only names the image. The control plane: sidecars, the gateway and chaos-init depend on it.
 */
export const IMAGE_BUILDER = CONTAINER.controlPlane;

/** One mesh edge through Toxiproxy in the compose world. */
export interface ComposeEdge {
  /** Proxy name, `orders->payments-v1-0`. */
  name: string;
  /** Calling service (`istio-ingressgateway` for the gateway). */
  from: string;
  instance: string;
  /** Where Toxiproxy forwards: the destination pod's sidecar inbound. */
  upstream: string;
  /** Port Toxiproxy listens on inside its container (0.0.0.0). */
  listenPort: number;
}

/** A pod of the compose world: its app container, sidecar container and published host ports. */
export interface ComposePod {
  spec: InstanceSpec;
  /** App container (owns the network namespace; its name is the pod's DNS name). */
  app: string;
  sidecar: string;
  hostAdminPort: number;
  hostInboundPort: number;
}

export function sidecarContainer(instance: string): string {
  return `${instance}-sidecar`;
}

/** Every pod, in the topology's stable instance order. */
export function podsOf(topology: Topology = DEFAULT_TOPOLOGY): ComposePod[] {
  return instancesOf(topology).map((spec, i) => ({
    spec,
    app: spec.id,
    sidecar: sidecarContainer(spec.id),
    hostAdminPort: HOST_ADMIN_PORT_BASE + 1 + i,
    hostInboundPort: HOST_INBOUND_PORT_BASE + 1 + i,
  }));
}

/** Every edge (caller → destination instance) with its fixed Toxiproxy port, in a stable order. */
export function edgesOf(topology: Topology = DEFAULT_TOPOLOGY, portBase = EDGE_PORT_BASE): ComposeEdge[] {
  const out: ComposeEdge[] = [];
  for (const spec of instancesOf(topology)) {
    for (const from of callersOf(topology, spec.service.name)) {
      out.push({ name: edgeName(from, spec.id), from, instance: spec.id, upstream: `${spec.id}:${POD_PORTS.inbound}`, listenPort: portBase + out.length });
    }
  }
  return out;
}

/** The Toxiproxy listen address for an edge proxy name (what ensureEdgeProxies' `listen` asks). */
export function edgeListen(topology: Topology, name: string, listenHost = '0.0.0.0', portBase = EDGE_PORT_BASE): string {
  const edges = edgesOf(topology, portBase);
  const edge = edges.find((e) => e.name === name);
  if (!edge) throw new Error(`no edge "${name}" in the topology; edges: ${edges.map((e) => e.name).join(', ')}`);
  return `${listenHost}:${edge.listenPort}`;
}

/**
 * The compose world's brokers as the mesh knows them (world/broker-mesh.ts): each a workload without a
 * sidecar that chaos-init announces (`kafka-0` at `kafka:9092`, `rabbitmq-0` at `rabbitmq:5672`), and each
 * bus-using pod's sidecar has a TCP listener for both on fixed ports — the bus the apps use
 * (MESHLAB_BUS_KIND) is chosen at `docker compose up`, after the file is written.
 */
export const COMPOSE_BROKERS: readonly (BrokerCapture & { listenPort: number })[] = [
  { service: 'kafka', port: INFRA_PORTS.kafka, instance: 'kafka-0', target: { host: 'kafka', port: INFRA_PORTS.kafka }, listenPort: POD_PORTS.kafkaCapture },
  { service: 'rabbitmq', port: INFRA_PORTS.rabbitmq, instance: 'rabbitmq-0', target: { host: 'rabbitmq', port: INFRA_PORTS.rabbitmq }, listenPort: POD_PORTS.rabbitmqCapture },
];

/** The sidecar's MESH_TCP_CAPTURE of a bus-using pod: one listener per broker, on its fixed pod port. */
export function brokerCaptures(): { service: string; port: number; listenPort: number }[] {
  return COMPOSE_BROKERS.map((b) => ({ service: b.service, port: b.port, listenPort: b.listenPort }));
}

/** The app's capture table (MESH_TCP_REDIRECT, bus/capture.ts): each broker's address to its sidecar listener. */
export function brokerRedirects(): Record<string, string> {
  return Object.fromEntries(COMPOSE_BROKERS.map((b) => [`${b.target.host}:${b.target.port}`, `127.0.0.1:${b.listenPort}`]));
}

/**
 * The broker edges (`orders->kafka-0`): one Toxiproxy proxy per (bus-using service, broker), on the ports after
 * the HTTP edges, to the broker itself (it has no sidecar).
 */
export function brokerEdgesOf(topology: Topology = DEFAULT_TOPOLOGY, portBase = EDGE_PORT_BASE): ComposeEdge[] {
  let port = portBase + edgesOf(topology, portBase).length;
  const out: ComposeEdge[] = [];
  for (const b of COMPOSE_BROKERS) {
    for (const from of busServices(topology)) out.push({ name: edgeName(from, b.instance), from, instance: b.instance, upstream: `${b.target.host}:${b.target.port}`, listenPort: port++ });
  }
  return out;
}

export { GATEWAY_SERVICE };
