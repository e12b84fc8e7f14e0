import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Sidecar } from '../../mesh/sidecar/sidecar';
import { createClientCertificate, createServerCredential } from '../../mesh/gateway/certs';
import { call, closeAgent, push } from '../mesh/harness';
import { PAYMENTS_DR, httpsCall, startApps, startGateway } from './helpers';

type Apps = Awaited<ReturnType<typeof startApps>>;

let apps: Apps;
const gateways: Sidecar[] = [];
let credentials: string;
beforeAll(async () => {
  apps = await startApps();
  credentials = fs.mkdtempSync(path.join(os.tmpdir(), 'meshlab-gw-'));
  await createServerCredential(credentials, 'shop-cert', ['shop.example.test', '127.0.0.1']);
  await createServerCredential(credentials, 'api-cert', ['api.example.test']);
});
afterEach(async () => {
  await Promise.all(gateways.splice(0).map((g) => g.stop(0)));
});
afterAll(async () => {
  closeAgent();
  await apps.stop();
  fs.rmSync(credentials, { recursive: true, force: true });
});

async function gateway(yaml: string, opts: { https?: boolean } = {}): Promise<Sidecar> {
  const g = await startGateway(opts.https ? { httpsPort: 0, credentialsDir: credentials } : {});
  gateways.push(g);
  push(g, `${PAYMENTS_DR}---\n${yaml}`, apps.endpoints);
  return g;
}

const seen = () => ({ orders: apps.orders.seen.length, v1: apps.v1.seen.length, v2: apps.v2.seen.length });
const delta = (a: ReturnType<typeof seen>) => {
  const b = seen();
  return { orders: b.orders - a.orders, v1: b.v1 - a.v1, v2: b.v2 - a.v2 };
};

async function statuses(n: number, one: () => Promise<{ status: number }>): Promise<Record<number, number>> {
  const out: Record<number, number> = {};
  for (let i = 0; i < n; i++) {
    const s = (await one()).status;
    out[s] = (out[s] ?? 0) + 1;
  }
  return out;
}

const BINDING = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["./shop.example.test", "*/*.wild.test"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: default}
spec:
  hosts: [shop.example.test]
  gateways: [edge]
  http:
  - match: [{uri: {prefix: /api/payments}}]
    route: [{destination: {host: payments}}]
  - match: [{uri: {prefix: /v2}}]
    route: [{destination: {host: payments, subset: v2}}]
    headers: {response: {set: {x-edge: shop}}}
  - route: [{destination: {host: orders}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: wild, namespace: other}
spec:
  hosts: [a.wild.test]
  gateways: [default/edge]
  http:
  - route: [{destination: {host: payments.default.svc.cluster.local, subset: v2}}]
---
# ./shop.example.test admits VirtualServices of the Gateway's namespace only: this one is not bound.
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: hijack, namespace: other}
spec:
  hosts: [shop.example.test]
  gateways: [default/edge]
  http:
  - route: [{destination: {host: payments.default.svc.cluster.local, subset: v1}}]
---
# The payments VirtualService for sidecars (mesh): a plain gateway route to payments hands over to it.
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: payments, namespace: default}
spec:
  hosts: [payments]
  http:
  - route: [{destination: {host: payments, subset: v1}}]
