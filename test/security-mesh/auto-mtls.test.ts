import fs from 'node:fs';
import http from 'node:http';
import { Sidecar } from '../../mesh/sidecar/sidecar';
import { MeshCA } from '../../mesh/security/ca';
import { spiffeId } from '../../mesh/security/identity';
import { TLS_MODE_LABEL } from '../../mesh/upstream-tls';
import { compileConfig } from '../../mesh/compile';
import { loadYaml } from '../../mesh/config/load';
import { Upstream, push, call, closeAgent, metric } from '../mesh/harness';
import { tmpDir } from '../security/helpers';

const pa = (mode: string, portLevel?: Record<number, string>) => `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: payments
spec:
  selector:
    matchLabels:
      app: payments
  mtls:
    mode: ${mode}
${portLevel ? `  portLevelMtls:\n${Object.entries(portLevel).map(([p, m]) => `    ${p}:\n      mode: ${m}\n`).join('')}` : ''}`;

describe('auto mTLS honours the destination\'s PeerAuthentication (Istio mtls_checker.go), portLevelMtls is enforced', () => {
  const caDir = tmpDir('automtls');
  let ca: MeshCA;
  let app: Upstream;
  let payments: Sidecar;
  let orders: Sidecar;
  const plainAgent = new http.Agent({ keepAlive: false });

  const sidecar = (service: string): Sidecar => {
    const s = new Sidecar({
      role: 'sidecar', service, version: 'v1', instance: `${service}-v1-0`, labels: { app: service, version: 'v1' }, host: '127.0.0.1',
      ports: { inbound: 0, outbound: 0, admin: 0 }, controlPlaneUrl: 'http://127.0.0.1:9', mtls: true, certSeed: 7,
      sign: async (csr) => ({ ...(await ca.signCsr(csr, { identity: spiffeId(service), ttlMs: 3_600_000 })), rootPem: ca.rootPem }),
    });
    (s.accessLog as unknown as { fd: number }).fd = -1;
    return s;
  };
  const endpoints = () => ({
    payments: [{ instance: 'payments-v1-0', service: 'payments', labels: { app: 'payments', version: 'v1', [TLS_MODE_LABEL]: 'istio' }, host: '127.0.0.1', port: payments.ports.inbound }],
  });
  /** Both sides get the same resources, as a control-plane push does. */
  const pushBoth = (yaml: string) => {
    push(payments, yaml, {});
    push(orders, yaml, endpoints());
  };
  const plainGet = (): Promise<number> =>
    new Promise((resolve) => {
      const req = http.get({ host: '127.0.0.1', port: payments.ports.inbound, path: '/plain', agent: plainAgent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', () => resolve(0));
    });
  const lastInbound = () => payments.accessLog.entries(1)[0];

  beforeAll(async () => {
    ca = await MeshCA.loadOrCreate(caDir);
    app = await new Upstream('payments-v1-0', 'v1').start();
    payments = sidecar('payments');
    orders = sidecar('orders');
    await Promise.all([payments.start(), orders.start()]);
    payments.setAppPort(app.port);
    pushBoth('');
  });
  afterAll(async () => {
    plainAgent.destroy();
    closeAgent();
    await Promise.all([payments?.stop(100), orders?.stop(100)]);
    await app?.stop();
    fs.rmSync(caDir, { recursive: true, force: true });
  });

  test('a destination in DISABLE gets plaintext from its callers: 200, connection_security_policy none, no tls_in_disable refusal', async () => {
    pushBoth(pa('DISABLE'));
    const res = await call(orders.ports.outbound, '/charge');
    expect(res.status).toBe(200);
    const pm = await payments.stats.registry.metrics();
    expect(metric(pm, 'istio_requests_total', { reporter: 'destination', connection_security_policy: 'none', response_code: '200' })).toBe(1);
    expect(metric(pm, 'meshlab_inbound_connections_refused_total', { reason: 'tls_in_disable' })).toBe(0);
    // and back to mTLS when the policy goes: the caller's host is rebuilt with the mTLS transport
    pushBoth('');
    expect((await call(orders.ports.outbound, '/charge')).status).toBe(200);
    expect(lastInbound()).toMatchObject({ source_principal: spiffeId('orders') });
  });

  test('an explicit DestinationRule tls mode wins over auto mTLS (Istio: DR ISTIO_MUTUAL to a DISABLE peer is refused)', () => {
    const dr = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: payments
spec:
  host: payments
  trafficPolicy:
    tls:
      mode: ISTIO_MUTUAL
`;
    const eps = { payments: [{ instance: 'p', service: 'payments', labels: { app: 'payments', [TLS_MODE_LABEL]: 'istio' }, host: '127.0.0.1', port: 1 }] };
    const label = (yaml: string) => {
      const { resources } = loadYaml(yaml, 't.yaml');
      return compileConfig(resources, eps, { service: 'orders', labels: {} }).clusters.get('outbound|80||payments.default.svc.cluster.local')!.endpoints[0].labels[TLS_MODE_LABEL];
    };
    expect(label(pa('DISABLE'))).toBe('disabled');
    expect(label(`${pa('DISABLE')}---\n${dr}`)).toBe('istio');
    expect(label(pa('STRICT'))).toBe('istio');
  });

  test('portLevelMtls on the workload\'s port decides there: STRICT on it refuses plaintext, on another port it does not', async () => {
    pushBoth(pa('PERMISSIVE', { [payments.ports.inbound]: 'STRICT' }));
    expect(await plainGet()).toBe(0);
    expect((await call(orders.ports.outbound, '/charge')).status).toBe(200);
    pushBoth(pa('PERMISSIVE', { 1: 'STRICT' }));
    expect(await plainGet()).toBe(200);
  });

  test('portLevelMtls DISABLE under a STRICT policy: the caller sends plaintext there and it is admitted', async () => {
    pushBoth(pa('STRICT', { [payments.ports.inbound]: 'DISABLE' }));
    expect((await call(orders.ports.outbound, '/charge')).status).toBe(200);
    expect(lastInbound()).toMatchObject({ source_principal: 'unknown' });
    expect(await plainGet()).toBe(200);
  });
});
