import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import type { Sidecar } from '../../mesh/sidecar/sidecar';
import { issueToken, LAB_ISSUER } from '../../mesh/security/token-issuer';
import { call, closeAgent, metric, push } from '../mesh/harness';
import { PAYMENTS_DR, startApps, startGateway } from '../gateway/helpers';

const REPO = path.join(__dirname, '../../..');
const DEFAULT_RA = fs.readFileSync(path.join(REPO, 'config/default/request-authentication.yaml'), 'utf8');
const OTHER_ISSUER = 'https://rs256.example.test';

const EDGE = (jwksUri: string) => `${PAYMENTS_DR}---
${DEFAULT_RA}---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: rs256}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  jwtRules:
  - issuer: ${OTHER_ISSUER}
    jwksUri: ${jwksUri}
    fromHeaders: [{name: x-token}]
    fromParams: [token]
    forwardOriginalToken: true
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: edge}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  action: ALLOW
  rules:
  - from: [{source: {requestPrincipals: ["${LAB_ISSUER}/alice", "${OTHER_ISSUER}/carol"]}}]
    to: [{operation: {methods: [POST], paths: ["/orders"]}}]
  - from: [{source: {requestPrincipals: ["*"]}}]
    to: [{operation: {paths: ["/api/payments/*"]}}]
  - to: [{operation: {paths: ["/beta/*"]}}]
    when: [{key: "request.auth.claims[group]", values: [beta]}]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: edge}
spec:
  hosts: ["*"]
  gateways: [edge]
  http:
  - match: [{uri: {prefix: /api/payments}, headers: {"@request.auth.claims.group": {exact: beta}}}]
    route: [{destination: {host: payments, subset: v2}}]
  - match: [{uri: {prefix: /api/payments}}]
    route: [{destination: {host: payments, subset: v1}}]
  - match: [{uri: {prefix: /beta}}]
    route: [{destination: {host: payments, subset: v2}}]
  - route: [{destination: {host: orders}}]
`;

let apps: Awaited<ReturnType<typeof startApps>>;
let g: Sidecar;
let jwks: http.Server;
let jwksFetches = 0;
let rsKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

