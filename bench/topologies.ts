import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { ManagedProcess } from '../world/process';
import { startControlPlane, type ControlPlane } from '../mesh/control-plane/server';
import { DISCOVERY_PATH, type NodeInfo } from '../mesh/xds';
import { findBinary, INSTALL_HINT, startRefProxy } from './ref-proxies';
import { waitForPath } from './net-util';
import { pinProcess, type PinPlan } from './pin';
import { freePort, zipkinJar, zipkinProcess } from '../world/observability';
import { formatProxyConfig } from '../mesh/telemetry/proxy-config';

/**
 * The paths the bench compares, all over the same upstream. A *hop* is one proxy listener a request
 * crosses on its way to the upstream (and back): a sidecar's outbound listener, a sidecar's inbound
 * listener, or one HAProxy/nginx frontend. Per-hop overhead = (topology − direct) / hops.
 */

export const UPSTREAM_SERVICE = 'upstream';

export interface Target {
  host: string;
  port: number;
  hostHeader: string;
}

export interface RunningTopology {
  name: string;
  hops: number;
  target: Target;
  /** Processes whose CPU and RSS the report shows (the sidecars, or the reference proxy). */
  proxyPids(): number[];
}

export interface TopologyDef {
  name: string;
  hops: number;
  kind: 'baseline' | 'sidecar' | 'reference';
  describe: string;
  /** Why it cannot run here (skipped with this notice), or undefined. */
  unavailable(ctx: BenchContext): string | undefined;
  start(ctx: BenchContext): Promise<RunningTopology>;
}

export interface BenchContext {
  /** Absolute path of the compiled tree (dist/). */
  distDir: string;
  tmpDir: string;
  upstreamPort: number;
  pin: PinPlan;
  /** The sidecar's compiled entry; default <distDir>/mesh/sidecar/main.js (override to A/B a patched build). */
  sidecarEntry?: string;
  /** A second sidecar build for the sidecar1-alt topology (A/B), from --alt-sidecar-entry. */
  altSidecarEntry?: string;
  /** Node flags of the sidecar1-alt topology, from --alt-sidecar-flags. */
  altSidecarFlags?: string[];
  /** Extra environment for every sidecar (the profiler sets NODE_OPTIONS=--cpu-prof). */
  sidecarEnv?: Record<string, string>;
  /** Stops everything started for the run, last started first. */
  cleanups: (() => Promise<void>)[];
}

const HOST = '127.0.0.1';

/** Starts the bench upstream (bench/upstream-main.js) as its own process. */
export async function startUpstream(distDir: string, tmpDir: string, pin: PinPlan): Promise<ManagedProcess> {
  const p = new ManagedProcess({ name: 'bench-upstream', role: 'app', entry: path.join(distDir, 'bench/upstream-main.js'), env: {}, logFile: path.join(tmpDir, 'upstream.log') });
  await p.start();
  if (pin.enabled) pinProcess(p.pid!, pin.systemCpu);
  return p;
}

async function startCp(ctx: BenchContext): Promise<ControlPlane> {
  // config/default's gateway VirtualService routes to orders, payments and notifications: a declared world must hold them
  // (since 2b75bc6 a VirtualService for a host the world lacks is refused, and the bench's sidecars never started).
  const cp = await startControlPlane({ host: HOST, port: 0, services: [UPSTREAM_SERVICE, 'orders', 'payments', 'notifications'] });
  ctx.cleanups.push(() => cp.close());
  return cp;
}

interface SidecarOpts {
  name: string;
  service: string;
  cpUrl: string;
  appPort?: number;
  entry?: string;
  /** Node flags instead of the sidecar's own. */
  nodeArgs?: readonly string[];
  /** Zero trust (workload cert, mTLS inbound, auto mTLS upstream); the sidecar's default is on, plaintext topologies turn it off. */
  mtls?: boolean;
  env?: Record<string, string>;
}

