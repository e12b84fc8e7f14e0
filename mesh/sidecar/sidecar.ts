import http from 'node:http';
import { request } from '../../lib/http-client';
import { Cluster } from '../cluster';
import { HttpConnectionManager } from '../http-connection-manager';
import { listen, listenInbound, type InboundListener, type Listener } from '../listener';
import { LocalRouteTable, type RouteTable } from '../route-table';
import { MeshRuntime } from '../runtime';
import { compileConfig } from '../compile';
import { Tracer } from '../telemetry/tracer';
import { telemetryFor, type WorkloadTelemetry } from '../telemetry/telemetry-policy';
import type { TracingConfig } from '../telemetry/proxy-config';
import { registerTracingMetrics } from '../telemetry/metrics';
import { MeshStats } from '../stats';
import { AccessLog } from '../access-log';
import { startAdmin } from '../admin';
import { XdsClient } from '../xds-client';
import type { NodeInfo, Snapshot } from '../xds';
import { compileSecurity, type CompiledSecurity } from '../compile-security';
import { UpstreamTls, TLS_MODE_LABEL } from '../upstream-tls';
import { WorkloadCertManager, type SignResponse } from '../security/workload-cert';
import { createMtlsServer, type MtlsServer, type RefusedEvent } from '../security/mtls';
import { spiffeId } from '../security/identity';
import { controlPlaneSigner, firstCertificate } from './workload-identity';
import { RefusalLog } from './refusal-log';
import type { PathNormalization } from '../path-normalization';
import { StartingGate } from './starting-gate';
import { MESH_NAMESPACE } from '../config/hosts';
import { localityOf, localityString } from '../lb/locality';
import { TcpRuntime } from '../tcp/tcp-runtime';
import { compileTcp, type TcpCapture } from '../tcp/tcp-routes';
import { tcpConnectorFor } from '../tcp/tcp-mtls';
import { proxyInbound } from '../tcp/tcp-inbound';
import { compileGateway, type CompiledGateway } from '../gateway/compile';
import { GatewayRouteTable } from '../gateway/route-table';
import { GatewayEdgeFilter } from '../gateway/edge-filter';
import { GatewayTlsListener } from '../gateway/tls-listener';
import { FilterSet } from '../filters/filter-set';
import { registerFilterMetrics } from '../filters/metrics';
import { appliesToMesh } from '../config/effective';
import type { MeshResource, VirtualService } from '../config/types';

export interface SidecarConfig {
  role: 'sidecar' | 'gateway';
  service: string;
  version: string;
  instance: string;
  /** The workload's namespace (Istio's POD_NAMESPACE; main.ts reads it): its SPIFFE id, the policies that select it, its metrics. Default "default". */
  namespace?: string;
  labels: Record<string, string>;
  host: string;
  /** The address peers use to reach this sidecar, when it differs from the listen address (compose: the pod's hostname, listening on 0.0.0.0). */
  advertiseHost?: string;
  ports: { inbound: number; outbound: number; admin: number };
  controlPlaneUrl: string;
  /** The local app's port, when known at start (compose); otherwise set later with setAppPort. */
  appPort?: number;
  /**
   * Gateway only: the port of the HTTPS listener, which serves the Gateways' HTTPS servers (the outbound
   * listener serves their HTTP servers); undefined = no HTTPS listener.
   */
  httpsPort?: number;
  /** Gateway only: the folder of TLS credentials `credentialName` names (mesh/gateway/credentials.ts). */
  credentialsDir?: string;
  /** Gateway only: answer 503 "starting" until `gate.openGate()` (the launcher opens it once the world is ready). */
  holdUntilOpen?: boolean;
  /** How often the app's /healthz is probed. */
  healthIntervalMs?: number;
  /**
   * Zero trust (main.ts: on unless MESH_MTLS=off): a workload certificate from the control plane's CA (rotated at
   * half life), an inbound listener enforcing PeerAuthentication, and auto mTLS to peer sidecars. Off: plaintext
   * everywhere (in-process tests without a control plane). AuthorizationPolicy applies either way.
   */
  mtls?: boolean;
  /** Signs CSRs instead of the control plane (in-process tests). */
  sign?: (csrPem: string) => Promise<SignResponse>;
  /** Jitter seed of the rotation schedule. */
  certSeed?: number;
  /** Istio's meshConfig.pathNormalization.normalization (main.ts: MESH_PATH_NORMALIZATION); default BASE. */
  pathNormalization?: PathNormalization;
  /** This node's workload token (lib/cp-auth.ts), read at each use: sent on the discovery stream, ACKs, readiness and CSRs. */
  token?: () => string | undefined;
  /** Sampling and span export (Istio's ProxyConfig tracing, from PROXY_CONFIG; OTLP from OTEL_EXPORTER_OTLP_ENDPOINT). */
  tracing?: TracingConfig;
  /** TCP destinations this sidecar carries for its app (main.ts: MESH_TCP_CAPTURE), one outbound TCP listener each (mesh/tcp/). */
  tcpCaptures?: (TcpCapture & { listenPort?: number })[];
  /** The app's TCP ports by service port (main.ts: MESH_APP_TCP_PORTS): peer sidecars' mTLS TCP streams for them go there. */
  appTcpPorts?: Record<number, number>;
}

