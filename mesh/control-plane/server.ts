import Fastify, { FastifyInstance } from 'fastify';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MeshCA, CsrRejectedError } from '../security/ca';
import { spiffeId } from '../security/identity';
import { Registry } from './registry';
import { ConfigService } from './config-service';
import { canonicalHost, ROOT_NAMESPACE } from '../config/hosts';
import { exportedTo, runtimeView } from '../config/runtime-view';
import { effectiveHostConfig } from '../config/effective';
import { DISCOVERY_PATH, type NodeInfo } from '../xds';
import { registerDashboard } from './dashboard';
import { bearer, sameSecret, verifyWorkloadToken, type WorkloadClaims } from '../../lib/cp-auth';
import { CP_BODY_LIMIT_BYTES, readAck, readApply, readCertificateRequest, readConfigQuery, readDelete, readEdges, readNode, readReady, readSyncQuery, readWorkloads } from './input';

export interface ControlPlaneOptions {
  host: string;
  port: number;
  dataDir?: string;
  /** Services of the mesh, known before any instance registers: `name` (namespace default) or `namespace/name`. */
  services?: string[];
  /** The config folder loaded on first start (default: the repository's config/default). */
  configDir?: string;
  /** Where applied TLS Secrets are written as gateway credentials (the gateway's MESH_CREDENTIALS_DIR). */
  credentialsDir?: string;
  /** Workload certificate lifetime (Istio's default 24 h; a lab can set seconds to watch rotation). */
  certTtlMs?: number;
  /**
   * Who may do what (lib/cp-auth.ts): the key that verifies the launcher's workload tokens and the
   * operator token. Without it the control plane is open (in-process benchmarks, tests).
   */
  auth?: { tokenKey: string; operatorToken: string };
}

/** Routes that change the mesh and are the operator's (the launcher's, the CLI's). */
const OPERATOR_ROUTES = new Set(['/v1/config/apply', '/v1/config/delete', '/v1/edges', '/v1/workloads', '/v1/dashboard/world']);

/** The repository's default mesh config, next to dist/. */
export const DEFAULT_CONFIG_DIR = path.resolve(__dirname, '..', '..', '..', 'config', 'default');