async function startSidecar(ctx: BenchContext, o: SidecarOpts): Promise<ManagedProcess> {
  const env: Record<string, string> = {
    MESH_SERVICE: o.service,
    MESH_VERSION: 'v1',
    MESH_INSTANCE: o.name,
    MESH_LABELS: JSON.stringify({ app: o.service, version: 'v1' }),
    MESH_HOST: HOST,
    MESH_CP_URL: o.cpUrl,
    MESH_INBOUND_PORT: '0',
    MESH_OUTBOUND_PORT: '0',
    MESH_ADMIN_PORT: '0',
  };
  if (o.appPort) env.MESH_APP_PORT = String(o.appPort);
  if (!o.mtls) env.MESH_MTLS = 'off';
  Object.assign(env, o.env, ctx.sidecarEnv);
  const p = new ManagedProcess({ name: o.name, role: 'sidecar', entry: o.entry ?? ctx.sidecarEntry ?? path.join(ctx.distDir, 'mesh/sidecar/main.js'), nodeArgs: o.nodeArgs, env, logFile: path.join(ctx.tmpDir, `${o.name}.log`) });
  ctx.cleanups.push(() => p.stop());
  await p.start();
  if (ctx.pin.enabled) pinProcess(p.pid!, ctx.pin.systemCpu);
  return p;
}

/**
 * Registers an endpoint that has no sidecar of its own (a plain upstream, or the next link of a
 * chain) the way a sidecar would: a discovery stream announcing NodeInfo.inbound, then POST
 * /v1/ready. The endpoint stays registered while the stream is open.
 */
export async function registerEndpoint(ctx: BenchContext, cpUrl: string, id: string, service: string, port: number): Promise<void> {
  const node: NodeInfo = { id, role: 'sidecar', service, version: 'v1', labels: { app: service, version: 'v1' }, inbound: { host: HOST, port } };
  const req = await new Promise<http.ClientRequest>((resolve, reject) => {
    const r = http.get(new URL(DISCOVERY_PATH, cpUrl), { headers: { 'x-mesh-node': JSON.stringify(node), accept: 'text/event-stream' } });
    r.once('response', (res) => {
      if (res.statusCode !== 200) return reject(new Error(`control plane ${cpUrl} refused the discovery stream for ${id}: HTTP ${res.statusCode}`));
      res.resume();
      resolve(r);
    });
    r.once('error', reject);
  });
  ctx.cleanups.push(async () => void req.destroy());
  const res = await fetch(new URL('/v1/ready', cpUrl), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ node: id, ready: true }) });
  if (!res.ok) throw new Error(`control plane ${cpUrl} refused /v1/ready for ${id}: HTTP ${res.status} ${await res.text()}`);
}

const pidsOf = (...ps: ManagedProcess[]) => () => ps.map((p) => p.pid).filter((p): p is number => p !== undefined);

/** The mTLS slot: runs once the sidecar speaks mTLS (its compiled code loads mesh/security/mtls). */
function sidecarMtlsSupport(distDir: string): boolean {
  try {
    return /security\/mtls/.test(fs.readFileSync(path.join(distDir, 'mesh/sidecar/sidecar.js'), 'utf8'));
  } catch {
    return false;
  }
}

