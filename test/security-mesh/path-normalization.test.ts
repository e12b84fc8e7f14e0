import net from 'node:net';
import { Sidecar } from '../../mesh/sidecar/sidecar';
import { normalizePath, parsePathNormalization, type PathNormalization } from '../../mesh/path-normalization';
import { Upstream, push, closeAgent, call, metric, DEFAULT_GATEWAY_YAML, GATEWAY_LABELS } from '../mesh/harness';

/** Envoy's canonicalization (path_utility_test.cc cases, restated) plus Istio's modes. */
describe('normalizePath: Envoy normalize_path (RFC 3986) and Istio pathNormalization modes', () => {
  const base = (p: string) => normalizePath(p, 'BASE');
  test.each([
    ['/a/b/../c', '/a/c'],
    ['/a/b/./c', '/a/b/c'],
    ['a/b/../c', '/a/c'],
    ['/a/b/../../../../c', '/c'],
    ['/a/..\\c', '/c'],
    ['/%c0%af', '/%c0%af'],
    ['/%5c%25', '/%5c%25'],
    ['/a/b/%2E%2E/c', '/a/c'],
    ['/a/b/%2e./c', '/a/c'],
    ['/a/b/%2E/c', '/a/b/c'],
    ['..', '/'],
    ['/../a/b', '/a/b'],
    ['/a/b/..', '/a/'],
    ['/A/B/C', '/A/B/C'],
    ['/a/%2F%2f/c', '/a/%2F%2f/c'],
    ['/api/payments/%76alidate', '/api/payments/validate'],
    ['/api/payments/validate?amount=1/../x', '/api/payments/validate?amount=1/../x'],
    ['/api/payments/validate#frag', '/api/payments/validate'],
    ['/a//b', '/a//b'],
    ['http://payments:80/x/../y?q', '/y?q'],
  ])('BASE: %s → %s', (input, want) => expect(base(input)).toBe(want));

  test('%00 cannot be normalized (Envoy: 400 path_normalization_failed)', () => {
    expect(base('/xyz/.%00../abc')).toBeNull();
    expect(base('/xyz/%00.%00./abc')).toBeNull();
  });

  test('MERGE_SLASHES merges repeated slashes in the path only; DECODE_AND_MERGE_SLASHES also unescapes %2F and %5C', () => {
    const cases: [PathNormalization, string, string][] = [
      ['MERGE_SLASHES', '//a///b/c//?q=//x', '/a/b/c/?q=//x'],
      ['MERGE_SLASHES', '/a/%2F/b', '/a/%2F/b'],
      ['DECODE_AND_MERGE_SLASHES', '/a/%2F/b', '/a/b'],
      ['DECODE_AND_MERGE_SLASHES', '/a/b%2F..%2Fc', '/a/c'],
      ['DECODE_AND_MERGE_SLASHES', '/a%5Cb', '/a/b'],
      ['NONE', '/a/../b#x', '/a/../b'],
    ];
    for (const [mode, input, want] of cases) expect([mode, input, normalizePath(input, mode)]).toEqual([mode, input, want]);
  });

  test('an already normal path is returned as the same string (the hot path allocates nothing)', () => {
    const p = '/api/payments/validate?amount=120';
    expect(normalizePath(p, 'BASE')).toBe(p);
    expect(normalizePath('/favicon.ico', 'MERGE_SLASHES')).toBe('/favicon.ico');
  });

  test('MESH_PATH_NORMALIZATION names the allowed values when wrong', () => {
    expect(parsePathNormalization(undefined, 'X')).toBe('BASE');
    expect(() => parsePathNormalization('merge', 'MESH_PATH_NORMALIZATION')).toThrow('MESH_PATH_NORMALIZATION is "merge"; expected one of NONE, BASE, MERGE_SLASHES, DECODE_AND_MERGE_SLASHES');
  });
});

/** Sends one raw HTTP/1.1 request (the target byte for byte, as a hostile client would) and returns the status. */
function rawGet(port: number, target: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let got = '';
    sock.on('data', (d) => {
      got += d.toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(got);
      if (m && got.includes('\r\n\r\n')) {
        sock.destroy();
        resolve(Number(m[1]));
      }
    });
    sock.on('error', reject);
    const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
    sock.write(`GET ${target} HTTP/1.1\r\nhost: payments\r\n${extra}connection: close\r\n\r\n`);
  });
}

const DENY_VALIDATE = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: no-validate
spec:
  action: DENY
  rules:
  - to:
    - operation:
        paths: ["/api/payments/validate"]
`;
const ALLOW_API = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: api-only
spec:
  action: ALLOW
  rules:
  - to:
    - operation:
        paths: ["/api/*"]
`;

