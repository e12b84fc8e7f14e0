import fs from 'node:fs';
import http from 'node:http';
import { World, tempWorldDir } from '../../world/world';
import { MeshCA } from '../../mesh/security/ca';
import { json } from '../support/http';
import { tmpDir, workloadCerts } from '../security/helpers';
import { plainGet, rawTlsRequest } from '../security/mtls-fixture';
import { STRICT_PEER_AUTHENTICATION } from '../../scenarios/runner/fixtures';

const STRICT = STRICT_PEER_AUTHENTICATION;

const ORDERS_SPIFFE = 'spiffe://cluster.local/ns/default/sa/orders';
const NOTIFICATIONS_SPIFFE = 'spiffe://cluster.local/ns/default/sa/notifications';

/** Sum of a Prometheus metric's samples whose labels include `labels`. */
function metricSum(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{') && !line.startsWith(name + ' ')) continue;
    const have: Record<string, string> = {};
    for (const m of line.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) have[m[1]] = m[2];
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** One request from an app's point of view: to its own sidecar's outbound listener, addressed by Host. */
function viaSidecar(port: number, host: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, headers: { host } }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
}

/**
 * Zero trust in the running mesh (real processes): the default AuthorizationPolicy on payments, principals from the
 * verified peer certificates in metrics and access logs, and PeerAuthentication STRICT refusing every connection
 * that is not mesh mTLS while mesh traffic carries on.
 */
describe('zero trust in the mesh', () => {
  const dir = tempWorldDir();
  const caDir = tmpDir('foreign');
  let world: World;

  beforeAll(async () => {
    world = await World.start({ dataDir: `${dir}/data`, logDir: `${dir}/logs` });
  });
  afterAll(async () => {
    await world?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(caDir, { recursive: true, force: true });
  });

  const inst = (id: string) => world.state().instances.find((i) => i.id === id)!;
  const metrics = async (id: string) => (await fetch(`http://127.0.0.1:${inst(id).sidecar.ports.admin}/metrics`)).text();
  const paymentsMetrics = async () => (await Promise.all(['payments-v1-0', 'payments-v1-1', 'payments-v2-0'].map(metrics))).join('\n');

  test('the default policy: orders may call payments, notifications gets 403 RBAC: access denied', async () => {
    const fromOrders = await Promise.all(Array.from({ length: 6 }, () => viaSidecar(inst('orders-v1-0').sidecar.ports.outbound, 'payments', '/api/payments/validate?amount=1')));
    expect(fromOrders.map((r) => r.status)).toEqual(Array(6).fill(200));
    const fromNotifications = await Promise.all(Array.from({ length: 6 }, () => viaSidecar(inst('notifications-v1-0').sidecar.ports.outbound, 'payments', '/api/payments/validate?amount=1')));
    expect(fromNotifications).toEqual(Array(6).fill({ status: 403, body: 'RBAC: access denied' }));

    const m = await paymentsMetrics();
    const inbound = { reporter: 'destination', connection_security_policy: 'mutual_tls', destination_principal: 'spiffe://cluster.local/ns/default/sa/payments' };
    expect(metricSum(m, 'istio_requests_total', { ...inbound, source_principal: ORDERS_SPIFFE, response_code: '200' })).toBeGreaterThanOrEqual(6);
    expect(metricSum(m, 'istio_requests_total', { ...inbound, source_principal: NOTIFICATIONS_SPIFFE, response_code: '403', response_flags: '-' })).toBe(6);
    // The caller's side reports the principals too (connection_security_policy is "unknown" there, as in Istio).
    const om = await metrics('orders-v1-0');
    expect(metricSum(om, 'istio_requests_total', { reporter: 'source', source_principal: ORDERS_SPIFFE, destination_principal: 'spiffe://cluster.local/ns/default/sa/payments', response_code: '200' })).toBeGreaterThanOrEqual(6);

    const logs = (await Promise.all(['payments-v1-0', 'payments-v1-1', 'payments-v2-0'].map(async (id) => (await json(`http://127.0.0.1:${inst(id).sidecar.ports.admin}/access_log?limit=1000`)).body))).flat() as {
      direction: string;
      response_code: number;
      response_flags: string;
      response_code_details: string;
      source_principal: string;
      destination_principal: string;
    }[];
    const denied = logs.filter((e) => e.direction === 'inbound' && e.response_code === 403);
    expect(denied).toHaveLength(6);
    // Envoy has no RBAC flag: "-" and the reason in the details (the default policy is ALLOW-only: none matched).
    for (const e of denied) expect(e).toMatchObject({ response_flags: '-', response_code_details: 'rbac_access_denied_matched_policy[none]', source_principal: NOTIFICATIONS_SPIFFE, destination_principal: 'spiffe://cluster.local/ns/default/sa/payments' });
  });

  test('the gateway is allowed (its own principal), and every sidecar holds a certificate for its service', async () => {
    const res = await json(`${world.gatewayUrl}/api/payments/validate?amount=1`);
    expect(res.status).toBe(200);
    for (const id of ['orders-v1-0', 'payments-v1-0', 'notifications-v1-0']) {
      const certs = (await json(`http://127.0.0.1:${inst(id).sidecar.ports.admin}/certs`)).body;
      expect(certs).toMatchObject({ identity: `spiffe://cluster.local/ns/default/sa/${id.split('-')[0]}`, mtls: true, peerAuthenticationMode: 'PERMISSIVE', certificate: { generation: 1 } });
    }
    const gw = (await json(`http://127.0.0.1:${world.gateway.ports.admin}/certs`)).body;
    expect(gw.identity).toBe('spiffe://cluster.local/ns/default/sa/istio-ingressgateway');
    expect(metricSum(await paymentsMetrics(), 'istio_requests_total', { reporter: 'destination', source_principal: 'spiffe://cluster.local/ns/default/sa/istio-ingressgateway', response_code: '200' })).toBeGreaterThanOrEqual(1);
  });

  test('PERMISSIVE (no PeerAuthentication) lets a plaintext client in', async () => {
    const res = await plainGet(inst('orders-v1-0').sidecar.ports.inbound, '/orders');
    expect(res.status).toBe(200);
  });

  test('STRICT refuses plaintext, TLS without a client certificate and a foreign-CA certificate, and counts each; mesh traffic is unaffected', async () => {
    await world.applyConfig([{ name: 'strict.yaml', text: STRICT }]);
    const port = inst('orders-v1-0').sidecar.ports.inbound;
    const before = await metrics('orders-v1-0');
    const refused = (reason: string, text: string) => metricSum(text, 'meshlab_inbound_connections_refused_total', { reason });

    await expect(plainGet(port, '/orders')).rejects.toThrow(/socket hang up|ECONNRESET/);
    const noCert = await rawTlsRequest(port);
    expect(noCert.response).toBe('');
    const foreignCa = await MeshCA.loadOrCreate(caDir);
    const foreign = (await workloadCerts(foreignCa, 'orders')).current();
    const foreignRes = await rawTlsRequest(port, { key: foreign.key, cert: foreign.cert });
    expect(foreignRes.response).toBe('');

    const after = await metrics('orders-v1-0');
    expect(refused('plaintext_in_strict', after) - refused('plaintext_in_strict', before)).toBe(1);
    expect(refused('no_client_cert', after) - refused('no_client_cert', before)).toBe(1);
    expect(refused('untrusted_cert', after) - refused('untrusted_cert', before)).toBe(1);

    // The mesh itself speaks mTLS: an order through gateway → orders → payments goes through, every time.
    const orders = await Promise.all(Array.from({ length: 5 }, () => json(`${world.gatewayUrl}/orders`, { body: { user_id: 'u', items: [{ sku: 'a', qty: 1, unit_price: 1 }] } })));
    expect(orders.map((o) => o.status)).toEqual(Array(5).fill(201));
    const certs = (await json(`http://127.0.0.1:${inst('orders-v1-0').sidecar.ports.admin}/certs`)).body;
    expect(certs.peerAuthenticationMode).toBe('STRICT');

    // Back to PERMISSIVE: plaintext is accepted again.
    await world.deleteConfig([{ kind: 'PeerAuthentication', name: 'default' }]);
    expect((await plainGet(port, '/orders')).status).toBe(200);
  });
});