`;

describe('Gateway + VirtualService binding at the ingress gateway', () => {
  test('Host picks the virtual host: shop.example.test → 20/20 orders, a.wild.test (a VS of namespace other, bound as default/edge) → 20/20 payments v2; b.wild.test, other.test and the other namespace\'s shop.example.test VS → 404 NR, 0 upstream requests', async () => {
    const g = await gateway(BINDING);
    let before = seen();
    expect(await statuses(20, () => call(g.ports.outbound, '/orders/1', { host: 'shop.example.test:8080' }))).toEqual({ 200: 20 });
    expect(delta(before)).toEqual({ orders: 20, v1: 0, v2: 0 });
    before = seen();
    expect(await statuses(20, () => call(g.ports.outbound, '/anything', { host: 'a.wild.test' }))).toEqual({ 200: 20 });
    expect(delta(before)).toEqual({ orders: 0, v1: 0, v2: 20 });
    before = seen();
    for (const host of ['b.wild.test', 'other.test', 'shop.example.test.evil']) expect(await statuses(5, () => call(g.ports.outbound, '/orders/1', { host }))).toEqual({ 404: 5 });
    expect(delta(before)).toEqual({ orders: 0, v1: 0, v2: 0 });
    expect(g.accessLog.entries(1)[0]).toMatchObject({ response_code: 404, response_flags: 'NR' });
  });

  test('a route that only names payments hands over to its mesh VirtualService (20/20 v1); a route with a subset is the gateway\'s (20/20 v2) and its response header ops reach the client', async () => {
    const g = await gateway(BINDING);
    let before = seen();
    expect(await statuses(20, () => call(g.ports.outbound, '/api/payments/validate', { host: 'shop.example.test' }))).toEqual({ 200: 20 });
    expect(delta(before)).toEqual({ orders: 0, v1: 20, v2: 0 });
    before = seen();
    const r = await call(g.ports.outbound, '/v2/x', { host: 'shop.example.test' });
    expect(r.headers['x-edge']).toBe('shop');
    expect(await statuses(19, () => call(g.ports.outbound, '/v2/x', { host: 'shop.example.test' }))).toEqual({ 200: 19 });
    expect(delta(before)).toEqual({ orders: 0, v1: 0, v2: 20 });
  });

  test('the edge headers, as Envoy sets them with use_remote_address: x-forwarded-for appended; from loopback (internal to Envoy) x-forwarded-proto and x-request-id are kept, and set when absent', async () => {
    const g = await gateway(BINDING);
    const before = apps.orders.seen.length;
    await call(g.ports.outbound, '/orders/1', { host: 'shop.example.test', headers: { 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'https', 'x-request-id': 'client-chosen' } });
    await call(g.ports.outbound, '/orders/1', { host: 'shop.example.test' });
    const [kept, fresh] = [apps.orders.seen[before].headers, apps.orders.seen[before + 1].headers];
    expect([kept['x-forwarded-for'], kept['x-forwarded-proto'], kept['x-request-id'], kept['x-envoy-external-address']]).toEqual(['203.0.113.9,127.0.0.1', 'https', 'client-chosen', undefined]);
    expect([fresh['x-forwarded-for'], fresh['x-forwarded-proto']]).toEqual(['127.0.0.1', 'http']);
    expect(fresh['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(g.accessLog.entries(1)[0]).toMatchObject({ request_id: fresh['x-request-id'] });
  });

  test('from an external address: x-forwarded-proto overwritten with the scheme, x-envoy-external-address set, a new x-request-id (the client\'s is not kept); 10.x, 172.16–31.x, 192.168.x, 127.x and ::1 are internal', async () => {
    const { GatewayEdgeFilter, isInternal } = await import('../../mesh/gateway/edge-filter');
    const { StreamInfo } = await import('../../mesh/stream-info');
    const f = new GatewayEdgeFilter('https', () => undefined, () => 8443);
    const req = { socket: { remoteAddress: '203.0.113.7' }, headers: { 'x-forwarded-proto': 'http', 'x-request-id': 'client-chosen' }, url: '/' } as unknown as import('node:http').IncomingMessage;
    const headers = ['x-forwarded-proto', 'http', 'x-request-id', 'client-chosen'];
    const info = new StreamInfo('outbound');
    expect(f.decodeHeaders(req, info, headers)).toBeUndefined();
    const out = Object.fromEntries(Array.from({ length: headers.length / 2 }, (_, i) => [headers[2 * i], headers[2 * i + 1]]));
    expect(out).toMatchObject({ 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'https', 'x-envoy-external-address': '203.0.113.7', 'x-request-id': info.requestId });
    expect(info.requestId).not.toBe('client-chosen');
    expect(['10.1.2.3', '172.16.0.1', '172.31.255.1', '192.168.1.1', '127.0.0.1', '::1', '::ffff:10.0.0.1', 'fd00::1'].map(isInternal)).toEqual([true, true, true, true, true, true, true, true]);
    expect(['172.32.0.1', '8.8.8.8', '203.0.113.7', '2001:db8::1'].map(isInternal)).toEqual([false, false, false, false]);
  });

  test('httpsRedirect: 10 plain requests get 301 to https on the gateway\'s HTTPS port with path and query kept, 0 reach an app; the same request over HTTPS (verified with the CA) gets 200 with x-forwarded-proto https', async () => {
    const g = await gateway(`apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
    tls: {httpsRedirect: true}
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: [shop.example.test]
    tls: {mode: SIMPLE, credentialName: shop-cert}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop}
