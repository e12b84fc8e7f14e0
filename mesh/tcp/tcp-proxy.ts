/**
 * Envoy's tcp_proxy filter for one downstream connection: route (SNI for `tls` routes, read from
 * the ClientHello and passed through untouched), weighted cluster choice, the cluster's
 * max_connections breaker (UO), a host outlier detection has not ejected (UH), one connect attempt
 * bounded by connectTimeout (Envoy's max_connect_attempts default 1, which Istio keeps: a failed
 * connect is UF,URX), then bytes both ways with half-close (a FIN travels on, as Envoy's tcp_proxy
 * does), counted into Istio's istio_tcp_* metrics as they flow and logged once when the
 * connection ends. Callbacks only — no promise per connection.
 */
import net from 'node:net';
import type { AccessLog, AccessLogEntry } from '../access-log';
import type { MeshStats, TcpSeries } from '../stats';
import type { Rng } from '../rng';
import { readSni, MAX_CLIENT_HELLO } from './sni';
import { sniMatches, type TcpListenerSpec, type TcpRouteSpec } from './tcp-routes';
import type { TcpCluster, TcpHost } from './tcp-cluster';

/** Envoy's %UPSTREAM_TRANSPORT_FAILURE_REASON% for a refused connect: "delayed connect error: " + strerror. */
const CONNECT_ERROR_TEXT: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'Connection refused',
  EHOSTUNREACH: 'No route to host',
  ENETUNREACH: 'Network is unreachable',
  EADDRNOTAVAIL: 'Cannot assign requested address',
};

/** Opens the upstream connection to a host of `cluster`: plaintext by default; mTLS to a peer sidecar when its endpoint says so. */
export type TcpConnector = (host: TcpHost, onConnect: () => void, cluster: TcpCluster) => net.Socket;

export const plaintextConnector: TcpConnector = (host, onConnect) =>
  net.connect({ host: host.endpoint.host, port: host.endpoint.port, allowHalfOpen: true }, onConnect);

export interface TcpProxyContext {
  workload: { service: string; version: string; namespace?: string };
  /** The listener's config in force now (a config push changes it for the next connection). */
  listener: () => TcpListenerSpec;
  clusters: () => ReadonlyMap<string, TcpCluster>;
  stats: MeshStats;
  accessLog: AccessLog;
  rng: Rng;
  connector?: TcpConnector;
  /** This sidecar's SPIFFE id when mTLS is on (source_principal), and the peer's for a host (destination_principal). */
  principals?: (host: TcpHost | undefined) => { source: string; destination: string; policy: string };
  /** Called once, after the connection's access log entry and metrics are written. */
  onDone?: () => void;
}