const BYPASSES = [
  '/api/payments/%76alidate',
  '/api/payments/%76%61lidate',
  '/api/payments/./validate',
  '/api/payments/x/../validate',
  '/api/x/%2e%2e/payments/validate',
  '/api/payments\\validate',
  '/api/payments/validate?amount=1',
  '/api/payments/validate#x',
];

describe('a DENY cannot be walked around: the sidecar normalizes the path before authz, routing and the app', () => {
  const sidecars: Sidecar[] = [];
  let app: Upstream;
  let orders: Upstream;
  const start = async (s: Sidecar): Promise<Sidecar> => {
    (s.accessLog as unknown as { fd: number }).fd = -1;
    await s.start();
    sidecars.push(s);
    return s;
  };
  const sidecar = (service: string, pathNormalization?: PathNormalization) =>
    start(new Sidecar({ role: 'sidecar', service, version: 'v1', instance: `${service}-v1-0`, labels: { app: service, version: 'v1' }, host: '127.0.0.1', ports: { inbound: 0, outbound: 0, admin: 0 }, controlPlaneUrl: 'http://127.0.0.1:9', ...({ pathNormalization } as object) }));

  beforeAll(async () => {
    app = await new Upstream('payments-v1-0', 'v1').start();
    orders = await new Upstream('orders-v1-0', 'v1').start();
  });
  afterAll(async () => {
    closeAgent();
    await Promise.all(sidecars.map((s) => s.stop(100)));
    await Promise.all([app?.stop(), orders?.stop()]);
  });

  test(`inbound (BASE): all ${BYPASSES.length} encodings of a denied path get 403 and none reaches the app; the plain path is denied too`, async () => {
    const payments = await sidecar('payments');
    payments.setAppPort(app.port);
    push(payments, DENY_VALIDATE, {});
    const seen = app.seen.length;
    const statuses = [];
    for (const t of ['/api/payments/validate', ...BYPASSES]) statuses.push([t, await rawGet(payments.ports.inbound, t)]);
    expect(statuses).toEqual(['/api/payments/validate', ...BYPASSES].map((t) => [t, 403]));
    expect(app.seen.length).toBe(seen);
    // Envoy has no RBAC response flag: "-", and the policy in the response code details.
    expect(payments.accessLog.entries(1)[0]).toMatchObject({ response_code: 403, response_flags: '-', response_code_details: 'rbac_access_denied_matched_policy[ns[default]-policy[no-validate]-rule[0]]' });
    expect(await payments.stats.registry.metrics()).toContain('response_flags="-"');
    // What is not denied reaches the app normalized: the app receives exactly the path the policy judged.
    expect(await rawGet(payments.ports.inbound, '/api/payments/%76alidatex/./y?amount=1')).toBe(200);
    expect(app.seen.at(-1)?.url).toBe('/api/payments/validatex/y?amount=1');
    expect(payments.accessLog.entries(1)[0]).toMatchObject({ path: '/api/payments/validatex/y?amount=1' });
  });

  test('repeated slashes pass a DENY under BASE (as in Istio) and are denied under MERGE_SLASHES; %2F only under DECODE_AND_MERGE_SLASHES', async () => {
    const base = await sidecar('payments');
    const merge = await sidecar('payments', 'MERGE_SLASHES');
    const decode = await sidecar('payments', 'DECODE_AND_MERGE_SLASHES');
    for (const s of [base, merge, decode]) {
      s.setAppPort(app.port);
      push(s, DENY_VALIDATE, {});
    }
    expect(await rawGet(base.ports.inbound, '/api//payments/validate')).toBe(200);
    expect(app.seen.at(-1)?.url).toBe('/api//payments/validate');
    expect(await rawGet(merge.ports.inbound, '/api//payments///validate')).toBe(403);
    expect(await rawGet(merge.ports.inbound, '//api/payments/validate/')).toBe(200); // trailing slash: another path
    expect(app.seen.at(-1)?.url).toBe('/api/payments/validate/');
    expect(await rawGet(merge.ports.inbound, '/api/payments%2Fvalidate')).toBe(200);
    expect(app.seen.at(-1)?.url).toBe('/api/payments%2Fvalidate');
    expect(await rawGet(decode.ports.inbound, '/api/payments%2Fvalidate')).toBe(403);
    expect(await rawGet(decode.ports.inbound, '/api/payments%2F%2Fvalidate')).toBe(403);
  });

  test('an ALLOW on a prefix still allows what is under it, and `..` cannot climb out of it', async () => {
    const payments = await sidecar('payments');
    payments.setAppPort(app.port);
    push(payments, ALLOW_API, {});
    expect(await rawGet(payments.ports.inbound, '/api/payments/validate')).toBe(200);
    expect(await rawGet(payments.ports.inbound, '/api/./payments/%76alidate')).toBe(200);
    expect(app.seen.at(-1)?.url).toBe('/api/payments/validate');
    const seen = app.seen.length;
    expect(await rawGet(payments.ports.inbound, '/api/../admin')).toBe(403);
    expect(await rawGet(payments.ports.inbound, '/api/%2e%2e/admin')).toBe(403);
    expect(app.seen.length).toBe(seen);
    expect(payments.accessLog.entries(1)[0]).toMatchObject({ path: '/admin', response_flags: '-', response_code_details: 'rbac_access_denied_matched_policy[none]' });
  });

  test('a path that cannot be normalized gets 400 and reaches nobody', async () => {
    const payments = await sidecar('payments');
    payments.setAppPort(app.port);
    push(payments, '', {});
    const seen = app.seen.length;
    expect(await rawGet(payments.ports.inbound, '/api/%00/x')).toBe(400);
    expect(app.seen.length).toBe(seen);
    expect(payments.accessLog.entries(1)[0]).toMatchObject({ response_code: 400, response_code_details: 'path_normalization_failed' });
  });

  test('the gateway routes on the normalized path: /orders/../api/payments/… goes to payments (and is denied there), not to orders', async () => {
    const payments = await sidecar('payments');
    payments.setAppPort(app.port);
    push(payments, DENY_VALIDATE, {});
    const gateway = await start(new Sidecar({ role: 'gateway', service: 'istio-ingressgateway', version: 'v1', instance: 'gw-0', labels: GATEWAY_LABELS, host: '127.0.0.1', ports: { inbound: 0, outbound: 0, admin: 0 }, controlPlaneUrl: 'http://127.0.0.1:9' }));
    push(gateway, DEFAULT_GATEWAY_YAML, {
      payments: [{ instance: 'payments-v1-0', service: 'payments', labels: { app: 'payments', version: 'v1' }, host: '127.0.0.1', port: payments.ports.inbound }],
      orders: [orders.endpoint('orders')],
    });
    const ordersSeen = orders.seen.length;
    expect(await rawGet(gateway.ports.outbound, '/orders/../api/payments/validate')).toBe(403);
    expect(await rawGet(gateway.ports.outbound, '/orders/%2e%2e/api/payments/%76alidate')).toBe(403);
    expect(orders.seen.length).toBe(ordersSeen);
    expect(gateway.accessLog.entries(1)[0]).toMatchObject({ path: '/api/payments/validate', upstream_cluster: expect.stringContaining('payments') });
    expect(await rawGet(gateway.ports.outbound, '/api/payments/x/../ok')).toBe(200);
    expect(app.seen.at(-1)?.url).toBe('/api/payments/ok');
  });

  test('outbound: the app cannot forge who it is — its own peer header is dropped and the destination sees the sidecar\'s', async () => {
    const payments = await sidecar('payments');
    payments.setAppPort(app.port);
    push(payments, '', {});
    const caller = await sidecar('orders');
    push(caller, '', { payments: [{ instance: 'payments-v1-0', service: 'payments', labels: { app: 'payments', version: 'v1' }, host: '127.0.0.1', port: payments.ports.inbound }] });
    const res = await call(caller.ports.outbound, '/x/./y', { headers: { 'x-meshlab-peer': 'notifications;v9' } });
    expect(res.status).toBe(200);
    expect(app.seen.at(-1)?.url).toBe('/x/y');
    expect(app.seen.at(-1)?.headers['x-meshlab-peer']).toBeUndefined();
    expect(payments.accessLog.entries(1)[0]).toMatchObject({ source_workload: 'orders-v1' });
    const text = await payments.stats.registry.metrics();
    expect(text).not.toContain('notifications');
    // Istio's full label set, from the sidecar's own knowledge (the peer header it set), on both reporters.
    const labels = { source_app: 'orders', source_canonical_service: 'orders', source_canonical_revision: 'v1', source_workload_namespace: 'default', source_cluster: 'Kubernetes', destination_app: 'payments', destination_canonical_revision: 'v1', destination_service_namespace: 'default', destination_cluster: 'Kubernetes', grpc_response_status: '' };
    expect(metric(text, 'istio_requests_total', { reporter: 'destination', ...labels })).toBe(1);
    expect(metric(await caller.stats.registry.metrics(), 'istio_requests_total', { reporter: 'source', ...labels })).toBe(1);
  });
});
