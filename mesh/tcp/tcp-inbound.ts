/**
 * The inbound side of sidecar-to-sidecar TCP: an mTLS connection the inbound listener accepted
 * (PeerAuthentication applied there: STRICT refuses plaintext before anything else) whose ALPN named
 * a service port (`meshlab-tcp/<port>`) is piped to the app's TCP port for it, as Envoy's inbound
 * listener passes a TCP filter chain to `inbound|<port>||`. Counted in istio_tcp_* with
 * reporter=destination, connection_security_policy=mutual_tls and the peer's SPIFFE id, and logged
 * once when it ends. AuthorizationPolicy applies first, as Istio reads it for TCP (security/authz.ts:
 * evaluateTcp); a denied connection is closed. A port the app does not serve is closed at once
 * (Envoy: no filter chain match).
 */
import net from 'node:net';
import type tls from 'node:tls';
import type { AccessLog } from '../access-log';
import type { MeshStats, TcpSeries } from '../stats';
import type { ConnInfo } from '../security/mtls';
import type { CompiledAuthorization } from '../security/authz';
import { Details } from '../response-flags';

export interface TcpInboundContext {
  host: string;
  workload: { service: string; version: string; namespace?: string };
  identity: string;
  /** Service port → the app's TCP port. */
  appPorts: () => Readonly<Record<number, number>>;
  stats: MeshStats;
  accessLog: AccessLog;
  /** The AuthorizationPolicies in force for this workload (Envoy's network RBAC filter before tcp_proxy). */
  authz?: () => CompiledAuthorization | undefined;
}

export function proxyInbound(downstream: tls.TLSSocket, info: ConnInfo, servicePort: number, ctx: TcpInboundContext): void {
  const start = Date.now();
  const t0 = process.hrtime.bigint();
  const target = ctx.appPorts()[servicePort];
  const cluster = `inbound|${servicePort}||`;
  let received = 0;
  let sent = 0;
  let flags = '-';
  let details = '-';
  let done = false;
  let series: TcpSeries | undefined;
  const open = (): TcpSeries =>
    ctx.stats.openTcp({
      direction: 'inbound',
      destinationService: ctx.workload.service,
      destinationVersion: ctx.workload.version,
      destinationNamespace: ctx.workload.namespace ?? 'default',
      destinationWorkload: `${ctx.workload.service}-${ctx.workload.version}`,
      responseFlags: flags,
      connectionSecurityPolicy: info.connectionSecurityPolicy,
      sourcePrincipal: info.peerPrincipal ?? 'unknown',
      destinationPrincipal: ctx.identity,
    });
  const finish = (): void => {
    if (done) return;
    done = true;
    (series ??= open()).closed();
    const durationUs = Number(process.hrtime.bigint() - t0) / 1000;
    ctx.accessLog.logEntry({
      start_time: new Date(start).toISOString(),
      route_name: '-',
      method: '-',
      path: '-',
      protocol: '-',
      response_code: 0,
      response_flags: flags,
      response_code_details: details,
      bytes_received: received,
      bytes_sent: sent,
      duration: Math.floor(durationUs / 1000),
      upstream_service_time: '-',
      user_agent: '-',
      request_id: '-',
      authority: '-',
      upstream_host: target ? `${ctx.host}:${target}` : '-',
      upstream_cluster: cluster,
      upstream_transport_failure_reason: '-',
      direction: 'inbound',
      duration_ms: Math.round(durationUs) / 1000,
      upstream_instance: '-',
      x_request_id: '-',
      attempts: target ? 1 : 0,
      source_workload: 'unknown',
      source_principal: info.peerPrincipal ?? '-',
      destination_principal: ctx.identity,
    });
  };
  downstream.on('error', () => undefined);
  const authz = ctx.authz?.();
  const decision = authz && authz.applied.length > 0 ? authz.evaluateTcp(info.peerPrincipal) : undefined;
  if (decision && !decision.allowed) {
    // Envoy's network RBAC filter: the connection is closed, no flag, the policy in the details.
    const [ns, name] = (decision.policy ?? '').split('/');
    details = Details.rbacDenied(decision.policy ? `ns[${ns}]-policy[${name}]-rule[${decision.rule ?? 0}]` : 'none');
    downstream.destroy();
    finish();
    return;
  }
  if (!target) {
    flags = 'NR';
    downstream.destroy();
    finish();
    return;
  }
  downstream.pause();
  const app = net.connect({ host: ctx.host, port: target, allowHalfOpen: true }, () => {
    series = open();
    downstream.pipe(app);
    app.pipe(downstream);
    downstream.resume();
  });
  downstream.on('data', (b: Buffer) => {
    received += b.length;
    series?.received(b.length);
  });
  app.on('data', (b: Buffer) => {
    sent += b.length;
    series?.sent(b.length);
  });
  app.on('error', () => {
    if (!series) flags = 'UF';
  });
  let closed = 0;
  const onClose = (): void => {
    if (++closed === 2) finish();
  };
  app.on('close', () => {
    if (!downstream.destroyed) downstream.end();
    if (!series) downstream.destroy();
    onClose();
  });
  downstream.on('close', () => {
    if (!app.destroyed) app.destroy();
    onClose();
  });
}
