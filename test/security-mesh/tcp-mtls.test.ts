/**
 * Sidecar-to-sidecar TCP over mTLS (mesh/tcp/tcp-mtls.ts, tcp-inbound.ts): the caller's TCP proxy
 * reaches a destination with a sidecar over mTLS (ALPN names the service port), the destination's
 * inbound listener (mesh/security/mtls.ts) applies PeerAuthentication — STRICT refuses plaintext
 * TCP as it refuses plaintext HTTP — and pipes the stream to its app's TCP port.
 */
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { once } from 'node:events';
import { MeshCA } from '../../mesh/security/ca';
import type { WorkloadCertManager } from '../../mesh/security/workload-cert';
import { createMtlsServer, type MtlsServer } from '../../mesh/security/mtls';
import { spiffeId } from '../../mesh/security/identity';
import { TcpRuntime } from '../../mesh/tcp/tcp-runtime';
import { compileTcp } from '../../mesh/tcp/tcp-routes';
import { tcpConnectorFor } from '../../mesh/tcp/tcp-mtls';
import { proxyInbound } from '../../mesh/tcp/tcp-inbound';
import { compileAuthorization, type CompiledAuthorization } from '../../mesh/security/authz';
import { MeshStats } from '../../mesh/stats';
import { AccessLog } from '../../mesh/access-log';
import { TLS_MODE_LABEL } from '../../mesh/upstream-tls';
import { seededRandom } from '../../lib/random';
import { tmpDir, workloadCerts } from '../security/helpers';