/**
 * One sidecar proxy: an inbound listener in front of its app, an outbound listener that is the
 * app's only way out, and an admin listener. It learns endpoints and config from the control plane
 * and reports its app's health there. A gateway is the same proxy with only an outbound listener,
 * routing by path.
 */
export class Sidecar {
  readonly stats: MeshStats;
  readonly accessLog = new AccessLog();
  readonly tracer: Tracer;
  readonly runtime: MeshRuntime;
  readonly localCluster = new Cluster('inbound|app');
  private outboundRoutes: RouteTable;
  private readonly inboundRoutes = new LocalRouteTable(this.localCluster);
  private inbound?: InboundListener;
  private outbound?: Listener;
  private admin?: http.Server;
  private inboundHcm?: HttpConnectionManager;
  private outboundHcm!: HttpConnectionManager;
  private httpsHcm?: HttpConnectionManager;
  private https?: GatewayTlsListener;
  /** Gateway only: the route tables of its HTTP and HTTPS servers, and what they were compiled from. */
  private gatewayTables: { http?: GatewayRouteTable; https?: GatewayRouteTable } = {};
  gatewayConfig?: CompiledGateway;
  /** HTTP filters (local rate limit, JWT authn) per listener: inbound for a sidecar; http and https for the gateway. */
  readonly filters: { inbound?: FilterSet; http?: FilterSet; https?: FilterSet } = {};
  private xds!: XdsClient;
  private appPort?: number;
  private appHealthy = false;
  private healthTimer?: NodeJS.Timeout;
  /** The app's address and one kept connection to it, for health probes and /stats/prometheus's app metrics. */
  private app?: { url: string; agent: http.Agent };
  snapshot?: Snapshot;
  ports: { inbound: number; outbound: number; admin: number; https?: number } = { inbound: 0, outbound: 0, admin: 0 };
  /** This workload's SPIFFE id (spiffe://cluster.local/ns/<namespace>/sa/<service>). */
  readonly identity: string;
  /** This workload's namespace. */
  readonly namespace: string;
  /** The workload certificate agent, when mTLS is on. */
  readonly certs?: WorkloadCertManager;
  private mtlsServer?: MtlsServer;
  private security: CompiledSecurity;
  /** The Telemetry API resources that apply to this workload, and what they set. */
  private telemetry: WorkloadTelemetry = { applied: [] };
  private readonly refusals = new RefusalLog();
  /** Open unless a held gateway (see starting-gate.ts). */
  readonly gate: StartingGate;
  /** The L4 listeners and clusters (mesh/tcp/), when the sidecar captures TCP destinations. */
  readonly tcp?: TcpRuntime;
  /** Port of the outbound TCP listener per capture, keyed `tcp:<service>:<port>`. */
  readonly tcpPorts: Record<string, number> = {};