beforeAll(async () => {
  apps = await startApps();
  const pair = await generateKeyPair('RS256');
  rsKey = pair.privateKey;
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'rs-1', alg: 'RS256', use: 'sig' };
  jwks = http.createServer((_req, res) => {
    jwksFetches++;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', r));
  g = await startGateway();
  push(g, EDGE(`http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json`), apps.endpoints);
});
afterAll(async () => {
  await g.stop(0);
  closeAgent();
  jwks.closeAllConnections();
  await new Promise((r) => jwks.close(r));
  await apps.stop();
});

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
const rs256 = (sub: string, aud?: string) => {
  const j = new SignJWT({}).setProtectedHeader({ alg: 'RS256', kid: 'rs-1' }).setIssuer(OTHER_ISSUER).setSubject(sub).setIssuedAt().setExpirationTime('1h');
  if (aud) j.setAudience(aud);
  return j.sign(rsKey);
};

async function codes(n: number, headers: () => Record<string, string> | Promise<Record<string, string>>, p = '/orders', method = 'POST'): Promise<Record<number, number>> {
  const out: Record<number, number> = {};
  for (let i = 0; i < n; i++) {
    const r = await call(g.ports.outbound, p, { host: 'shop.example.test', method, headers: await headers(), body: method === 'POST' ? '{}' : undefined });
    out[r.status] = (out[r.status] ?? 0) + 1;
  }
  return out;
}

describe('RequestAuthentication + AuthorizationPolicy requestPrincipals at the gateway', () => {
  test('POST /orders, 10 each: no token 403 (RBAC: a missing token is not an authn failure), alice 200, bob 403; only alice\'s 10 reach orders', async () => {
    const alice = await issueToken({ sub: 'alice', aud: 'shop' });
    const bob = await issueToken({ sub: 'bob', aud: 'shop' });
    const before = apps.orders.seen.length;
    expect(await codes(10, () => ({}))).toEqual({ 403: 10 });
    expect(await codes(10, () => bearer(alice))).toEqual({ 200: 10 });
    expect(await codes(10, () => bearer(bob))).toEqual({ 403: 10 });
    expect(apps.orders.seen.length - before).toBe(10);
    const denied = g.accessLog.entries(1)[0];
    expect(denied).toMatchObject({ response_code: 403, response_code_details: 'rbac_access_denied_matched_policy[none]' });
  });

  test('invalid tokens, 10 each, all 401 with Envoy\'s reason and www-authenticate, none reaching orders: bad signature, expired, wrong audience, unknown issuer, not a JWT', async () => {
    const alice = await issueToken({ sub: 'alice', aud: 'shop' });
    const [h, p] = alice.split('.');
    const forged = `${h}.${p}.${Buffer.from('x'.repeat(64)).toString('base64url')}`;
    const expired = await issueToken({ sub: 'alice', aud: 'shop', ttlSeconds: -300 });
    const wrongAud = await issueToken({ sub: 'alice', aud: 'billing' });
    const otherIssuer = await issueToken({ sub: 'alice', aud: 'shop', issuer: 'https://evil.example.test' });
    const before = apps.orders.seen.length;
    const cases: Array<[string, string]> = [[forged, 'Jwt verification fails'], [expired, 'Jwt is expired'], [wrongAud, 'Audiences in Jwt are not allowed'], [otherIssuer, 'Jwt issuer is not configured'], ['not-a-jwt', 'Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections']];
    for (const [token, why] of cases) {
      expect(await codes(10, () => bearer(token))).toEqual({ 401: 10 });
      const r = await call(g.ports.outbound, '/orders', { host: 'shop.example.test', method: 'POST', headers: bearer(token), body: '{}' });
      expect([r.status, r.body]).toEqual([401, why]);
      expect(r.headers['www-authenticate']).toBe('Bearer realm="http://shop.example.test/orders", error="invalid_token"');
      expect(g.accessLog.entries(1)[0]).toMatchObject({ response_code: 401, response_code_details: `jwt_authn_access_denied{${why.replace(/ /g, '_')}}` });
    }
    expect(apps.orders.seen.length - before).toBe(0);
    // 5 cases × 11 requests, counted as Envoy's jwt_authn denied.
    expect(metric(await g.stats.registry.metrics(), 'meshlab_jwt_authn_total', { listener: 'http', outcome: 'denied' })).toBe(55);
  });

  test("Envoy's 60 s clock skew: a token expired 30 s ago is still accepted (10 × 200), one expired 90 s ago is not (10 × 401)", async () => {
    const recent = await issueToken({ sub: 'alice', aud: 'shop', ttlSeconds: -30 });
    const old = await issueToken({ sub: 'alice', aud: 'shop', ttlSeconds: -90 });
    expect(await codes(10, () => bearer(recent))).toEqual({ 200: 10 });
    expect(await codes(10, () => bearer(old))).toEqual({ 401: 10 });
  });

  test('the token is stripped before the upstream (forwardOriginalToken false) and its payload travels as x-jwt-payload (outputPayloadToHeader); the RS256 provider keeps its token (forwardOriginalToken true)', async () => {
    const alice = await issueToken({ sub: 'alice', aud: 'shop', claims: { group: 'gold' } });
    await call(g.ports.outbound, '/orders', { host: 'shop.example.test', method: 'POST', headers: bearer(alice), body: '{}' });
    const h = apps.orders.seen.at(-1)!.headers;
    expect(h.authorization).toBeUndefined();
    expect(JSON.parse(Buffer.from(String(h['x-jwt-payload']), 'base64url').toString())).toMatchObject({ iss: LAB_ISSUER, sub: 'alice', aud: 'shop', group: 'gold' });
    const carol = await rs256('carol');
    await call(g.ports.outbound, '/orders', { host: 'shop.example.test', method: 'POST', headers: { 'x-token': carol }, body: '{}' });
    expect(apps.orders.seen.at(-1)!.headers['x-token']).toBe(carol);
  });

  test('RS256 from a jwksUri (fetched once, then cached): carol by header x-token 10 × 200, by query ?token= 10 × 200; the same token in Authorization meets the lab provider, whose issuer it is not → 401', async () => {
    const carol = await rs256('carol');
    const fetchesBefore = jwksFetches;
    expect(await codes(10, () => ({ 'x-token': carol }))).toEqual({ 200: 10 });
    expect(await codes(10, () => ({}), `/orders?token=${carol}`)).toEqual({ 200: 10 });
    expect(jwksFetches - fetchesBefore).toBeLessThanOrEqual(1);
    // In Authorization the lab provider reads it: another issuer → 401.
    expect(await codes(3, () => bearer(carol))).toEqual({ 401: 3 });
  });

  test('claims: a `when` on request.auth.claims[group] admits beta users only (10 × 200 vs 10 × 403); the VirtualService routes @request.auth.claims.group = beta to payments v2 (20/20) and others to v1 (20/20)', async () => {
    const beta = await issueToken({ sub: 'dana', aud: 'shop', claims: { group: 'beta' } });
    const plain = await issueToken({ sub: 'erin', aud: 'shop', claims: { group: 'gold' } });
    expect(await codes(10, () => bearer(beta), '/beta/x', 'GET')).toEqual({ 200: 10 });
    expect(await codes(10, () => bearer(plain), '/beta/x', 'GET')).toEqual({ 403: 10 });
    const v1 = apps.v1.seen.length;
    const v2 = apps.v2.seen.length;
    expect(await codes(20, () => bearer(beta), '/api/payments/validate', 'GET')).toEqual({ 200: 20 });
    expect(await codes(20, () => bearer(plain), '/api/payments/validate', 'GET')).toEqual({ 200: 20 });
    expect([apps.v1.seen.length - v1, apps.v2.seen.length - v2]).toEqual([20, 20]);
  });
});

describe('RequestAuthentication at a sidecar\'s inbound side (SIDECAR_INBOUND)', () => {
  test('selected by app: orders, with an ALLOW on requestPrincipals: no token 10 × 403, a forged one 10 × 401, alice 10 × 200 — only alice\'s reach the app', async () => {
    const { startSidecar } = await import('../mesh/harness');
    const s = await startSidecar();
    try {
      s.setAppPort(apps.orders.port);
      push(s, `${DEFAULT_RA.replace('namespace: istio-system', 'namespace: default').replace('istio: ingressgateway', 'app: orders')}---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: orders}
spec:
  selector: {matchLabels: {app: orders}}
  rules:
  - from: [{source: {requestPrincipals: ["${LAB_ISSUER}/alice"]}}]
`, {});
      const alice = await issueToken({ sub: 'alice', aud: 'shop' });
      const forged = `${alice.slice(0, alice.lastIndexOf('.'))}.${Buffer.from('y'.repeat(64)).toString('base64url')}`;
      const inbound = async (h: Record<string, string>) => {
        const out: Record<number, number> = {};
        for (let i = 0; i < 10; i++) {
          const r = await call(s.ports.inbound, '/orders/1', { host: 'orders', headers: h });
          out[r.status] = (out[r.status] ?? 0) + 1;
        }
        return out;
      };
      const before = apps.orders.seen.length;
      expect(await inbound({})).toEqual({ 403: 10 });
      expect(await inbound(bearer(forged))).toEqual({ 401: 10 });
      expect(await inbound(bearer(alice))).toEqual({ 200: 10 });
      expect(apps.orders.seen.length - before).toBe(10);
    } finally {
      await s.stop(0);
    }
  });
});