export const TOPOLOGIES: readonly TopologyDef[] = [
  {
    name: 'direct',
    hops: 0,
    kind: 'baseline',
    describe: 'generator → upstream',
    unavailable: () => undefined,
    start: async (ctx) => ({ name: 'direct', hops: 0, target: { host: HOST, port: ctx.upstreamPort, hostHeader: UPSTREAM_SERVICE }, proxyPids: () => [] }),
  },
  sidecar1Def('sidecar1', undefined),
  sidecar1Def('sidecar1-alt', 'alt'),
  sidecar1Def('sidecar1-traced', 'traced'),
  {
    name: 'sidecar2',
    hops: 2,
    kind: 'sidecar',
    describe: 'generator → sidecar A outbound → sidecar B inbound → upstream (the real mesh path)',
    unavailable: () => undefined,
    start: async (ctx) => {
      const cp = await startCp(ctx);
      const b = await startSidecar(ctx, { name: 'bench-s2-server', service: UPSTREAM_SERVICE, cpUrl: cp.url, appPort: ctx.upstreamPort });
      const a = await startSidecar(ctx, { name: 'bench-s2-client', service: 'bench-client', cpUrl: cp.url });
      await waitForPath('sidecar2', a.ports.outbound, UPSTREAM_SERVICE);
      return { name: 'sidecar2', hops: 2, target: { host: HOST, port: a.ports.outbound, hostHeader: UPSTREAM_SERVICE }, proxyPids: pidsOf(a, b) };
    },
  },
  {
    name: 'sidecar2-mtls',
    hops: 2,
    kind: 'sidecar',
    describe: 'as sidecar2, with zero trust on: workload certificates from the control plane CA, client → server over mTLS (verified on the server sidecar\'s /certs)',
    unavailable: (ctx) => (sidecarMtlsSupport(ctx.distDir) ? undefined : 'the sidecar does not speak mTLS yet (pending the security issue); this slot runs sidecar2 with MESH_MTLS on once it does'),
    start: async (ctx) => {
      const cp = await startCp(ctx);
      const b = await startSidecar(ctx, { name: 'bench-s2m-server', service: UPSTREAM_SERVICE, cpUrl: cp.url, appPort: ctx.upstreamPort, mtls: true });
      const a = await startSidecar(ctx, { name: 'bench-s2m-client', service: 'bench-client', cpUrl: cp.url, mtls: true });
      await waitForPath('sidecar2-mtls', a.ports.outbound, UPSTREAM_SERVICE);
      const certs = (await (await fetch(`http://${HOST}:${b.ports.admin}/certs`)).json()) as { inbound?: { accepted?: { mutual_tls?: number } } | null };
      if (!(certs.inbound?.accepted?.mutual_tls ?? 0)) throw new Error(`the server sidecar accepted no mTLS connection (its /certs: ${JSON.stringify(certs).slice(0, 300)}): the path is not mTLS`);
      return { name: 'sidecar2-mtls', hops: 2, target: { host: HOST, port: a.ports.outbound, hostHeader: UPSTREAM_SERVICE }, proxyPids: pidsOf(a, b) };
    },
  },
  {
    name: 'chain5',
    hops: 5,
    kind: 'sidecar',
    describe:
      'generator → S1 outbound → S2 inbound → S2 outbound → S3 inbound → S3 outbound → upstream: 5 sidecar listeners in 3 sidecar processes; each inbound hands to its own outbound (an app that relays at zero cost), each link learns "upstream" from its own control plane',
    unavailable: () => undefined,
    start: async (ctx) => {
      // Built from the far end: S3's outbound reaches the upstream; S(k)'s inbound forwards to its own outbound.
      const cp3 = await startCp(ctx);
      await registerEndpoint(ctx, cp3.url, 'chain-upstream', UPSTREAM_SERVICE, ctx.upstreamPort);
      const s3 = await startSidecar(ctx, { name: 'bench-c5-s3', service: 'chain-3', cpUrl: cp3.url });
      s3.send({ type: 'app', port: s3.ports.outbound });
      const cp2 = await startCp(ctx);
      await registerEndpoint(ctx, cp2.url, 'chain-s3', UPSTREAM_SERVICE, s3.ports.inbound);
      const s2 = await startSidecar(ctx, { name: 'bench-c5-s2', service: 'chain-2', cpUrl: cp2.url });
      s2.send({ type: 'app', port: s2.ports.outbound });
      const cp1 = await startCp(ctx);
      await registerEndpoint(ctx, cp1.url, 'chain-s2', UPSTREAM_SERVICE, s2.ports.inbound);
      const s1 = await startSidecar(ctx, { name: 'bench-c5-s1', service: 'bench-client', cpUrl: cp1.url });
      await waitForPath('chain5', s1.ports.outbound, UPSTREAM_SERVICE);
      return { name: 'chain5', hops: 5, target: { host: HOST, port: s1.ports.outbound, hostHeader: UPSTREAM_SERVICE }, proxyPids: pidsOf(s1, s2, s3) };
    },
  },
  {
    name: 'node-proxy',
    hops: 1,
    kind: 'reference',
    describe: 'generator → naive Node http.request proxy (keep-alive agent, pipes, no mesh work) → upstream: the floor for any Node proxy',
    unavailable: () => undefined,
    start: async (ctx) => {
      const p = new ManagedProcess({ name: 'bench-node-proxy', role: 'app', entry: path.join(ctx.distDir, 'bench/naive-proxy-main.js'), env: { BENCH_UPSTREAM_PORT: String(ctx.upstreamPort) }, logFile: path.join(ctx.tmpDir, 'node-proxy.log') });
      ctx.cleanups.push(() => p.stop());
      await p.start();
      if (ctx.pin.enabled) pinProcess(p.pid!, ctx.pin.systemCpu);
      await waitForPath('node-proxy', p.ports.http, UPSTREAM_SERVICE);
      return { name: 'node-proxy', hops: 1, target: { host: HOST, port: p.ports.http, hostHeader: UPSTREAM_SERVICE }, proxyPids: pidsOf(p) };
    },
  },
  refTopology('haproxy', 'generator → HAProxy (1 thread, keep-alive to upstream) → upstream'),
  refTopology('nginx', 'generator → nginx (1 worker, upstream keepalive 64) → upstream'),
];