  constructor(readonly config: SidecarConfig) {
    this.gate = new StartingGate(config.role === 'gateway' && !!config.holdUntilOpen);
    this.namespace = config.namespace ?? 'default';
    this.stats = new MeshStats({ service: config.service, version: config.version, namespace: this.namespace });
    this.tracer = new Tracer({ workload: { service: config.service, version: config.version, instance: config.instance, namespace: this.namespace }, host: config.advertiseHost ?? config.host, config: config.tracing });
    registerTracingMetrics(this.stats.registry, this.tracer);
    this.identity = spiffeId(config.service, this.namespace);
    if (config.mtls) {
      this.certs = new WorkloadCertManager({ identity: this.identity, seed: config.certSeed, sign: config.sign ?? controlPlaneSigner(config.controlPlaneUrl, config.instance, config.token) });
      this.certs.on('rotated', (ev) => this.stats.onCertRotated(ev));
      this.certs.on('rotationFailed', (err: Error, retryMs: number) => console.error(JSON.stringify({ level: 'warn', msg: 'workload certificate rotation failed', identity: this.identity, error: err.message, retry_in_ms: retryMs })));
    }
    this.security = compileSecurity([], { service: config.service, labels: config.labels, namespace: this.namespace });
    this.runtime = new MeshRuntime({
      observer: this.stats,
      unconfiguredLb: 'ROUND_ROBIN',
      upstreamTls: this.certs ? new UpstreamTls(this.certs) : undefined,
    });
    this.stats.clusterGauges = () => this.runtime.gauges();
    this.outboundRoutes = this.runtime;
    if (config.tcpCaptures?.length) {
      const workload = { service: config.service, version: config.version, namespace: this.namespace };
      this.tcp = new TcpRuntime({ host: config.host, workload, stats: this.stats, accessLog: this.accessLog, ...tcpConnectorFor(this.certs, this.identity) });
    }
    if (config.role === 'gateway') {
      const workload = { labels: config.labels, namespace: this.namespace, context: 'GATEWAY' as const };
      this.filters.http = new FilterSet(workload, [new GatewayEdgeFilter('http', () => this.gatewayTables.http, () => this.https?.port)]);
      this.filters.https = new FilterSet(workload, [new GatewayEdgeFilter('https', () => this.gatewayTables.https, () => this.https?.port)]);
      // The gateway routes only what its Gateways and bound VirtualServices say: nothing until they arrive.
      this.outboundRoutes = { route: (req, info) => this.gatewayTables.http?.route(req, info) };
    } else {
      this.filters.inbound = new FilterSet({ labels: config.labels, namespace: this.namespace, context: 'SIDECAR_INBOUND' });
    }
    registerFilterMetrics(this.stats.registry, () => Object.entries(this.filters).filter((e): e is [string, FilterSet] => e[1] !== undefined));
  }

  /** Service name → its service-level cluster. */
  get clusters(): ReadonlyMap<string, Cluster> {
    return this.runtime.serviceClusters;
  }

