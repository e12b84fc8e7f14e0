/**
 * The compose world's one-shot `chaos-init` container: creates one Toxiproxy proxy per edge (caller →
 * destination instance) on its fixed port, pointing at the destination pod's sidecar inbound, and
 * tells the control plane that callers reach those instances through `toxiproxy:<port>`.
 *
 * The brokers too (world/broker-mesh.ts): it announces `kafka-0` and `rabbitmq-0` to the control plane as
 * workloads without a sidecar, and gives each bus-using service its own proxy to each (`orders->kafka-0`), so a
 * lab cuts or slows one service's broker connection in Toxiproxy as it does an HTTP edge.
 *
 * Idempotent: a proxy already listening on its port with the right upstream is left alone (no
 * restart, its toxics and its enabled/disabled state kept); the control plane just gets the same
 * edges again. Run it again after a
 * control-plane restart, which forgets edges: `docker compose run --rm chaos-init`.
 */
import fs from 'node:fs';
import { ChaosClient, type ProxyInfo } from '../chaos/client';
import { ensureEdgeProxies, postEdges, type Edge } from './edges';
import { CONTAINER, COMPOSE_BROKERS, brokerEdgesOf, edgeListen, edgesOf, POD_PORTS } from './compose-layout';
import { registerBroker } from './broker-mesh';
import { DEFAULT_TOPOLOGY, instancesOf, type Topology } from './topology';

export interface ComposeInitOptions {
  toxiproxyUrl: string;
  controlPlaneUrl: string;
  topology?: Topology;
  /** The host callers use for Toxiproxy's listeners (the compose service name). */
  advertise?: string;
  /** Toxiproxy listen address and first port (default 0.0.0.0 and 21000; tests use loopback and free ports). */
  listenHost?: string;
  portBase?: number;
  /** Host:port of each destination pod's sidecar inbound (default `<instance>:15006`). */
  upstreamOf?: (instance: string) => string;
  /** Host:port of each broker (default `kafka:9092`, `rabbitmq:5672`; tests point them at loopback). */
  brokerOf?: (service: string) => { host: string; port: number };
  log?: (line: string) => void;
}

export interface ComposeInitResult {
  edges: Edge[];
  /** Proxies ensured this run: every edge of each instance that had a missing or wrong proxy (0 on a re-run against an unchanged Toxiproxy). */
  changed: number;
}

function portOf(listen: string): number {
  return Number(listen.slice(listen.lastIndexOf(':') + 1));
}

/** Creates missing or wrong edge proxies, then posts every edge to the control plane. */
export async function initEdges(opts: ComposeInitOptions): Promise<ComposeInitResult> {
  const topology = opts.topology ?? DEFAULT_TOPOLOGY;
  const advertise = opts.advertise ?? CONTAINER.toxiproxy;
  const log = opts.log ?? (() => undefined);
  const client = new ChaosClient(opts.toxiproxyUrl);
  const existing: Record<string, ProxyInfo> = await client.listProxies();
  const wanted = edgesOf(topology, opts.portBase);
  const upstreamOf = opts.upstreamOf ?? ((instance: string) => `${instance}:${POD_PORTS.inbound}`);
  const edges: Edge[] = [];
  let changed = 0;
  for (const spec of instancesOf(topology)) {
    const mine = wanted.filter((e) => e.instance === spec.id);
    const upstream = upstreamOf(spec.id);
    // Toxiproxy reports its resolved listen address ("[::]:21000" for "0.0.0.0:21000"): compare ports.
    const inPlace = mine.every((e) => existing[e.name]?.upstream === upstream && portOf(existing[e.name].listen) === e.listenPort);
    if (inPlace) {
      for (const e of mine) edges.push({ from: e.from, instance: e.instance, host: advertise, port: e.listenPort });
      continue;
    }
    const made = await ensureEdgeProxies(client, topology, spec.service.name, spec.id, upstream, { advertise, listen: (name) => edgeListen(topology, name, opts.listenHost, opts.portBase) });
    for (const e of made) log(`edge ${e.from} -> ${e.instance}: ${advertise}:${e.port} -> ${upstream}`);
    changed += made.length;
    edges.push(...made);
  }
  for (const b of COMPOSE_BROKERS) {
    const target = opts.brokerOf?.(b.service) ?? b.target;
    await registerBroker(opts.controlPlaneUrl, { ...b, target });
    for (const e of brokerEdgesOf(topology, opts.portBase).filter((x) => x.instance === b.instance)) {
      const upstream = `${target.host}:${target.port}`;
      if (existing[e.name]?.upstream === upstream && portOf(existing[e.name].listen) === e.listenPort) {
        edges.push({ from: e.from, instance: e.instance, host: advertise, port: e.listenPort });
        continue;
      }
      const proxy = await client.ensureProxy({ name: e.name, upstream, listen: `${opts.listenHost ?? '0.0.0.0'}:${e.listenPort}` });
      log(`edge ${e.from} -> ${e.instance}: ${advertise}:${e.listenPort} -> ${upstream}`);
      changed++;
      edges.push({ from: e.from, instance: e.instance, host: advertise, port: portOf(proxy.listen) });
    }
  }
  await postEdges(opts.controlPlaneUrl, edges);
  log(`${edges.length} edges registered with the control plane (${changed} proxies created or re-pointed)`);
  return { edges, changed };
}

async function main(): Promise<void> {
  // The operator token from its mounted secret (world/compose-credentials.ts): edge registration needs it.
  const tokenFile = process.env.MESHLAB_OPERATOR_TOKEN_FILE;
  if (tokenFile && !process.env.MESHLAB_OPERATOR_TOKEN) process.env.MESHLAB_OPERATOR_TOKEN = fs.readFileSync(tokenFile, 'utf8').trim();
  const toxiproxyUrl = process.env.TOXIPROXY_URL ?? `http://${CONTAINER.toxiproxy}:8474`;
  const controlPlaneUrl = process.env.MESH_CP_URL ?? `http://${CONTAINER.controlPlane}:15010`;
  await initEdges({ toxiproxyUrl, controlPlaneUrl, log: (l) => console.log(l) });
}

if (require.main === module) {
  main().catch((err: Error) => {
    console.error(`chaos-init failed: ${err.message}\n(is Toxiproxy at $TOXIPROXY_URL and the control plane at $MESH_CP_URL up?)`);
    process.exit(1);
  });
}