/** Proxies one accepted downstream connection to completion. */
export function proxyTcp(downstream: net.Socket, ctx: TcpProxyContext): void {
  const start = Date.now();
  const t0 = process.hrtime.bigint();
  const spec = ctx.listener();
  downstream.setNoDelay(true);
  let head: Buffer[] = [];
  let received = 0;
  let sent = 0;
  const flags: string[] = [];
  let failure = '';
  let route: TcpRouteSpec | undefined;
  let cluster: TcpCluster | undefined;
  let host: TcpHost | undefined;
  let upstream: net.Socket | undefined;
  let series: TcpSeries | undefined;
  let sni: string | undefined;
  let done = false;
  let idle: NodeJS.Timeout | undefined;
  let idleTimedOut = false;

  const finish = (): void => {
    if (done) return;
    done = true;
    clearTimeout(idle);
    if (cluster && host && upstream) {
      cluster.active--;
      host.active--;
    }
    series ??= open();
    series.closed();
    const durationUs = Number(process.hrtime.bigint() - t0) / 1000;
    const p = ctx.principals?.(host);
    const entry: AccessLogEntry = {
      start_time: new Date(start).toISOString(),
      route_name: route?.name ?? '-',
      method: '-',
      path: '-',
      protocol: '-',
      response_code: 0,
      response_flags: flags.length ? flags.join(',') : '-',
      // Envoy's %CONNECTION_TERMINATION_DETAILS% has no field in the shared format; the idle timeout shows here.
      response_code_details: idleTimedOut ? 'idle_timeout' : '-',
      bytes_received: received,
      bytes_sent: sent,
      duration: Math.floor(durationUs / 1000),
      upstream_service_time: '-',
      user_agent: '-',
      request_id: '-',
      authority: sni ?? '-',
      upstream_host: host?.key ?? '-',
      upstream_cluster: cluster?.name ?? '-',
      upstream_transport_failure_reason: failure || '-',
      direction: 'outbound',
      duration_ms: Math.round(durationUs) / 1000,
      upstream_instance: host?.instance ?? '-',
      x_request_id: '-',
      attempts: host ? 1 : 0,
      source_workload: `${ctx.workload.service}-${ctx.workload.version}`,
      source_principal: p?.source ?? '-',
      destination_principal: p?.destination ?? '-',
    };
    ctx.accessLog.logEntry(entry);
    ctx.onDone?.();
  };

  const open = (): TcpSeries => {
    const p = ctx.principals?.(host);
    const labelsHost = host?.endpoint;
    const hasSidecar = labelsHost?.labels['security.istio.io/tlsMode'] === 'istio';
    const version = labelsHost?.labels.version ?? 'unknown';
    return ctx.stats.openTcp({
      direction: 'outbound',
      destinationService: cluster?.service ?? 'unknown',
      destinationVersion: version,
      destinationNamespace: labelsHost?.namespace ?? 'default',
      destinationWorkload: labelsHost && (hasSidecar || labelsHost.labels.app) ? `${labelsHost.labels.app ?? cluster!.service}-${version}` : 'unknown',
      responseFlags: flags.length ? flags.join(',') : '-',
      connectionSecurityPolicy: p?.policy ?? 'unknown',
      sourcePrincipal: p?.source ?? 'unknown',
      destinationPrincipal: p?.destination ?? 'unknown',
    });
  };

  /** A connection the proxy cannot carry: closed at once, as Envoy closes it (no bytes forwarded). */
  const refuse = (flag: string): void => {
    flags.push(flag);
    downstream.destroy();
    finish();
  };

  const onDownstreamData = (chunk: Buffer): void => {
    idle?.refresh();
    received += chunk.length;
    if (series) series.received(chunk.length);
    if (!upstream) head.push(chunk);
  };
  downstream.on('data', onDownstreamData);
  downstream.on('error', () => undefined);
  downstream.on('close', () => {
    if (upstream && !upstream.destroyed) upstream.destroy();
    if (!upstream || upstream.destroyed) finish();
  });

  const routeAndConnect = (): void => {
    route = spec.routes.find((r) => (r.sniHosts ? sniMatches(r.sniHosts, sni) : true));
    if (!route) return refuse('NR');
    let pick = ctx.rng() * route.totalWeight;
    const chosen = route.destinations.find((d) => (pick -= d.weight) < 0) ?? route.destinations[route.destinations.length - 1];
    cluster = ctx.clusters().get(chosen.cluster);
    if (!cluster) return refuse('NR');
    if (!cluster.canCreate()) return refuse('UO');
    host = cluster.pick();
    if (!host) return refuse('UH');
    const c = cluster;
    const h = host;
    c.active++;
    h.active++;
    let connected = false;
    const up = (ctx.connector ?? plaintextConnector)(h, () => {
      if (connected) return;
      connected = true;
      clearTimeout(timer);
      c.connected(h);
      up.setNoDelay(true);
      if (c.keepaliveMs !== undefined) up.setKeepAlive(true, c.keepaliveMs);
      series = open();
      if (received > 0) series.received(received);
      if (c.idleTimeoutMs > 0) {
        // tcp_proxy's idle_timeout: no byte either way for that long closes both sides (one timer, refreshed per chunk).
        idle = setTimeout(() => {
          idleTimedOut = true;
          up.destroy();
          downstream.destroy();
        }, c.idleTimeoutMs);
        idle.unref();
      }
      for (const b of head) up.write(b);
      head = [];
      downstream.pipe(up);
      up.pipe(downstream);
      downstream.resume();
    }, c);
    upstream = up;
    const timer = setTimeout(() => {
      if (connected) return;
      c.connectFailed(h, 'timeout');
      flags.push('UF', 'URX');
      up.destroy();
      downstream.destroy();
    }, c.connectTimeoutMs);
    up.on('data', (chunk: Buffer) => {
      idle?.refresh();
      sent += chunk.length;
      series?.sent(chunk.length);
    });
    up.on('error', (err: NodeJS.ErrnoException) => {
      if (connected) return;
      clearTimeout(timer);
      c.connectFailed(h, 'connect-failed');
      flags.push('UF', 'URX');
      const text = CONNECT_ERROR_TEXT[err.code ?? ''];
      failure = text ? `delayed connect error: ${text}` : (err.code ?? err.message);
    });
    up.on('close', () => {
      clearTimeout(timer);
      if (!downstream.destroyed) {
        if (connected) downstream.end();
        else downstream.destroy();
      }
      if (downstream.destroyed || !connected) finish();
      else downstream.once('close', finish);
    });
  };

  if (!spec.inspectTls) {
    downstream.pause();
    routeAndConnect();
    return;
  }
  // tls_inspector: hold the bytes until the ClientHello says which name it wants (or that it is not TLS).
  const inspect = (): void => {
    const r = readSni(Buffer.concat(head));
    if (r.kind === 'more' && received < MAX_CLIENT_HELLO) return;
    downstream.off('data', inspect);
    downstream.pause();
    if (r.kind === 'sni') sni = r.name;
    routeAndConnect();
  };
  downstream.on('data', inspect);
}