  async start(): Promise<void> {
    const { config } = this;
    const workload = { service: config.service, version: config.version, namespace: this.namespace };
    const identity = this.certs ? this.identity : undefined;
    const pathNormalization = config.pathNormalization;
    const gateway = config.role === 'gateway' ? { filters: () => this.filters.http?.chain(), authz: () => this.security.authz } : {};
    this.outboundHcm = new HttpConnectionManager({ direction: 'outbound', workload, routes: () => this.outboundRoutes, stats: this.stats, accessLog: this.accessLog, tracer: this.tracer, identity, pathNormalization, ...gateway });
    this.outbound = await listen('outbound', config.host, config.ports.outbound, this.gate.open ? this.outboundHcm.handle : this.gate.wrap(this.outboundHcm.handle));
    this.ports.outbound = this.outbound.port;
    if (this.tcp) for (const l of await this.tcp.listen(config.tcpCaptures ?? [])) this.tcpPorts[`tcp:${l.capture.service}:${l.capture.port}`] = l.port;
    if (config.role === 'gateway' && config.httpsPort !== undefined) {
      const table = { route: (req: http.IncomingMessage, info: Parameters<RouteTable['route']>[1]) => this.gatewayTables.https?.route(req, info) };
      this.httpsHcm = new HttpConnectionManager({ direction: 'outbound', workload, routes: () => table, stats: this.stats, accessLog: this.accessLog, tracer: this.tracer, identity, pathNormalization, filters: () => this.filters.https?.chain(), authz: () => this.security.authz });
      this.https = new GatewayTlsListener(this.gate.open ? this.httpsHcm.handle : this.gate.wrap(this.httpsHcm.handle));
      await this.https.listen(config.host, config.httpsPort);
      this.ports.https = this.https.port;
    }
    if (config.role === 'sidecar') {
      this.inboundHcm = new HttpConnectionManager({ direction: 'inbound', workload, routes: () => this.inboundRoutes, stats: this.stats, accessLog: this.accessLog, tracer: this.tracer, identity, pathNormalization,
        authz: () => this.security.authz,
        filters: () => this.filters.inbound?.chain(),
        strict: () => this.security.mtlsMode === 'STRICT',
        onRefused: (socket) => {
          const ev: RefusedEvent = { reason: 'plaintext_in_strict', connectionSecurityPolicy: 'none', remoteAddress: socket.remoteAddress, detail: 'plaintext connection accepted before STRICT, cut at its next request' };
          this.stats.onRefused(ev);
          this.refusals.log(ev, 'STRICT');
        },
      });
      this.inbound = await listenInbound('inbound', config.host, config.ports.inbound, this.inboundHcm.handle, { requireSecure: !!this.certs });
      this.ports.inbound = this.inbound.port;
    }
    this.admin = await startAdmin(
      config.host,
      config.ports.admin,
      this.adminRoutes(),
      async () => ({ contentType: this.stats.registry.contentType, body: await this.stats.registry.metrics() }),
      async () => {
        if (!this.app) throw new Error('no app port yet');
        const res = await request(`${this.app.url}/metrics`, { agent: this.app.agent, timeoutMs: 1000 });
        return { contentType: String(res.headers['content-type'] ?? 'text/plain'), body: res.body.toString('utf8') };
      },
    );
    this.ports.admin = (this.admin.address() as { port: number }).port;

    const node: NodeInfo = {
      id: config.instance,
      role: config.role,
      service: config.service,
      version: config.version,
      ...(this.namespace !== 'default' ? { namespace: this.namespace } : {}),
      // Istio's injector marks pods that have a sidecar; peers' auto mTLS keys on it.
      labels: this.certs && config.role === 'sidecar' ? { ...config.labels, [TLS_MODE_LABEL]: 'istio' } : config.labels,
      inbound: this.inbound ? { host: config.advertiseHost ?? config.host, port: this.ports.inbound } : undefined,
      admin: { host: config.advertiseHost ?? config.host, port: this.ports.admin },
    };
    let registered!: () => void;
    const streamOpen = new Promise<void>((resolve) => (registered = resolve));
    this.xds = new XdsClient({
      controlPlaneUrl: config.controlPlaneUrl,
      node,
      token: config.token,
      onSnapshot: (s) => this.applySnapshot(s),
      onConnectionChange: (connected) => {
        if (connected) registered();
        if (connected && this.appHealthy) void this.xds.setReady(true);
      },
    });
    this.xds.start();
    if (this.certs) {
      // The CA signs only for a node with an open discovery stream; the endpoint is not ready (not routable) until
      // the app is healthy, which is after this, so the first request already meets a certificate.
      if (!config.sign) await streamOpen;
      await firstCertificate(this.certs);
      if (this.inbound) {
        const tcpInbound = { host: config.host, workload, identity: this.identity, appPorts: () => config.appTcpPorts ?? {}, stats: this.stats, accessLog: this.accessLog, authz: () => this.security.authz };
        this.mtlsServer = createMtlsServer({ mode: this.security.mtlsMode, certs: this.certs, handler: this.inbound.server, tcp: (s, info, port) => proxyInbound(s, info, port, tcpInbound) });
        this.mtlsServer.on('refused', (ev: RefusedEvent) => {
          this.stats.onRefused(ev);
          this.refusals.log(ev, this.security.mtlsMode);
        });
        this.inbound.secure(this.mtlsServer);
      }
    }
    if (config.appPort) this.setAppPort(config.appPort);
  }