/**
 * One sidecar, outbound only; `-alt` runs the build given by --alt-sidecar-entry, interleaved with the current one
 * (A/B of a fix); `-traced` samples 100% and exports every span to a real Zipkin (the cached exec jar): its CPU
 * s/1k requests less sidecar1's is the exporter's cost per request (the Zipkin JVM's own CPU is not counted).
 */
function sidecar1Def(name: string, variant: 'alt' | 'traced' | undefined): TopologyDef {
  return {
    name,
    hops: 1,
    kind: 'sidecar',
    describe:
      variant === 'alt'
        ? 'as sidecar1, with the sidecar build from --alt-sidecar-entry and/or the Node flags from --alt-sidecar-flags (A/B)'
        : variant === 'traced'
          ? 'as sidecar1, tracing at 100% (PROXY_CONFIG sampling 100) with every span exported to a real Zipkin: the exporter\'s cost'
          : 'generator → sidecar A outbound → upstream (registered without a sidecar)',
    unavailable: (ctx) =>
      variant === 'alt' && !ctx.altSidecarEntry && !ctx.altSidecarFlags
        ? 'needs --alt-sidecar-entry FILE (a patched sidecar main.js to compare) or --alt-sidecar-flags'
        : variant === 'traced' && !fs.existsSync(zipkinJar())
          ? `needs the Zipkin server jar at ${zipkinJar()} (scripts/zipkin fetch)`
          : undefined,
    start: async (ctx) => {
      const cp = await startCp(ctx);
      await registerEndpoint(ctx, cp.url, 'upstream-plain', UPSTREAM_SERVICE, ctx.upstreamPort);
      let env: Record<string, string> | undefined;
      if (variant === 'traced') {
        const zipkin = zipkinProcess({ host: HOST, port: await freePort(HOST), logDir: ctx.tmpDir });
        ctx.cleanups.push(() => zipkin.stop());
        await zipkin.start(120_000);
        if (ctx.pin.enabled && zipkin.pid) pinProcess(zipkin.pid, ctx.pin.systemCpu); // off the generator's CPU (see bench.ts)
        env = { PROXY_CONFIG: formatProxyConfig({ sampling: 100, zipkin: `${HOST}:${zipkin.port}` }) };
      }
      const a = await startSidecar(ctx, { name: `bench-${name}-client`, service: 'bench-client', cpUrl: cp.url, entry: variant === 'alt' ? ctx.altSidecarEntry : undefined, nodeArgs: variant === 'alt' ? ctx.altSidecarFlags : undefined, env });
      await waitForPath(name, a.ports.outbound, UPSTREAM_SERVICE);
      return { name, hops: 1, target: { host: HOST, port: a.ports.outbound, hostHeader: UPSTREAM_SERVICE }, proxyPids: pidsOf(a) };
    },
  };
}

function refTopology(kind: 'haproxy' | 'nginx', describe: string): TopologyDef {
  return {
    name: kind,
    hops: 1,
    kind: 'reference',
    describe,
    unavailable: () => (findBinary(kind) ? undefined : `${kind} is not installed (${INSTALL_HINT})`),
    start: async (ctx) => {
      const proxy = await startRefProxy(kind, findBinary(kind)!, ctx.tmpDir, ctx.upstreamPort, ctx.pin.enabled ? ctx.pin.systemCpu : undefined);
      ctx.cleanups.push(() => proxy.stop());
      await waitForPath(kind, proxy.port, UPSTREAM_SERVICE);
      return { name: kind, hops: 1, target: { host: HOST, port: proxy.port, hostHeader: UPSTREAM_SERVICE }, proxyPids: proxy.pids };
    },
  };
}

export const TOPOLOGY_NAMES: readonly string[] = TOPOLOGIES.map((t) => t.name);
