/**
 * The sidecar's L4 side: one outbound TCP listener per captured destination (Istio's outbound
 * listener for a TCP service port, which iptables makes the app's way to that destination), the
 * TCP clusters behind them, and config pushes applied without touching open connections: a cluster
 * whose settings did not change keeps its ejections and counters, listeners keep their ports, and
 * each new connection reads the routes in force when it arrives.
 */
import net from 'node:net';
import type { AccessLog } from '../access-log';
import type { MeshStats } from '../stats';
import { meshRandom, type Rng } from '../rng';
import type { Clock } from '../outlier-detector';
import { TcpCluster } from './tcp-cluster';
import { proxyTcp, type TcpConnector, type TcpProxyContext } from './tcp-proxy';
import type { CompiledTcp, TcpCapture, TcpListenerSpec } from './tcp-routes';

export interface TcpRuntimeOptions {
  host: string;
  workload: { service: string; version: string; namespace?: string };
  stats: MeshStats;
  accessLog: AccessLog;
  rng?: Rng;
  clock?: Clock;
  connector?: TcpConnector;
  principals?: TcpProxyContext['principals'];
}

export interface TcpListenerInfo {
  capture: TcpCapture;
  /** Where the app connects: this sidecar's listener for that destination. */
  port: number;
}

export class TcpRuntime {
  readonly clusters = new Map<string, TcpCluster>();
  private readonly keys = new Map<string, string>();
  private specs = new Map<string, TcpListenerSpec>();
  private readonly servers: net.Server[] = [];
  private readonly sockets = new Set<net.Socket>();
  readonly listeners: TcpListenerInfo[] = [];
  private readonly rng: Rng;
  /** Connections accepted and not yet logged. */
  private open = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly opts: TcpRuntimeOptions) {
    this.rng = opts.rng ?? meshRandom(7);
  }

  /** Opens one listener per capture (ephemeral ports unless given) before any config arrives: a connection meets the default route. */
  async listen(captures: readonly (TcpCapture & { listenPort?: number })[]): Promise<TcpListenerInfo[]> {
    for (const capture of captures) {
      const name = `${capture.address ?? '127.0.0.1'}_${capture.port}`;
      if (!this.specs.has(name)) this.specs.set(name, { name, capture, routes: [], inspectTls: false });
      const ctx: TcpProxyContext = {
        workload: this.opts.workload,
        listener: () => this.specs.get(name)!,
        clusters: () => this.clusters,
        stats: this.opts.stats,
        accessLog: this.opts.accessLog,
        rng: this.rng,
        connector: this.opts.connector,
        principals: this.opts.principals,
        onDone: () => {
          if (--this.open > 0) return;
          const w = this.idleWaiters;
          this.idleWaiters = [];
          for (const f of w) f();
        },
      };
      const server = net.createServer({ allowHalfOpen: true }, (socket) => {
        this.sockets.add(socket);
        socket.once('close', () => this.sockets.delete(socket));
        this.open++;
        proxyTcp(socket, ctx);
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(capture.listenPort ?? 0, this.opts.host, () => resolve());
      });
      this.servers.push(server);
      const info = { capture: { service: capture.service, port: capture.port, ...(capture.address ? { address: capture.address } : {}) }, port: (server.address() as net.AddressInfo).port };
      this.listeners.push(info);
    }
    return this.listeners;
  }

  get captures(): TcpCapture[] {
    return this.listeners.map((l) => l.capture);
  }

  /** Installs a compiled config: new clusters built, unchanged ones kept (with their state), retired ones closed. */
  apply(compiled: CompiledTcp): void {
    const next = new Map<string, TcpCluster>();
    for (const [name, spec] of compiled.clusters) {
      let c = this.clusters.get(name);
      if (!c || this.keys.get(name) !== spec.settingsKey) {
        c?.close();
        c = new TcpCluster(name, spec.service, {
          policy: spec.policy,
          keepaliveMs: spec.keepaliveMs,
          idleTimeoutMs: spec.idleTimeoutMs,
          clock: this.opts.clock,
          onEject: (cl, h) => this.opts.stats.ejections.inc({ cluster: cl, host: h.instance }),
        }, spec.port);
        this.keys.set(name, spec.settingsKey);
      }
      c.setEndpoints(spec.endpoints);
      next.set(name, c);
    }
    for (const [name, c] of this.clusters) {
      if (!next.has(name)) {
        c.close();
        this.keys.delete(name);
      }
    }
    this.clusters.clear();
    for (const [k, v] of next) this.clusters.set(k, v);
    for (const l of compiled.listeners) this.specs.set(l.name, l);
  }

  /** Connections accepted and not finished yet. */
  get activeConnections(): number {
    return this.open;
  }

  /** Resolves once every accepted connection has ended and been logged. */
  whenIdle(): Promise<void> {
    if (this.open === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops accepting and closes every proxied connection. */
  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await Promise.all(this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    for (const c of this.clusters.values()) c.close();
  }
}
