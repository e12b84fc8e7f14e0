import fs from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { startControlPlane, type ControlPlane } from '../../mesh/control-plane/server';
import { Sidecar } from '../../mesh/sidecar/sidecar';
import { Upstream, adminGet, call, closeAgent, metric } from '../mesh/harness';
import { tmpDir } from '../security/helpers';

/**
 * Namespaces at runtime: payments runs in `shop`, orders in `default`, each behind an in-process
 * sidecar that gets its certificate (CSR) and its config from a real in-process control plane over
 * real sockets. The certificate's SAN, the policies that select a workload, the metric labels and
 * VirtualService sourceNamespace matches all carry the real namespace.
 */
describe('a world with payments in namespace "shop"', () => {
  const dir = tmpDir('namespaces');
  let cp: ControlPlane;
  let app: Upstream;
  let payments: Sidecar;
  let orders: Sidecar;

  const sidecar = (service: string, namespace: string | undefined): Sidecar => {
    const s = new Sidecar({
      role: 'sidecar',
      service,
      version: 'v1',
      instance: `${service}-v1-0`,
      namespace,
      labels: { app: service, version: 'v1' },
      host: '127.0.0.1',
      ports: { inbound: 0, outbound: 0, admin: 0 },
      controlPlaneUrl: cp.url,
      mtls: true,
      certSeed: 3,
      healthIntervalMs: 50,
    });
    (s.accessLog as unknown as { fd: number }).fd = -1;
    return s;
  };

  /** Resolves once `ready` endpoints are ready and every node has ACKed the current version (the registry's events, no sleep). */
  const synced = (ready: number): Promise<void> =>
    new Promise((resolve) => {
      const check = (): void => {
        if (!cp.registry.inSync(ready)) return;
        cp.registry.off('ack', check);
        cp.registry.off('snapshot', check);
        resolve();
      };
      cp.registry.on('ack', check);
      cp.registry.on('snapshot', check);
      check();
    });

  const apply = async (yaml: string): Promise<void> => {
    const out = cp.config.apply([{ name: 'ns-test.yaml', text: yaml }]);
    if (!out.ok) throw new Error(`apply refused: ${JSON.stringify(out.messages)}`);
    await synced(1);
  };
  const remove = async (kind: 'AuthorizationPolicy' | 'PeerAuthentication' | 'VirtualService', name: string, namespace: string): Promise<void> => {
    const out = cp.config.delete(undefined, [{ kind, name, namespace }]);
    if (!out.ok) throw new Error(`delete refused: ${JSON.stringify(out.messages)}`);
    await synced(1);
  };
  /** Status codes of `n` calls orders → payments, counted. */
  const statuses = async (n: number): Promise<Record<number, number>> => {
    const out: Record<number, number> = {};
    for (let i = 0; i < n; i++) {
      const res = await call(orders.ports.outbound, '/charge', { host: 'payments' });
      out[res.status] = (out[res.status] ?? 0) + 1;
    }
    return out;
  };

  beforeAll(async () => {
    cp = await startControlPlane({ host: '127.0.0.1', port: 0, dataDir: `${dir}/cp`, configDir: `${dir}/no-config`, services: ['orders', 'shop/payments'] });
    app = await new Upstream('payments-v1-0', 'v1').start();
    payments = sidecar('payments', 'shop');
    orders = sidecar('orders', undefined);
    await Promise.all([payments.start(), orders.start()]);
    payments.setAppPort(app.port);
    await synced(1);
  });
  afterAll(async () => {
    closeAgent();
    await Promise.all([payments?.stop(100), orders?.stop(100)]);
    await app?.stop();
    await cp?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("payments' certificate names ns/shop in its SAN (signed by the control plane for the declared namespace); orders' names ns/default", () => {
    const san = (s: Sidecar) => new X509Certificate(s.certs!.current().cert.split(/(?<=-----END CERTIFICATE-----)/)[0]).subjectAltName;
    expect(san(payments)).toBe('URI:spiffe://cluster.local/ns/shop/sa/payments');
    expect(san(orders)).toBe('URI:spiffe://cluster.local/ns/default/sa/orders');
  });

  test('metric labels carry the real namespaces on both reporters', async () => {
    expect(await statuses(3)).toEqual({ 200: 3 });
    const om = await orders.stats.registry.metrics();
    const pm = await payments.stats.registry.metrics();
    const shop = { destination_workload_namespace: 'shop', destination_service_namespace: 'shop', destination_service: 'payments.shop.svc.cluster.local', source_workload_namespace: 'default' };
    expect(metric(om, 'istio_requests_total', { reporter: 'source', ...shop, source_principal: 'spiffe://cluster.local/ns/default/sa/orders', destination_principal: 'spiffe://cluster.local/ns/shop/sa/payments' })).toBe(3);
    expect(metric(pm, 'istio_requests_total', { reporter: 'destination', ...shop, source_principal: 'spiffe://cluster.local/ns/default/sa/orders' })).toBe(3);
    // The client span names the destination in its namespace, the server span too.
    expect(orders.tracer.ring.list(10).filter((sp) => sp.kind === 'CLIENT').map((sp) => sp.name)).toEqual(Array(3).fill('payments.shop.svc.cluster.local:80/*'));
    expect(payments.tracer.ring.list(10).filter((sp) => sp.kind === 'SERVER').map((sp) => sp.name)).toEqual(Array(3).fill('payments.shop.svc.cluster.local:80/*'));
    expect(metric(om, 'istio_requests_total', { reporter: 'source', ...shop })).toBe(3);
    expect(orders.accessLog.entries(3).map((e) => (e as { upstream_cluster?: string }).upstream_cluster)).toEqual(Array(3).fill('outbound|80||payments.shop.svc.cluster.local'));
    // Nothing is labelled as if payments were in default.
    expect(metric(om, 'istio_requests_total', { destination_service_namespace: 'default' }) + metric(pm, 'istio_requests_total', { destination_workload_namespace: 'default' })).toBe(0);
  });

  test('Host names: payments, payments.shop, payments.shop.svc and the FQDN reach payments (4 of 4, named payments in the metrics); payments.default.svc.cluster.local names no service (404 NR)', async () => {
    const before = metric(await orders.stats.registry.metrics(), 'istio_requests_total', { reporter: 'source', destination_service_name: 'payments', response_code: '200' });
    const codes: number[] = [];
    for (const host of ['payments', 'payments.shop', 'payments.shop.svc', 'payments.shop.svc.cluster.local:80', 'payments.default.svc.cluster.local']) codes.push((await call(orders.ports.outbound, '/charge', { host })).status);
    expect(codes).toEqual([200, 200, 200, 200, 404]);
    expect(metric(await orders.stats.registry.metrics(), 'istio_requests_total', { reporter: 'source', destination_service_name: 'payments', response_code: '200' }) - before).toBe(4);
  });

  const allowFrom = (policyNs: string, from: string) => `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: payments-callers
  namespace: ${policyNs}
spec:
  selector:
    matchLabels: {app: payments}
  action: ALLOW
  rules:
  - from:
    - source:
        namespaces: [${from}]
`;

  test('AuthorizationPolicy in shop: namespaces [shop] denies orders (default) 10 of 10; namespaces [default] allows 10 of 10', async () => {
    await apply(allowFrom('shop', 'shop'));
    expect(await statuses(10)).toEqual({ 403: 10 });
    await apply(allowFrom('shop', 'default'));
    expect(await statuses(10)).toEqual({ 200: 10 });
    await remove('AuthorizationPolicy', 'payments-callers', 'shop');
  });

  test('a policy selects workloads of its own namespace only: the same denying policy in default leaves payments (shop) open, in istio-system it applies mesh-wide', async () => {
    await apply(allowFrom('default', 'shop'));
    expect(await statuses(10)).toEqual({ 200: 10 });
    await remove('AuthorizationPolicy', 'payments-callers', 'default');
    await apply(allowFrom('istio-system', 'shop'));
    expect(await statuses(10)).toEqual({ 403: 10 });
    await remove('AuthorizationPolicy', 'payments-callers', 'istio-system');
  });

  test('proxy-status and describe name the namespace; describe lists the policies of shop and istio-system only (1 of 2 applied)', async () => {
    await apply(`${allowFrom('default', 'shop')}---\n${allowFrom('shop', 'default')}`);
    const status = (await (await fetch(`${cp.url}/v1/proxy-status`)).json()) as { node: string; namespace: string }[];
    expect(status.map((p) => [p.node, p.namespace]).sort()).toEqual([['orders-v1-0', 'default'], ['payments-v1-0', 'shop']]);
    const described = (await (await fetch(`${cp.url}/v1/describe/service/payments`)).json()) as { namespace: string; policies: unknown[] };
    expect(described.namespace).toBe('shop');
    expect(described.policies).toEqual([{ kind: 'AuthorizationPolicy', name: 'payments-callers', namespace: 'shop' }]);
    await remove('AuthorizationPolicy', 'payments-callers', 'default');
    await remove('AuthorizationPolicy', 'payments-callers', 'shop');
  });

  const disable = (ns: string) => `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: plaintext
  namespace: ${ns}
spec:
  mtls: {mode: DISABLE}
`;

  test('PeerAuthentication DISABLE in default leaves payments (shop) on mTLS, 5 of 5; in shop the caller switches to plaintext, 5 of 5', async () => {
    const viaPayments = async (policy: string): Promise<number> => metric(await payments.stats.registry.metrics(), 'istio_requests_total', { reporter: 'destination', connection_security_policy: policy });
    await apply(disable('default'));
    let before = await viaPayments('mutual_tls');
    expect(await statuses(5)).toEqual({ 200: 5 });
    expect((await viaPayments('mutual_tls')) - before).toBe(5);
    expect(JSON.parse(await adminGet(payments, '/certs')).peerAuthenticationMode).toBe('PERMISSIVE');
    await remove('PeerAuthentication', 'plaintext', 'default');
    await apply(disable('shop'));
    before = await viaPayments('none');
    expect(await statuses(5)).toEqual({ 200: 5 });
    expect((await viaPayments('none')) - before).toBe(5);
    expect(JSON.parse(await adminGet(payments, '/certs')).peerAuthenticationMode).toBe('DISABLE');
    await remove('PeerAuthentication', 'plaintext', 'shop');
  });

  const abortFrom = (ns: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: payments
  namespace: shop
spec:
  hosts: [payments]
  http:
  - match:
    - sourceNamespace: ${ns}
    fault:
      abort: {httpStatus: 418, percentage: {value: 100}}
    route:
    - destination: {host: payments}
  - route:
    - destination: {host: payments}
`;

  test('VirtualService sourceNamespace is the caller\'s namespace: a match on "default" catches orders\' 10 of 10 calls, a match on "shop" none', async () => {
    await apply(abortFrom('default'));
    expect(await statuses(10)).toEqual({ 418: 10 });
    await apply(abortFrom('shop'));
    expect(await statuses(10)).toEqual({ 200: 10 });
    await remove('VirtualService', 'payments', 'shop');
  });

  test('a VirtualService written in default for short host "payments" is about payments.default, which does not exist: refused (IST0101, the world\'s services are the registry) and shop\'s payments still answer 10 of 10', async () => {
    const out = cp.config.apply([{ name: 'ns-test.yaml', text: abortFrom('default').replace('namespace: shop', 'namespace: default') }]);
    expect(out.ok).toBe(false);
    expect(out.messages.filter((m) => m.code === 'IST0101').map((m) => m.message)).toEqual(['Referenced host not found: "payments"', 'Referenced host not found: "payments"']);
    expect(await statuses(10)).toEqual({ 200: 10 });
  });

  test('with every payments instance down, Host payments.shop still names the service (503 UH, 3 of 3), not an unknown host (404 NR)', async () => {
    await app.stop();
    await synced(0);
    const codes: number[] = [];
    for (let i = 0; i < 3; i++) codes.push((await call(orders.ports.outbound, '/charge', { host: 'payments.shop' })).status);
    expect(codes).toEqual([503, 503, 503]);
    expect(orders.accessLog.entries(3).map((e) => e.response_flags)).toEqual(['UH', 'UH', 'UH']);
  });
});
