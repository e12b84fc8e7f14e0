import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { composeDocument } from '../../world/compose-generate';
import { credentialNodes, issueCredentials, SECRET_VOLUMES, SECRETS } from '../../world/compose-credentials';
import { CONTAINER, podsOf } from '../../world/compose-layout';
import { DEFAULT_TOPOLOGY, withInstances } from '../../world/topology';
import { verifyWorkloadToken } from '../../lib/cp-auth';
import { startControlPlane } from '../../mesh/control-plane/server';

type Service = { environment?: Record<string, string>; volumes?: string[]; depends_on?: Record<string, { condition: string }>; user?: string };
const services = (composeDocument() as { services: Record<string, Service> }).services;
const secretVolumes = new Set([SECRET_VOLUMES.controlPlane, SECRET_VOLUMES.operator, ...credentialNodes().map((n) => SECRET_VOLUMES.node(n.node))]);
/** The secret volumes a service mounts, as `volume:target[:ro]`. */
const secretMounts = (s: Service): string[] => (s.volumes ?? []).filter((v) => secretVolumes.has(v.split(':')[0]));

describe('compose runs the control plane with the launcher\'s secrets (issue #21): each consumer mounts only its own', () => {
  test('the control plane reads the signing key and the operator token from cp-secrets, read-only, after the issuer is healthy', () => {
    const cp = services[CONTAINER.controlPlane];
    expect(cp.environment).toMatchObject({ CP_TOKEN_KEY_FILE: `${SECRETS.mount}/token-key`, CP_OPERATOR_TOKEN_FILE: `${SECRETS.mount}/operator-token` });
    expect(secretMounts(cp)).toEqual([`${SECRET_VOLUMES.controlPlane}:${SECRETS.mount}:ro`]);
    expect(cp.depends_on?.[CONTAINER.credentials]).toEqual({ condition: 'service_healthy' });
  });

  test('each of the 5 sidecars and the gateway mounts exactly its own token volume, read-only, where MESH_TOKEN_FILE points', () => {
    const nodes = [...podsOf().map((p) => ({ service: p.sidecar, node: p.spec.id })), { service: CONTAINER.gateway, node: 'gateway' }];
    expect(nodes).toHaveLength(6);
    for (const { service, node } of nodes) {
      const s = services[service];
      expect({ service, file: s.environment?.MESH_TOKEN_FILE, mounts: secretMounts(s), waits: s.depends_on?.[CONTAINER.credentials]?.condition }).toEqual({ service, file: `${SECRETS.mount}/token`, mounts: [`${SECRET_VOLUMES.node(node)}:${SECRETS.mount}:ro`], waits: 'service_healthy' });
    }
  });

  test('no other container mounts a secret: apps, brokers, observability none; chaos-init only the operator token; the issuer all of them', () => {
    const mounting = Object.fromEntries(Object.entries(services).map(([n, s]) => [n, secretMounts(s).length]).filter(([, k]) => (k as number) > 0));
    const expected: Record<string, number> = { [CONTAINER.credentials]: secretVolumes.size, [CONTAINER.controlPlane]: 1, [CONTAINER.chaosInit]: 1, [CONTAINER.gateway]: 1 };
    for (const p of podsOf()) expected[p.sidecar] = 1;
    expect(mounting).toEqual(expected);
    expect(secretMounts(services[CONTAINER.chaosInit])).toEqual([`${SECRET_VOLUMES.operator}:${SECRETS.mount}:ro`]);
    expect(services[CONTAINER.chaosInit].environment?.MESHLAB_OPERATOR_TOKEN_FILE).toBe(`${SECRETS.mount}/operator-token`);
  });

  test('a bigger topology gets a token volume per new instance (7 nodes for 6 pods + gateway)', () => {
    const bigger = withInstances(DEFAULT_TOPOLOGY, 'payments', { v1: 3, v2: 1 });
    const vols = Object.keys((composeDocument(bigger) as { volumes: Record<string, unknown> }).volumes).filter((v) => v.startsWith('token-'));
    expect(vols).toHaveLength(7);
    expect(vols).toContain('token-payments-v1-2');
  });
});