  /** Points the inbound listener at the local app and starts probing its health. */
  setAppPort(port: number): void {
    this.appPort = port;
    this.localCluster.setEndpoints([{ instance: this.config.instance, service: this.config.service, labels: this.config.labels, host: this.config.host, port }]);
    this.app?.agent.destroy();
    this.app = { url: `http://${this.config.host}:${port}`, agent: new http.Agent({ keepAlive: true, maxSockets: 1 }) };
    clearTimeout(this.healthTimer);
    void this.probe();
  }

  /** Drains: stops accepting, lets in-flight requests finish, then leaves the mesh. */
  async stop(graceMs = 2000): Promise<void> {
    clearTimeout(this.healthTimer);
    this.xds?.stop();
    this.certs?.stop();
    if (this.outboundHcm) this.outboundHcm.draining = true;
    if (this.inboundHcm) this.inboundHcm.draining = true;
    if (this.httpsHcm) this.httpsHcm.draining = true;
    await Promise.all([
      this.https?.drain(graceMs, () => this.httpsHcm?.inFlight ?? 0),
      this.inbound?.drain(graceMs, () => this.inboundHcm?.inFlight ?? 0),
      this.outbound?.drain(graceMs, () => this.outboundHcm.inFlight),
    ]);
    this.admin?.closeAllConnections();
    this.admin?.close();
    await this.tcp?.close();
    this.runtime.close();
    this.localCluster.close();
    this.app?.agent.destroy();
    this.accessLog.flush();
    await this.tracer.close();
  }

  private async probe(): Promise<void> {
    let healthy = false;
    try {
      const res = await request(`${this.app!.url}/healthz`, { agent: this.app!.agent, timeoutMs: 1000 });
      healthy = res.status === 200;
    } catch {
      healthy = false;
    }
    if (healthy !== this.appHealthy) {
      this.appHealthy = healthy;
      await this.xds.setReady(healthy);
    }
    this.healthTimer = setTimeout(() => void this.probe(), this.config.healthIntervalMs ?? 200);
  }

  /**
   * Applies a control-plane snapshot: compiles its Istio resources and endpoints into clusters and
   * routes (throwing NACKs it and the previous config stays), then installs them without touching
   * in-flight requests.
   */
  applySnapshot(snapshot: Snapshot): void {
    const resources = snapshot.resources ?? [];
    const identity = { service: this.config.service, labels: this.config.labels, namespace: this.namespace };
    let gateway: CompiledGateway | undefined;
    let compiled: ReturnType<typeof compileConfig>;
    if (this.config.role === 'gateway') {
      gateway = compileGateway(resources as MeshResource[], snapshot.endpoints ?? {}, identity, snapshot.namespaces);
      compiled = { clusters: gateway.clusters, hosts: gateway.hosts };
      this.https?.configure(gateway.servers.filter((s) => s.protocol === 'HTTPS'), this.config.credentialsDir);
    } else {
      // VirtualServices bound only to Gateways are the gateway's, not the sidecars'.
      const meshOnly = (resources as MeshResource[]).filter((r) => r.kind !== 'VirtualService' || appliesToMesh(r as VirtualService));
      compiled = compileConfig(meshOnly, snapshot.endpoints ?? {}, identity, snapshot.namespaces);
    }
    const security = compileSecurity(resources, { service: this.config.service, labels: this.config.labels, namespace: this.namespace, port: this.ports.inbound || undefined });
    const tcp = this.tcp ? compileTcp(resources, snapshot.endpoints ?? {}, identity, this.tcp.captures, snapshot.namespaces) : undefined;
    for (const f of [this.filters.inbound, this.filters.http, this.filters.https]) f?.update(resources as MeshResource[]);
    this.runtime.apply(compiled, resources.length === 0);
    if (tcp) this.tcp!.apply(tcp);
    if (gateway) {
      const vhosts = (protocol: 'HTTP' | 'HTTPS') => gateway.servers.filter((s) => s.protocol === protocol).flatMap((s) => gateway.ports.get(s.port) ?? []).filter((v, i, a) => a.indexOf(v) === i);
      this.gatewayTables = { http: new GatewayRouteTable(vhosts('HTTP'), this.runtime, gateway.clusters), https: new GatewayRouteTable(vhosts('HTTPS'), this.runtime, gateway.clusters) };
      this.gatewayConfig = gateway;
    }
    this.security = security;
    // The Telemetry API: every workload of the running world is in namespace default (the gateway too).
    this.telemetry = telemetryFor(resources, { namespace: MESH_NAMESPACE, labels: this.config.labels });
    this.tracer.setPolicy(this.telemetry.tracing);
    this.accessLog.disabled = this.telemetry.accessLogDisabled === true;
    // New connections meet the new mode; established ones keep theirs (as Envoy's listener drain would let them).
    this.mtlsServer?.setMode(security.mtlsMode);
    this.snapshot = snapshot;
  }