spec:
  hosts: [shop.example.test]
  gateways: [edge]
  http:
  - route: [{destination: {host: orders}}]
`, { https: true });
    const before = seen();
    const answers = [];
    for (let i = 0; i < 10; i++) answers.push(await call(g.ports.outbound, '/orders/1?x=1', { host: 'shop.example.test' }));
    expect(answers.map((a) => [a.status, a.headers.location])).toEqual(answers.map(() => [301, `https://shop.example.test:${g.ports.https}/orders/1?x=1`]));
    expect(delta(before)).toEqual({ orders: 0, v1: 0, v2: 0 });
    const ca = fs.readFileSync(path.join(credentials, 'ca.crt'));
    const r = await httpsCall(g.ports.https!, '/orders/1?x=1', { ca, servername: 'shop.example.test' });
    expect([r.status, r.authorized]).toEqual([200, true]);
    expect(apps.orders.seen.at(-1)?.headers['x-forwarded-proto']).toBe('https');
  });
});

const TLS = (mode: string, hosts: string, credential = 'shop-cert') => `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: ${hosts}
    tls: {mode: ${mode}, credentialName: ${credential}}
  - port: {number: 8443, name: https-api, protocol: HTTPS}
    hosts: [api.example.test]
    tls: {mode: SIMPLE, credentialName: api-cert}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop}
spec:
  hosts: ["*"]
  gateways: [edge]
  http:
  - route: [{destination: {host: orders}}]
`;

