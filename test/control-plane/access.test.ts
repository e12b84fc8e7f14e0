import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { startControlPlane, type ControlPlane } from '../../mesh/control-plane/server';
import { newSecret, signWorkloadToken } from '../../lib/cp-auth';
import { x509, generateKeyPair, SIGNING_ALGORITHM } from '../../mesh/security/pki';
import { spiffeId } from '../../mesh/security/identity';
import { paymentsSplit } from '../../scenarios/runner/fixtures';

async function csrFor(identity: string): Promise<string> {
  const keys = await generateKeyPair();
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: 'O=test', keys, signingAlgorithm: SIGNING_ALGORITHM, extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: identity }])] });
  return csr.toString('pem');
}

/** The control plane with access control on (as the launcher starts it), on a real socket, against a rogue local process. */
describe('control plane access: a rogue process on the machine gets nothing it was not issued', () => {
  const key = newSecret();
  const operatorToken = newSecret();
  let dir: string;
  let cp: ControlPlane;
  const streams: http.ClientRequest[] = [];
  const token = (node: string, service: string, role: 'sidecar' | 'gateway' = 'sidecar', ttlMs = 60_000, signingKey = key): string => signWorkloadToken(signingKey, { node, service, role, exp: Date.now() + ttlMs });
  const payments = token('payments-v1-0', 'payments');
  const orders = token('orders-v1-0', 'orders');

  const post = async (p: string, body: unknown, bearer?: string): Promise<{ status: number; body: { error?: string; certPem?: string; ok?: boolean } }> => {
    const res = await fetch(`${cp.url}${p}`, { method: 'POST', headers: { 'content-type': 'application/json', ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as { error?: string } };
  };
  /** Opens a discovery stream; resolves with the status (200 streams are kept open until the end). */
  const discover = (node: Record<string, unknown>, bearer?: string): Promise<{ status: number; body: string }> =>
    new Promise((resolve) => {
      const req = http.get({ host: '127.0.0.1', port: cp.port, path: '/v1/discovery', headers: { 'x-mesh-node': JSON.stringify(node), ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) } }, (res) => {
        if (res.statusCode === 200) {
          streams.push(req);
          res.once('data', () => resolve({ status: 200, body: '' }));
          return;
        }
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', () => {});
    });
  const node = (id: string, service: string) => ({ id, role: 'sidecar', service, labels: { app: service }, inbound: { host: '127.0.0.1', port: 41000 } });
  const endpoints = () => cp.registry.snapshot().endpoints;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshlab-cp-access-'));
    cp = await startControlPlane({ host: '127.0.0.1', port: 0, dataDir: dir, services: ['orders', 'payments', 'notifications'], auth: { tokenKey: key, operatorToken } });
    // The real payments-v1-0 sidecar, with the token its launcher issued.
    expect((await discover(node('payments-v1-0', 'payments'), payments)).status).toBe(200);
  });
  afterAll(async () => {
    for (const s of streams) s.destroy();
    await cp.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('no certificate for a service: without a token 401, with another node\'s token 403, asking for payments\' SPIFFE id with orders\' token 400; the issued node gets exactly its own id', async () => {
    const csr = await csrFor(spiffeId('payments'));
    const anon = await post('/v1/certificates', { node: 'payments-v1-0', csr });
    expect([anon.status, anon.body.error]).toEqual([401, expect.stringContaining('needs a workload credential')]);
    const forged = await post('/v1/certificates', { node: 'payments-v1-0', csr }, token('payments-v1-0', 'payments', 'sidecar', 60_000, newSecret()));
    expect([forged.status, forged.body.error]).toEqual([401, expect.stringContaining('signature does not verify')]);
    const expired = await post('/v1/certificates', { node: 'payments-v1-0', csr }, token('payments-v1-0', 'payments', 'sidecar', -1));
    expect([expired.status, expired.body.error]).toEqual([401, expect.stringContaining('expired')]);
    const stolen = await post('/v1/certificates', { node: 'payments-v1-0', csr }, orders);
    expect([stolen.status, stolen.body.error]).toEqual([403, expect.stringContaining('the workload token is for node "orders-v1-0"')]);
    // orders' own (registered) node, asking for payments' identity: the CA signs only the id the token names.
    expect((await discover(node('orders-v1-0', 'orders'), orders)).status).toBe(200);
    const wrongId = await post('/v1/certificates', { node: 'orders-v1-0', csr }, orders);
    expect(wrongId.status).toBe(400);
    const own = await post('/v1/certificates', { node: 'payments-v1-0', csr }, payments);
    expect(own.status).toBe(200);
    expect(new X509Certificate(own.body.certPem!).subjectAltName).toBe(`URI:${spiffeId('payments')}`);
  });

  test('no endpoint: a stream without a token is 401, one claiming payments with orders\' token 403, readiness and ACKs for another node 401/403; payments keeps 0 ready endpoints', async () => {
    const before = endpoints();
    expect((await discover(node('payments-v9-9', 'payments'))).status).toBe(401);
    const claim = await discover(node('orders-v1-0', 'payments'), orders);
    expect([claim.status, claim.body]).toEqual([403, expect.stringContaining('its workload token names sidecar of \\"orders\\"')]);
    expect((await discover(node('payments-v1-0', 'payments'), orders)).status).toBe(403);
    expect((await post('/v1/ready', { node: 'payments-v1-0', ready: true })).status).toBe(401);
    expect((await post('/v1/ready', { node: 'payments-v1-0', ready: true }, orders)).status).toBe(403);
    expect((await post('/v1/ack', { node: 'payments-v1-0', version: 999 }, orders)).status).toBe(403);
    expect(endpoints()).toEqual(before);
    expect(endpoints().payments).toEqual([]);
    expect(cp.registry.list().find((n) => n.info.id === 'payments-v1-0')?.ackedVersion).toBe(0);
    // The issued node itself may.
    expect((await post('/v1/ready', { node: 'payments-v1-0', ready: true }, payments)).status).toBe(200);
    expect(endpoints().payments.map((e) => e.instance)).toEqual(['payments-v1-0']);
  });

  test('no config change and no edge redirect: 401 without the operator token, 401 with a wrong one, 403 with a workload token; the config version stays; the operator may', async () => {
    const version = cp.config.store.version;
    const files = [{ name: 'vs.yaml', text: paymentsSplit(50, 50) }];
    const anon = await post('/v1/config/apply', { files });
    expect([anon.status, anon.body.error]).toEqual([401, expect.stringContaining('needs the operator credential')]);
    expect((await post('/v1/config/apply', { files }, newSecret())).status).toBe(401);
    const workload = await post('/v1/config/apply', { files }, payments);
    expect([workload.status, workload.body.error]).toEqual([403, expect.stringContaining('may not change the mesh')]);
    expect((await post('/v1/config/delete', { refs: [{ kind: 'DestinationRule', name: 'payments' }] })).status).toBe(401);
    expect((await post('/v1/edges', { edges: [{ from: 'orders', instance: 'payments-v1-0', host: '127.0.0.1', port: 1 }] }, orders)).status).toBe(403);
    expect((await post('/v1/dashboard/world', { chaosUrl: 'http://127.0.0.1:1' })).status).toBe(401);
    expect(cp.config.store.version).toBe(version);
    expect(cp.registry.snapshotFor('orders').endpoints.payments.map((e) => e.port)).toEqual([41000]);
    const operator = await post('/v1/config/apply', { files }, operatorToken);
    expect([operator.status, operator.body.ok]).toEqual([200, true]);
    expect(cp.config.store.version).toBeGreaterThan(version);
  });

  test('reads stay open (the dashboard page and proxy-status read them): GET /v1/config, /v1/proxy-status, /v1/endpoints answer 200 without a token', async () => {
    for (const p of ['/v1/config', '/v1/proxy-status', '/v1/endpoints', '/v1/dashboard/model']) expect([p, (await fetch(`${cp.url}${p}`)).status]).toEqual([p, 200]);
  });
});
