import fs from 'node:fs';
import http from 'node:http';
import { Sidecar } from '../../mesh/sidecar/sidecar';
import { MeshCA } from '../../mesh/security/ca';
import { spiffeId } from '../../mesh/security/identity';
import { TLS_MODE_LABEL } from '../../mesh/upstream-tls';
import { Upstream, push, call, closeAgent, metric } from '../mesh/harness';
import { tmpDir } from '../security/helpers';
import { STRICT_PEER_AUTHENTICATION } from '../../scenarios/runner/fixtures';

const STRICT = STRICT_PEER_AUTHENTICATION;

/**
 * Two in-process sidecars (orders → payments) signed by an in-process mesh CA: auto mTLS, principals, the switch
 * to STRICT cutting plaintext keep-alive connections, DestinationRule tls DISABLE, NACK of an unrunnable policy,
 * and rotation without breaking pooled connections.
 */
describe('sidecar security wiring (in-process)', () => {
  const caDir = tmpDir('sidecar');
  let ca: MeshCA;
  let app: Upstream;
  let payments: Sidecar;
  let orders: Sidecar;
  const plainAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });

  const sidecar = (service: string): Sidecar => {
    const s = new Sidecar({
      role: 'sidecar',
      service,
      version: 'v1',
      instance: `${service}-v1-0`,
      labels: { app: service, version: 'v1' },
      host: '127.0.0.1',
      ports: { inbound: 0, outbound: 0, admin: 0 },
      controlPlaneUrl: 'http://127.0.0.1:9',
      mtls: true,
      certSeed: 7,
      sign: async (csr) => ({ ...(await ca.signCsr(csr, { identity: spiffeId(service), ttlMs: 3_600_000 })), rootPem: ca.rootPem }),
    });
    (s.accessLog as unknown as { fd: number }).fd = -1;
    return s;
  };
  const endpoints = () => ({
    payments: [{ instance: 'payments-v1-0', service: 'payments', labels: { app: 'payments', version: 'v1', [TLS_MODE_LABEL]: 'istio' }, host: '127.0.0.1', port: payments.ports.inbound }],
  });
  const plainGet = (): Promise<number> =>
    new Promise((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port: payments.ports.inbound, path: '/plain', agent: plainAgent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
    });
  const metrics = async (s: Sidecar) => s.stats.registry.metrics();

  beforeAll(async () => {
    ca = await MeshCA.loadOrCreate(caDir);
    app = await new Upstream('payments-v1-0', 'v1').start();
    payments = sidecar('payments');
    orders = sidecar('orders');
    await Promise.all([payments.start(), orders.start()]);
    payments.setAppPort(app.port);
    push(payments, '', {});
    push(orders, '', endpoints());
  });
  afterAll(async () => {
    plainAgent.destroy();
    closeAgent();
    await Promise.all([payments?.stop(100), orders?.stop(100)]);
    await app?.stop();
    fs.rmSync(caDir, { recursive: true, force: true });
  });

  test('orders → payments goes over mTLS: both reporters carry the verified principals', async () => {
    const res = await call(orders.ports.outbound, '/charge');
    expect(res.status).toBe(200);
    const pm = await metrics(payments);
    expect(metric(pm, 'istio_requests_total', { reporter: 'destination', source_principal: spiffeId('orders'), destination_principal: spiffeId('payments'), connection_security_policy: 'mutual_tls', response_code: '200' })).toBe(1);
    const om = await metrics(orders);
    expect(metric(om, 'istio_requests_total', { reporter: 'source', source_principal: spiffeId('orders'), destination_principal: spiffeId('payments'), response_code: '200' })).toBe(1);
    expect(payments.accessLog.entries(1)[0]).toMatchObject({ direction: 'inbound', source_principal: spiffeId('orders'), destination_principal: spiffeId('payments') });
  });

  test('switching to STRICT cuts a plaintext keep-alive connection at its next request; mTLS traffic carries on', async () => {
    expect(await plainGet()).toBe(200); // PERMISSIVE: admitted, and the connection stays open (keep-alive)
    const pm = await metrics(payments);
    expect(metric(pm, 'istio_requests_total', { reporter: 'destination', connection_security_policy: 'none', source_principal: 'unknown', response_code: '200' })).toBe(1);
    push(payments, STRICT, {});
    await expect(plainGet()).rejects.toThrow(/socket hang up|ECONNRESET/);
    expect(metric(await metrics(payments), 'meshlab_inbound_connections_refused_total', { reason: 'plaintext_in_strict' })).toBe(1);
    expect((await call(orders.ports.outbound, '/charge')).status).toBe(200);
  });

  test('DestinationRule tls DISABLE sends plaintext, which a STRICT peer refuses (503)', async () => {
    push(orders, `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: payments
spec:
  host: payments
  trafficPolicy:
    tls:
      mode: DISABLE
`, endpoints());
    const res = await call(orders.ports.outbound, '/charge');
    expect(res.status).toBe(503);
    expect(metric(await metrics(payments), 'meshlab_inbound_connections_refused_total', { reason: 'plaintext_in_strict' })).toBe(2);
    push(orders, '', endpoints());
    expect((await call(orders.ports.outbound, '/charge')).status).toBe(200);
  });

  test('a policy the sidecar cannot run is NACKed (throws, naming it) and the previous security config stays', () => {
    expect(() =>
      push(payments, `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: bad
spec:
  rules:
  - when:
    - key: request.method
      values: [GET]
`, {}),
    ).toThrow(/AuthorizationPolicy default\/bad: spec.rules\[0\].when\[0\].key "request.method" is not supported.*test.yaml/);
    expect(payments.snapshot?.resources).toHaveLength(1); // still the STRICT PeerAuthentication
  });

  test('rotation on both sides: new serials, pooled connections keep working, new handshakes use the new certificates', async () => {
    const before = [payments.certs!.current().serial, orders.certs!.current().serial];
    await Promise.all([payments.certs!.rotate(), orders.certs!.rotate()]);
    const after = [payments.certs!.current().serial, orders.certs!.current().serial];
    expect(after[0]).not.toBe(before[0]);
    expect(after[1]).not.toBe(before[1]);
    expect(payments.certs!.current().generation).toBe(2);
    const accepted = () => (payments as unknown as { mtlsServer: { stats: { accepted: { mutual_tls: number } } } }).mtlsServer.stats.accepted.mutual_tls;
    const handshakesBefore = accepted();
    // Concurrency above the pooled connection count forces new connections, made with the rotated certificates.
    const results = await Promise.all(Array.from({ length: 8 }, () => call(orders.ports.outbound, '/charge')));
    expect(results.map((r) => r.status)).toEqual(Array(8).fill(200));
    expect(accepted()).toBeGreaterThan(handshakesBefore);
    expect(metric(await metrics(payments), 'meshlab_workload_cert_rotations_total')).toBe(2);
    expect(metric(await metrics(payments), 'meshlab_workload_cert_generation')).toBe(2);
  });
});