describe('HTTPS termination at the gateway', () => {
  test('SIMPLE: 10 of 10 requests to https://127.0.0.1 (no SNI, the * server) verify against the edge CA and get 200; without the CA the client refuses the certificate', async () => {
    const g = await gateway(TLS('SIMPLE', '["*"]'), { https: true });
    const ca = fs.readFileSync(path.join(credentials, 'ca.crt'));
    expect(await statuses(10, () => httpsCall(g.ports.https!, '/orders/1', { ca }))).toEqual({ 200: 10 });
    await expect(httpsCall(g.ports.https!, '/orders/1')).rejects.toThrow('SELF_SIGNED_CERT_IN_CHAIN');
  });

  test('SNI picks the server\'s certificate (api.example.test gets api-cert, shop.example.test shop-cert); a name no server has is refused in the handshake (even by a client that would accept any certificate), counted 1', async () => {
    const g = await gateway(TLS('SIMPLE', '[shop.example.test]'), { https: true });
    const ca = fs.readFileSync(path.join(credentials, 'ca.crt'));
    expect((await httpsCall(g.ports.https!, '/orders/1', { ca, servername: 'shop.example.test' })).status).toBe(200);
    expect((await httpsCall(g.ports.https!, '/orders/1', { ca, servername: 'api.example.test' })).status).toBe(200);
    const before = apps.orders.seen.length;
    await expect(httpsCall(g.ports.https!, '/orders/1', { insecure: true, servername: 'other.example.test' })).rejects.toThrow();
    // No SNI and no `*` server: refused too.
    await expect(httpsCall(g.ports.https!, '/orders/1', { insecure: true })).rejects.toThrow();
    expect(apps.orders.seen.length).toBe(before);
    const refused = (g as unknown as { https: { refused: { sni: number } } }).https.refused;
    expect(refused.sni).toBe(2);
  });

  test('MUTUAL: without a client certificate the connection is closed before any request (0 reach orders, counted); with one from the credential\'s CA 5 of 5 get 200', async () => {
    const g = await gateway(TLS('MUTUAL', '["*"]'), { https: true });
    const ca = fs.readFileSync(path.join(credentials, 'ca.crt'));
    const before = apps.orders.seen.length;
    await expect(httpsCall(g.ports.https!, '/orders/1', { ca })).rejects.toThrow();
    expect(apps.orders.seen.length).toBe(before);
    expect((g as unknown as { https: { refused: { clientCert: number } } }).https.refused.clientCert).toBe(1);
    const client = await createClientCertificate(credentials, 'alice');
    expect(await statuses(5, () => httpsCall(g.ports.https!, '/orders/1', { ca, cert: client.cert, key: client.key }))).toEqual({ 200: 5 });
  });

  test('a credentialName that does not exist is NACKed: the gateway keeps its previous config', async () => {
    const g = await gateway(TLS('SIMPLE', '["*"]'), { https: true });
    expect(() => push(g, TLS('SIMPLE', '["*"]', 'missing-cert'), apps.endpoints)).toThrow(/credentialName missing-cert/);
    const ca = fs.readFileSync(path.join(credentials, 'ca.crt'));
    expect((await httpsCall(g.ports.https!, '/orders/1', { ca })).status).toBe(200);
  });
});

describe('credentialName from a Kubernetes Secret applied with the config', () => {
  test('a kubernetes.io/tls Secret beside the Gateway is written as its credential (apply says so) and the gateway serves its certificate, verified with the Secret\'s CA: 5 of 5 × 200', async () => {
    const { ConfigService } = await import('../../mesh/control-plane/config-service');
    const issued = fs.mkdtempSync(path.join(os.tmpdir(), 'meshlab-issued-'));
    const served = fs.mkdtempSync(path.join(os.tmpdir(), 'meshlab-served-'));
    try {
      await createServerCredential(issued, 'x', ['secret.example.test']);
      const b64 = (f: string) => fs.readFileSync(path.join(issued, 'x', f)).toString('base64');
      const secret = `apiVersion: v1\nkind: Secret\nmetadata: {name: secret-cert}\ntype: kubernetes.io/tls\ndata:\n  tls.crt: ${b64('tls.crt')}\n  tls.key: ${b64('tls.key')}\n`;
      const gw = TLS('SIMPLE', '[secret.example.test]', 'secret-cert');
      const svc = new ConfigService(undefined, () => ({}), () => new Map(), served);
      const out = svc.apply([{ name: 'edge.yaml', text: `${secret}---\n${gw}` }]);
      expect(out.ok).toBe(true);
      expect(out.results.find((r) => r.kind === 'Secret')).toMatchObject({ name: 'secret-cert', action: 'used as credential' });
      const g = await startGateway({ httpsPort: 0, credentialsDir: served });
      gateways.push(g);
      push(g, `${PAYMENTS_DR}---\n${gw.replace(/  - port: \{number: 8443[\s\S]*?credentialName: api-cert\}\n/, '')}`, apps.endpoints);
      const ca = fs.readFileSync(path.join(issued, 'ca.crt'));
      expect(await statuses(5, () => httpsCall(g.ports.https!, '/orders/1', { ca, servername: 'secret.example.test' }))).toEqual({ 200: 5 });
    } finally {
      fs.rmSync(issued, { recursive: true, force: true });
      fs.rmSync(served, { recursive: true, force: true });
    }
  });
});