export interface ControlPlane {
  app: FastifyInstance;
  registry: Registry;
  config: ConfigService;
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * The control plane: the endpoint registry and the discovery streams that push its snapshots
 * to every sidecar. Configuration (Istio YAML) and the mesh CA plug in here.
 */
export async function startControlPlane(opts: ControlPlaneOptions): Promise<ControlPlane> {
  const registry = new Registry();
  registry.declareServices(opts.services ?? []);
  const config = new ConfigService(
    opts.dataDir,
    () => ({
      // The declared services exist before any instance connects (Kubernetes Services): a VirtualService
      // naming one resolves, also once a ServiceEntry makes the analyzers build the service registry.
      ...(registry.declaredServices().length ? { services: registry.declaredServices() } : {}),
      instances: registry.list().filter((n) => n.info.role === 'sidecar').map((n) => {
        const namespace = registry.namespaceOf(n.info.service, n.info.namespace);
        return { service: n.info.service, labels: n.info.labels, ...(namespace !== 'default' ? { namespace } : {}) };
      }),
    }),
    () => registry.serviceNamespaces(),
    opts.credentialsDir,
  );
  config.store.onChange((_version, resources) => registry.setResources([...resources]));
  config.init(opts.configDir ?? DEFAULT_CONFIG_DIR);
  const app = Fastify({ logger: false, forceCloseConnections: true, bodyLimit: CP_BODY_LIMIT_BYTES });
  // Fastify's own refusals (body too large, not JSON, truncated JSON, wrong content type) in the
  // same clear {error} shape as ours; anything unexpected is a 500 that says so.
  app.setErrorHandler((err: { statusCode?: number; code?: string; message: string }, req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return reply.code(413).send({ error: `request body too large: the control plane reads at most ${CP_BODY_LIMIT_BYTES} bytes` });
    if (status === 400 && err.code?.startsWith('FST_ERR_CTP')) return reply.code(400).send({ error: `bad request body for ${req.method} ${req.url}: ${err.message} (send a JSON object with content-type: application/json)` });
    if (status === 500) console.error(`control plane: ${req.method} ${req.url} failed: ${(err as Error).stack ?? err.message}`);
    return reply.code(status).send({ error: status === 500 ? `internal error: ${err.message}` : err.message });
  });
  const auth = opts.auth;
  const operatorHint = 'send "Authorization: Bearer <operator token>": the launcher stores it (0600) in ~/.meshlab/credentials/<host>_<port>.operator-token, which the CLI and the world clients read, or set $MESHLAB_OPERATOR_TOKEN';
  app.addHook('onRequest', async (req, reply) => {
    if (!auth || !OPERATOR_ROUTES.has(req.routeOptions.url ?? '')) return;
    const token = bearer(req.headers.authorization);
    if (!token) return reply.code(401).send({ error: `${req.method} ${req.routeOptions.url} needs the operator credential: ${operatorHint}` });
    if (!sameSecret(token, auth.operatorToken)) {
      const workload = verifyWorkloadToken(auth.tokenKey, token);
      if (workload.ok) return reply.code(403).send({ error: `${req.method} ${req.routeOptions.url} is for the operator; the workload token of ${workload.claims.node} may not change the mesh` });
      return reply.code(401).send({ error: `${req.method} ${req.routeOptions.url}: the bearer token is not this control plane's operator token; ${operatorHint}` });
    }
  });
  /**
   * The workload credential of `node`: its claims, or undefined after answering 401/403. Open
   * control plane: `{}` (anyone may claim anything, as before).
   */
  const workloadFor = (req: { headers: Record<string, string | string[] | undefined> }, reply: import('fastify').FastifyReply, node: string, what: string): WorkloadClaims | Record<string, never> | undefined => {
    if (!auth) return {};
    const token = bearer(req.headers.authorization);
    const hint = 'a sidecar proves who it is with the workload token its launcher wrote for it (MESH_TOKEN_FILE), sent as "Authorization: Bearer <token>"';
    if (!token) return void reply.code(401).send({ error: `${what} of node "${node}" needs a workload credential: ${hint}` });
    const v = verifyWorkloadToken(auth.tokenKey, token);
    if (!v.ok) return void reply.code(401).send({ error: `${what} of node "${node}" refused: ${v.error}` });
    if (v.claims.node !== node) return void reply.code(403).send({ error: `${what} of node "${node}" refused: the workload token is for node "${v.claims.node}" (service ${v.claims.service})` });
    return v.claims;
  };

  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: `no route ${req.method} ${req.url} on the control plane` }));
  const streams = new Set<() => void>();
  registry.on('snapshot', () => {
    for (const push of streams) push();
  });

  app.get('/healthz', async () => ({ ok: true, version: registry.currentVersion }));

  app.get(DISCOVERY_PATH, (req, reply) => {
    const checked = readNode(req.headers['x-mesh-node']);
    if (!checked.ok) {
      reply.code(400).send({ error: checked.error });
      return;
    }
    const node: NodeInfo = checked.value;
    const claims = workloadFor(req, reply, node.id, 'a discovery stream');
    if (!claims) return;
    if ('service' in claims && (claims.service !== node.service || claims.role !== node.role)) {
      reply.code(403).send({ error: `a discovery stream of node "${node.id}" refused: it claims ${node.role} of service "${node.service}", its workload token names ${claims.role} of "${claims.service}"` });
      return;
    }
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    res.socket?.setNoDelay(true);
    const push = (): void => {
      const s = registry.snapshotFor(node.service);
      res.write(`event: snapshot\nid: ${s.version}\ndata: ${JSON.stringify(s)}\n\n`);
    };
    streams.add(push);
    registry.connect(node); // pushes the new snapshot to everyone, this stream included
    req.raw.socket.on('close', () => {
      streams.delete(push);
      registry.disconnect(node.id);
    });
  });

  app.post('/v1/ack', async (req, reply) => {
    const ack = readAck(req.body);
    if (!ack.ok) return reply.code(400).send({ error: ack.error });
    if (!workloadFor(req, reply, ack.value.node, 'an ACK')) return reply;
    registry.ack(ack.value);
    return { ok: true };
  });

  app.post('/v1/ready', async (req, reply) => {
    const checked = readReady(req.body);
    if (!checked.ok) return reply.code(400).send({ error: checked.error });
    const { node, ready } = checked.value;
    if (!workloadFor(req, reply, node, 'a readiness report')) return reply;
    if (!registry.setReady(node, ready)) return reply.code(404).send({ error: `unknown node ${node}: open a discovery stream first` });
    return { ok: true };
  });

  app.get('/v1/endpoints', async () => registry.snapshot());
  // Edge proxies (chaos): per-source address overrides for endpoints.
  app.post('/v1/edges', async (req, reply) => {
    const edges = readEdges(req.body);
    if (!edges.ok) return reply.code(400).send({ error: edges.error });
    registry.setEdges(edges.value);
    return { ok: true, version: registry.currentVersion };
  });

  // Workloads without a sidecar (a broker beside the mesh): their endpoints, so sidecars can carry connections to them.
  app.post('/v1/workloads', async (req, reply) => {
    const w = readWorkloads(req.body);
    if (!w.ok) return reply.code(400).send({ error: w.error });
    registry.setWorkloads(w.value.service, w.value.endpoints);
    return { ok: true, version: registry.currentVersion };
  });

  // Configuration: Istio YAML in (validated as a whole, all-or-nothing), resources out.
  app.post('/v1/config/apply', async (req, reply) => {
    const files = readApply(req.body);
    if (!files.ok) return reply.code(400).send({ error: files.error });
    const out = config.apply(files.value);
    return reply.code(out.ok ? 200 : 422).send(out);
  });
  app.post('/v1/config/delete', async (req, reply) => {
    const checked = readDelete(req.body);
    if (!checked.ok) return reply.code(400).send({ error: checked.error });
    const out = config.delete(checked.value.files, checked.value.refs);
    return reply.code(out.ok ? 200 : 422).send(out);
  });
  app.get('/v1/config', async (req, reply) => {
    const q = readConfigQuery(req.query as { kind?: string; name?: string });
    if (!q.ok) return reply.code(400).send({ error: q.error });
    return { version: config.store.version, resources: config.list(q.value.kind, q.value.name) };
  });
  app.get('/v1/analyze', async () => ({ messages: config.analyze() }));
  app.get('/v1/describe/service/:name', async (req, reply) => {
    const name = canonicalHost((req.params as { name: string }).name);
    const snapshot = registry.snapshot();
    if (!(name in snapshot.endpoints)) return reply.code(404).send({ error: `service "${name}" is not in the mesh; services: ${Object.keys(snapshot.endpoints).join(', ')}` });
    const namespace = registry.namespaceOf(name);
    // What the sidecars get (hosts resolved in each resource's namespace), as the service's own namespace sees it.
    const host = effectiveHostConfig(runtimeView(config.store.list(), registry.serviceNamespaces()).filter((r) => (r.kind !== 'VirtualService' && r.kind !== 'DestinationRule') || exportedTo(r, namespace)), name);
    const endpoints = snapshot.endpoints[name];
    const selects = (labels: Record<string, string>) => endpoints.filter((e) => Object.entries(labels).every(([k, v]) => e.labels[k] === v)).map((e) => e.instance);
    return {
      service: name,
      namespace,
      version: snapshot.version,
      ...host,
      endpoints,
      subsets: host.subsets.map((s) => ({ ...s, endpoints: selects(s.labels) })),
      // A policy selects workloads of its own namespace; the root namespace's apply mesh-wide.
      policies: config.store.list().filter((r) => (r.kind === 'PeerAuthentication' || r.kind === 'AuthorizationPolicy') && (r.metadata.namespace === namespace || r.metadata.namespace === ROOT_NAMESPACE)).map((r) => ({ kind: r.kind, name: r.metadata.name, namespace: r.metadata.namespace })),
    };
  });

  app.get('/v1/proxy-status', async () =>
    registry.list().map((n) => ({
      node: n.info.id,
      role: n.info.role,
      service: n.info.service,
      namespace: registry.namespaceOf(n.info.service, n.info.namespace),
      version: n.info.version,
      ready: n.ready,
      ackedVersion: n.ackedVersion,
      currentVersion: registry.currentVersion,
      synced: n.ackedVersion >= registry.currentVersion,
      ackedAt: n.ackedAt,
      nack: n.nack,
    })),
  );

  // Resolves once `ready` endpoints are ready and every node ACKed the newest version (launcher, tests).
  app.get('/v1/sync', (req, reply) => {
    const q = readSyncQuery(req.query as { ready?: string; timeoutMs?: string });
    if (!q.ok) {
      reply.code(400).send({ error: q.error });
      return;
    }
    const { ready, timeoutMs } = q.value;
    const check = (): boolean => {
      if (!registry.inSync(ready)) return false;
      cleanup();
      reply.send({ ok: true, version: registry.currentVersion });
      return true;
    };
    const timer = setTimeout(() => {
      cleanup();
      reply.code(504).send({
        error: `not in sync after ${timeoutMs} ms: ${registry.readyCount()} of ${ready} endpoints ready`,
        nodes: registry.list().map((n) => ({ node: n.info.id, ready: n.ready, acked: n.ackedVersion })),
        version: registry.currentVersion,
      });
    }, timeoutMs);
    const cleanup = (): void => {
      clearTimeout(timer);
      registry.off('ack', check);
      registry.off('snapshot', check);
    };
    registry.on('ack', check);
    registry.on('snapshot', check);
    check();
  });

  // The mesh CA: a P-256 root kept in the data dir; sidecars send CSRs, keys never leave them.
  const ca = await MeshCA.loadOrCreate(path.join(opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'meshlab-ca-')), 'ca'));
  const certTtlMs = opts.certTtlMs ?? 24 * 3600 * 1000;
  app.get('/v1/ca/root', async () => ({ rootPem: ca.rootPem }));
  app.post('/v1/certificates', async (req, reply) => {
    const checked = readCertificateRequest(req.body);
    if (!checked.ok) return reply.code(400).send({ error: checked.error });
    const { node, csr } = checked.value;
    // As istiod checks the pod's service-account token: the identity signed is the one the workload token names.
    const claims = workloadFor(req, reply, node, 'a certificate request');
    if (!claims) return reply;
    const known = registry.list().find((n) => n.info.id === node);
    if (!known) return reply.code(403).send({ error: `unknown node "${node}": open a discovery stream before asking for a certificate` });
    const service = 'service' in claims ? claims.service : known.info.service;
    try {
      // The namespace is the service's (the topology's word, as a pod's is Kubernetes'), never the node's own claim.
      const signed = await ca.signCsr(csr, { identity: spiffeId(service, registry.namespaceOf(service)), ttlMs: certTtlMs });
      return { certPem: signed.certPem, chainPem: signed.chainPem, rootPem: ca.rootPem, notAfter: signed.notAfter };
    } catch (err) {
      return reply.code(err instanceof CsrRejectedError ? 400 : 500).send({ error: (err as Error).message });
    }
  });

  const dashboard = registerDashboard(app, { registry, config, chaosUrl: process.env.CHAOS_URL || undefined, dataDir: opts.dataDir });

  await app.listen({ host: opts.host, port: opts.port });
  const port = (app.server.address() as { port: number }).port;
  return {
    app,
    registry,
    config,
    port,
    url: `http://${opts.host}:${port}`,
    close: async () => {
      dashboard.close();
      await app.close();
    },
  };
}