describe('the credentials issuer (world/compose-credentials.ts), on real files', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshlab-compose-secrets-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const read = (...p: string[]): string => fs.readFileSync(path.join(dir, ...p), 'utf8');
  const mode = (...p: string[]): number => fs.statSync(path.join(dir, ...p)).mode & 0o777;

  test('writes 0600 files in 0700 folders; each token verifies with the key and names its node, service and role; a restart keeps the key and the operator token and rewrites the tokens', () => {
    const t0 = 1_800_000_000_000;
    const operator = issueCredentials(dir, { ttlMs: 60_000, now: t0 });
    const key = read('control-plane', 'token-key');
    expect(read('control-plane', 'operator-token')).toBe(operator);
    expect(read('operator', 'operator-token')).toBe(operator);
    expect([mode('control-plane', 'token-key'), mode('control-plane'), mode('operator', 'operator-token')]).toEqual([0o600, 0o700, 0o600]);
    const nodes = credentialNodes();
    expect(nodes.map((n) => n.node)).toEqual(['orders-v1-0', 'payments-v1-0', 'payments-v1-1', 'payments-v2-0', 'notifications-v1-0', 'gateway']);
    for (const n of nodes) {
      expect([mode('nodes', n.node, 'token'), mode('nodes', n.node)]).toEqual([0o600, 0o700]);
      const v = verifyWorkloadToken(key, read('nodes', n.node, 'token'), t0 + 1000);
      expect(v).toEqual({ ok: true, claims: { node: n.node, service: n.service, role: n.role, exp: t0 + 60_000 } });
    }
    expect(verifyWorkloadToken(key, read('nodes', 'gateway', 'token'), t0 + 61_000).ok).toBe(false);
    const first = read('nodes', 'orders-v1-0', 'token');
    expect(issueCredentials(dir, { ttlMs: 60_000, now: t0 + 30_000 })).toBe(operator);
    expect(read('control-plane', 'token-key')).toBe(key);
    expect(read('nodes', 'orders-v1-0', 'token')).not.toBe(first);
  });

  test("the real control plane, given the issuer's files as compose gives them: a sidecar's token opens its own discovery stream only; edges need the operator token", async () => {
    issueCredentials(dir);
    const cp = await startControlPlane({ host: '127.0.0.1', port: 0, services: ['orders', 'payments', 'notifications'], auth: { tokenKey: read('control-plane', 'token-key'), operatorToken: read('control-plane', 'operator-token') } });
    try {
      const url = `http://127.0.0.1:${cp.port}`;
      const node = (id: string, service: string) => JSON.stringify({ id, role: 'sidecar', service, version: 'v1', labels: { app: service, version: 'v1' } });
      const stream = async (id: string, service: string, token?: string): Promise<number> => {
        const ac = new AbortController();
        const res = await fetch(`${url}/v1/discovery`, { headers: { 'x-mesh-node': node(id, service), ...(token ? { authorization: `Bearer ${token}` } : {}) }, signal: ac.signal });
        ac.abort();
        return res.status;
      };
      const paymentsToken = read('nodes', 'payments-v1-0', 'token');
      expect(await stream('payments-v1-0', 'payments', paymentsToken)).toBe(200);
      expect(await stream('orders-v1-0', 'orders', paymentsToken)).toBe(403);
      expect(await stream('payments-v1-0', 'payments')).toBe(401);
      const edges = (token?: string) => fetch(`${url}/v1/edges`, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify({ edges: [] }) }).then((r) => r.status);
      expect(await edges()).toBe(401);
      expect(await edges(paymentsToken)).toBe(403);
      expect(await edges(read('operator', 'operator-token'))).toBeLessThan(300);
    } finally {
      await cp.close();
    }
  });
});
