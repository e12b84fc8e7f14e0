import type http from 'node:http';
import { Pool } from 'undici';
import { Cluster } from '../cluster';
import { HttpConnectionManager } from '../http-connection-manager';
import { listen, type Listener } from '../listener';
import { LocalRouteTable, type RouteTable } from '../route-table';
import { MeshRuntime } from '../runtime';
import { compileConfig } from '../compile';
import { SpanRing } from '../tracing';
import { MeshStats } from '../stats';
import { AccessLog } from '../access-log';
import { startAdmin } from '../admin';
import { XdsClient } from '../xds-client';
import type { NodeInfo, Snapshot } from '../xds';

export interface SidecarConfig {
  role: 'sidecar' | 'gateway';
  service: string;
  version: string;
  instance: string;
  labels: Record<string, string>;
  host: string;
  /** The address peers use to reach this sidecar, when it differs from the listen address (compose: the pod's hostname, listening on 0.0.0.0). */
  advertiseHost?: string;
  ports: { inbound: number; outbound: number; admin: number };
  controlPlaneUrl: string;
  /** The local app's port, when known at start (compose); otherwise set later with setAppPort. */
  appPort?: number;
  /** Gateway only: path prefix → service. */
  gatewayRoutes?: { prefix: string; service: string }[];
  /** How often the app's /healthz is probed. */
  healthIntervalMs?: number;
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
  readonly spans = new SpanRing();
  readonly runtime: MeshRuntime;
  readonly localCluster = new Cluster('inbound|app');
  private outboundRoutes: RouteTable;
  private readonly inboundRoutes = new LocalRouteTable(this.localCluster);
  private inbound?: Listener;
  private outbound?: Listener;
  private admin?: http.Server;
  private inboundHcm?: HttpConnectionManager;
  private outboundHcm!: HttpConnectionManager;
  private xds!: XdsClient;
  private appPort?: number;
  private appHealthy = false;
  private healthTimer?: NodeJS.Timeout;
  private healthPool?: Pool;
  snapshot?: Snapshot;
  ports = { inbound: 0, outbound: 0, admin: 0 };

  constructor(readonly config: SidecarConfig) {
    this.stats = new MeshStats({ service: config.service, version: config.version });
    this.runtime = new MeshRuntime({
      observer: this.stats,
      unconfiguredLb: 'ROUND_ROBIN',
      gatewayRoutes: config.role === 'gateway' ? (config.gatewayRoutes ?? []) : undefined,
    });
    this.stats.clusterGauges = () => this.runtime.gauges();
    this.outboundRoutes = this.runtime;
  }

  /** Service name → its service-level cluster. */
  get clusters(): ReadonlyMap<string, Cluster> {
    return this.runtime.serviceClusters;
  }

  async start(): Promise<void> {
    const { config } = this;
    const workload = { service: config.service, version: config.version };
    this.outboundHcm = new HttpConnectionManager({ direction: 'outbound', workload, routes: () => this.outboundRoutes, stats: this.stats, accessLog: this.accessLog, spans: this.spans });
    this.outbound = await listen('outbound', config.host, config.ports.outbound, this.outboundHcm.handle);
    this.ports.outbound = this.outbound.port;
    if (config.role === 'sidecar') {
      this.inboundHcm = new HttpConnectionManager({ direction: 'inbound', workload, routes: () => this.inboundRoutes, stats: this.stats, accessLog: this.accessLog, spans: this.spans });
      this.inbound = await listen('inbound', config.host, config.ports.inbound, this.inboundHcm.handle);
      this.ports.inbound = this.inbound.port;
    }
    this.admin = await startAdmin(config.host, config.ports.admin, this.adminRoutes(), async () => ({ contentType: this.stats.registry.contentType, body: await this.stats.registry.metrics() }));
    this.ports.admin = (this.admin.address() as { port: number }).port;

    const node: NodeInfo = {
      id: config.instance,
      role: config.role,
      service: config.service,
      version: config.version,
      labels: config.labels,
      inbound: this.inbound ? { host: config.advertiseHost ?? config.host, port: this.ports.inbound } : undefined,
      admin: { host: config.advertiseHost ?? config.host, port: this.ports.admin },
    };
    this.xds = new XdsClient({
      controlPlaneUrl: config.controlPlaneUrl,
      node,
      onSnapshot: (s) => this.applySnapshot(s),
      onConnectionChange: (connected) => {
        if (connected && this.appHealthy) void this.xds.setReady(true);
      },
    });
    this.xds.start();
    if (config.appPort) this.setAppPort(config.appPort);
  }

  /** Points the inbound listener at the local app and starts probing its health. */
  setAppPort(port: number): void {
    this.appPort = port;
    this.localCluster.setEndpoints([{ instance: this.config.instance, service: this.config.service, labels: this.config.labels, host: this.config.host, port }]);
    this.healthPool?.close().catch(() => undefined);
    this.healthPool = new Pool(`http://${this.config.host}:${port}`, { connections: 1, headersTimeout: 1000, bodyTimeout: 1000 });
    clearTimeout(this.healthTimer);
    void this.probe();
  }

  /** Drains: stops accepting, lets in-flight requests finish, then leaves the mesh. */
  async stop(graceMs = 2000): Promise<void> {
    clearTimeout(this.healthTimer);
    this.xds?.stop();
    if (this.outboundHcm) this.outboundHcm.draining = true;
    if (this.inboundHcm) this.inboundHcm.draining = true;
    await Promise.all([
      this.inbound?.drain(graceMs, () => this.inboundHcm?.inFlight ?? 0),
      this.outbound?.drain(graceMs, () => this.outboundHcm.inFlight),
    ]);
    this.admin?.closeAllConnections();
    this.admin?.close();
    this.runtime.close();
    this.localCluster.close();
    await this.healthPool?.close().catch(() => undefined);
    this.accessLog.flush();
  }

  private async probe(): Promise<void> {
    let healthy = false;
    try {
      const res = await this.healthPool!.request({ path: '/healthz', method: 'GET' });
      await res.body.dump();
      healthy = res.statusCode === 200;
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
    const compiled = compileConfig(resources, snapshot.endpoints ?? {}, { service: this.config.service, labels: this.config.labels });
    this.runtime.apply(compiled, resources.length === 0);
    this.snapshot = snapshot;
  }

  private adminRoutes() {
    return {
      '/ready': () => ({ ready: true, appHealthy: this.appHealthy, controlPlane: this.xds.connected }),
      '/config_dump': () => ({ version: this.snapshot?.version ?? 0, snapshot: this.snapshot, appPort: this.appPort, ports: this.ports }),
      '/clusters': () =>
        [...this.runtime.clusters.values(), this.localCluster].map((c) => ({
          name: c.name,
          lb: c.lb.name,
          active: c.breaker.active,
          pending: c.breaker.pending,
          hosts: c.members.map((h) => ({ instance: h.instance, address: h.key, version: h.version, active: h.activeRequests, ejected: c.outlier?.isEjected(h) ?? false, ejections: c.outlier?.ejectionsOf(h) ?? 0 })),
        })),
      '/traces': (url: URL) => this.spans.list(Number(url.searchParams.get('limit') ?? 200), url.searchParams.get('trace_id') ?? undefined),
      '/memory': () => {
        (globalThis as { gc?: () => void }).gc?.();
        return process.memoryUsage();
      },
      '/access_log': (url: URL) => this.accessLog.entries(Number(url.searchParams.get('limit') ?? 100)),
    };
  }
}