let dir: string;
let ca: MeshCA;
let ordersCerts: WorkloadCertManager;
let dbCerts: WorkloadCertManager;
const cleanups: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  dir = tmpDir('tcp-mtls');
  ca = await MeshCA.loadOrCreate(dir);
  ordersCerts = await workloadCerts(ca, 'orders');
  dbCerts = await workloadCerts(ca, 'db');
});
afterAll(() => {
  ordersCerts?.stop();
  dbCerts?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function metric(stats: MeshStats, name: string, match: Record<string, string>): Promise<number> {
  const m = (await stats.registry.getMetricsAsJSON()).find((x) => x.name === name);
  return (m?.values ?? []).filter((v) => Object.entries(match).every(([k, val]) => String(v.labels[k]) === val)).reduce((a, v) => a + Number(v.value), 0);
}

/** The destination pod: an echo app on a TCP port and its sidecar's inbound listener (mTLS server) in `mode`. */
async function destination(mode: 'STRICT' | 'PERMISSIVE', authz?: CompiledAuthorization): Promise<{ port: number; appConnections: () => number; stats: MeshStats; log: AccessLog; mtls: MtlsServer }> {
  let conns = 0;
  const app = net.createServer((s) => {
    conns++;
    s.on('error', () => undefined);
    s.pipe(s);
  });
  app.listen(0, '127.0.0.1');
  await once(app, 'listening');
  const appPort = (app.address() as net.AddressInfo).port;
  const stats = new MeshStats({ service: 'db', version: 'v1' });
  const log = new AccessLog(-1);
  const ctx = { host: '127.0.0.1', workload: { service: 'db', version: 'v1' }, identity: spiffeId('db'), appPorts: () => ({ 5432: appPort }), stats, accessLog: log, authz: () => authz };
  const mtls = createMtlsServer({ mode, certs: dbCerts, handler: http.createServer(), tcp: (s, info, port) => proxyInbound(s, info, port, ctx) });
  const { port } = await mtls.listen(0, '127.0.0.1');
  cleanups.push(() => mtls.close(), () => new Promise<void>((r) => app.close(() => r())));
  return { port, appConnections: () => conns, stats, log, mtls };
}

async function caller(inboundPort: number, service = 'db'): Promise<{ rt: TcpRuntime; port: number; stats: MeshStats; log: AccessLog }> {
  const stats = new MeshStats({ service: 'orders', version: 'v1' });
  const log = new AccessLog(-1);
  const rt = new TcpRuntime({ host: '127.0.0.1', workload: { service: 'orders', version: 'v1' }, stats, accessLog: log, rng: seededRandom(3), ...tcpConnectorFor(ordersCerts, spiffeId('orders')) });
  const capture = { service: 'db', port: 5432 };
  const [l] = await rt.listen([capture]);
  rt.apply(compileTcp([], { db: [{ instance: 'db-v1-0', service, labels: { app: 'db', version: 'v1', [TLS_MODE_LABEL]: 'istio' }, host: '127.0.0.1', port: inboundPort }] }, { service: 'orders', labels: { app: 'orders' } }, [capture]));
  cleanups.push(() => rt.close());
  return { rt, port: l.port, stats, log };
}

/** Writes `payload`, reads until as many bytes came back (or the connection closed), then closes: no half-close (see mesh/tcp/README.md). */
function roundTrip(port: number, payload: Buffer): Promise<Buffer> {
  return new Promise((resolve) => {
    const c = net.connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    let n = 0;
    c.on('data', (b) => {
      chunks.push(b);
      if ((n += b.length) >= payload.length) c.end();
    });
    c.on('error', () => undefined);
    c.on('connect', () => c.write(payload));
    c.on('close', () => resolve(Buffer.concat(chunks)));
  });
}

test('TCP to a destination with a sidecar goes over mTLS: 50,000 bytes echoed, both reporters count them with both SPIFFE ids, the inbound says mutual_tls', async () => {
  const dst = await destination('STRICT');
  const src = await caller(dst.port);
  const echoed = await roundTrip(src.port, Buffer.alloc(50_000, 1));
  await src.rt.whenIdle();
  expect(echoed.length).toBe(50_000);
  expect(dst.mtls.stats.accepted).toEqual({ mutual_tls: 1, none: 0 });
  expect(dst.appConnections()).toBe(1);
  const principals = { source_principal: spiffeId('orders'), destination_principal: spiffeId('db') };
  expect(await metric(src.stats, 'istio_tcp_received_bytes_total', { reporter: 'source', ...principals })).toBe(50_000);
  expect(await metric(src.stats, 'istio_tcp_sent_bytes_total', { reporter: 'source', ...principals })).toBe(50_000);
  expect(await metric(dst.stats, 'istio_tcp_connections_opened_total', { reporter: 'destination', connection_security_policy: 'mutual_tls', ...principals })).toBe(1);
  expect(await metric(dst.stats, 'istio_tcp_received_bytes_total', { reporter: 'destination', connection_security_policy: 'mutual_tls', ...principals })).toBe(50_000);
});

test('PeerAuthentication STRICT applies to TCP: a plaintext client is refused at the inbound listener (plaintext_in_strict), 0 connections reach the app', async () => {
  const dst = await destination('STRICT');
  await roundTrip(dst.port, Buffer.from('SELECT 1'));
  expect(dst.mtls.stats.refused).toEqual({ plaintext_in_strict: 1 });
  expect(dst.appConnections()).toBe(0);
});

test('the peer must prove the destination service: a destination whose certificate is db, reached as payments, fails the connect (UF,URX) and no byte reaches the app', async () => {
  const dst = await destination('PERMISSIVE');
  const src = await caller(dst.port, 'payments');
  const echoed = await roundTrip(src.port, Buffer.from('hello'));
  await src.rt.whenIdle();
  expect(echoed.length).toBe(0);
  expect(dst.appConnections()).toBe(0);
  const [e] = src.log.entries();
  expect(e.response_flags).toBe('UF,URX');
});

test('AuthorizationPolicy applies to the TCP stream: ALLOW only payments → orders\' mTLS connection is closed at the inbound, 0 reach the app, logged as an RBAC denial', async () => {
  const allowPayments = compileAuthorization([{ metadata: { name: 'payments-only', namespace: 'default' }, spec: { action: 'ALLOW', rules: [{ from: [{ source: { principals: ['cluster.local/ns/default/sa/payments'] } }] }] } }], { service: 'db', labels: { app: 'db' } });
  const dst = await destination('STRICT', allowPayments);
  const src = await caller(dst.port);
  const echoed = await roundTrip(src.port, Buffer.from('hello'));
  await src.rt.whenIdle();
  expect(echoed.length).toBe(0);
  expect(dst.mtls.stats.accepted.mutual_tls).toBe(1); // the handshake passed: the policy, not mTLS, refused it
  expect(dst.appConnections()).toBe(0);
  expect(dst.log.entries().map((e) => [e.direction, e.response_code_details, e.source_principal])).toEqual([['inbound', 'rbac_access_denied_matched_policy[none]', spiffeId('orders')]]);
});