  private adminRoutes() {
    return {
      '/ready': () => ({ ready: true, appHealthy: this.appHealthy, controlPlane: this.xds.connected }),
      '/config_dump': () => ({ version: this.snapshot?.version ?? 0, snapshot: this.snapshot, appPort: this.appPort, ports: this.ports, tcpListeners: this.tcp?.listeners ?? [] }),
      '/clusters': () =>
        [...this.runtime.clusters.values(), this.localCluster].map((c) => ({
          name: c.name,
          lb: c.lb.name,
          active: c.breaker.active,
          pending: c.breaker.pending,
          hosts: c.members.map((h) => ({
            instance: h.instance,
            address: h.key,
            version: h.version,
            active: h.activeRequests,
            ejected: c.outlier?.isEjected(h) ?? false,
            ejections: c.outlier?.ejectionsOf(h) ?? 0,
            locality: localityString(localityOf(h.endpoint.labels)),
            // Envoy's /clusters priority: only a localityLbSetting gives hosts other than 0; null = left out by `distribute`.
            ...(c.locality ? { priority: c.locality.priorityOf(h) ?? null } : {}),
          })),
        })),
      '/tcp_clusters': () =>
        [...(this.tcp?.clusters.values() ?? [])].map((c) => ({
          name: c.name,
          active: c.active,
          maxConnections: c.maxConnections,
          hosts: c.members.map((h) => ({ instance: h.instance, address: h.key, active: h.active, ejected: c.outlier?.isEjected(h) ?? false, ejections: c.outlier?.ejectionsOf(h) ?? 0 })),
        })),
      '/traces': (url: URL) => this.tracer.ring.list(Number(url.searchParams.get('limit') ?? 200), url.searchParams.get('trace_id') ?? undefined),
      '/tracing': () => ({ sampling: this.tracer.sampling, telemetry: this.telemetry, exporters: this.tracer.stats() }),
      '/memory': () => {
        (globalThis as { gc?: () => void }).gc?.();
        return process.memoryUsage();
      },
      '/access_log': (url: URL) => this.accessLog.entries(Number(url.searchParams.get('limit') ?? 100)),
      '/certs': () => {
        let c: ReturnType<WorkloadCertManager['current']> | undefined;
        try {
          c = this.certs?.current();
        } catch {
          c = undefined; // not issued yet
        }
        return {
          identity: this.identity,
          mtls: !!this.certs,
          peerAuthenticationMode: this.security.mtlsMode,
          authorizationPolicies: this.security.authz.applied,
          certificate: c ? { serial: c.serial, generation: c.generation, notAfter: c.notAfter.toISOString() } : null,
          inbound: this.mtlsServer ? this.mtlsServer.stats : null,
        };
      },
    };
  }
}
