/**
 * Istio's HTTPRewrite through a real sidecar to a real upstream that records what it received: Envoy's prefix_rewrite
 * (the matched prefix, or the whole path of an exact/regex match, or "/" without a uri match), regex_rewrite and
 * host_rewrite_literal, query kept, x-envoy-original-path set, the access log showing the original path.
 */
import type { Sidecar } from '../../mesh/sidecar/sidecar';
import type { IncomingMessage } from 'node:http';
import { compileRewrite } from '../../mesh/rewrite';
import { effectiveMatch } from '../../mesh/config/effective';
import { call, closeAgent, push, startSidecar, Upstream } from './harness';

const VS = (http: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: payments}
spec:
  hosts: [payments]
  http:
${http}`;

let sidecar: Sidecar;
let app: Upstream;
let audit: Upstream;
beforeAll(async () => {
  app = await new Upstream('payments-v1-0', 'v1').start();
  audit = await new Upstream('audit-v1-0', 'v1').start();
  sidecar = await startSidecar();
});
afterAll(async () => {
  closeAgent();
  await Promise.allSettled([sidecar?.stop(0), app?.stop(), audit?.stop()]);
});
beforeEach(() => {
  app.seen = [];
  audit.seen = [];
  app.behaviour = (_req, res) => app.ok(res);
});

const endpoints = () => ({ payments: [app.endpoint('payments')], audit: [audit.endpoint('audit')] });
const apply = (http: string): void => push(sidecar, VS(http), endpoints());
const seenUrls = (from = 0) => app.seen.slice(from).map((s) => s.url);

test('prefix /api/v1 rewritten to /v2: the app sees /v2/orders?x=1 for /api/v1/orders?x=1, 10 of 10, with x-envoy-original-path', async () => {
  apply(`  - match: [{uri: {prefix: /api/v1}}]
    rewrite: {uri: /v2}
    route: [{destination: {host: payments}}]
`);
  const answers = [];
  for (let i = 0; i < 10; i++) answers.push(await call(sidecar.ports.outbound, '/api/v1/orders?x=1'));
  expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
  expect(seenUrls()).toEqual(Array(10).fill('/v2/orders?x=1'));
  expect(app.seen.map((s) => s.headers['x-envoy-original-path'])).toEqual(Array(10).fill('/api/v1/orders?x=1'));
  // Istio's default format: "path": "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%" — the path the caller sent.
  const logged = sidecar.accessLog.entries().filter((e) => e.direction === 'outbound' && e.path.startsWith('/api/v1/orders'));
  expect(logged.length).toBeGreaterThanOrEqual(10);
  expect(logged.slice(-10).map((e) => e.path)).toEqual(Array(10).fill('/api/v1/orders?x=1'));
});

test('an exact match with a uri rewrite replaces the whole path (Envoy: the matched path is all of it), query kept: /v1/ping?q=1 → /pong?q=1', async () => {
  apply(`  - match: [{uri: {exact: /v1/ping}}]
    rewrite: {uri: /pong}
    route: [{destination: {host: payments}}]
`);
  for (let i = 0; i < 5; i++) expect((await call(sidecar.ports.outbound, '/v1/ping?q=1')).status).toBe(200);
  expect(seenUrls()).toEqual(Array(5).fill('/pong?q=1'));
});

test('a regex match with a uri rewrite replaces the whole path too: /users/42 → /user', async () => {
  apply(`  - match: [{uri: {regex: "/users/[0-9]+"}}]
    rewrite: {uri: /user}
    route: [{destination: {host: payments}}]
`);
  await call(sidecar.ports.outbound, '/users/42');
  await call(sidecar.ports.outbound, '/users/7?page=2');
  expect(seenUrls()).toEqual(['/user', '/user?page=2']);
});

test('a rule without a uri match rewrites Istio\'s default prefix "/": uri /new on /a/b gives /newa/b', async () => {
  apply(`  - match: [{headers: {x-tenant: {exact: blue}}}]
    rewrite: {uri: /new}
    route: [{destination: {host: payments}}]
  - route: [{destination: {host: payments}}]
`);
  await call(sidecar.ports.outbound, '/a/b', { headers: { 'x-tenant': 'blue' } });
  await call(sidecar.ports.outbound, '/a/b', { headers: { 'x-tenant': 'red' } });
  expect(seenUrls()).toEqual(['/newa/b', '/a/b']);
  expect(app.seen[1].headers['x-envoy-original-path']).toBeUndefined();
});

test('two match blocks: each replaces its own matched prefix (one Envoy route per block): /a/1 and /bbb/1 both → /x/1', async () => {
  apply(`  - match: [{uri: {prefix: /a/}}, {uri: {prefix: /bbb/}}]
    rewrite: {uri: /x/}
    route: [{destination: {host: payments}}]
`);
  await call(sidecar.ports.outbound, '/a/1');
  await call(sidecar.ports.outbound, '/bbb/1');
  expect(seenUrls()).toEqual(['/x/1', '/x/1']);
});

test('uriRegexRewrite with capture groups: /svc/orders/7/items?x=1 → /orders/items/7?x=1; every match replaced: /a-b-c → /a_b_c', async () => {
  apply(`  - match: [{uri: {prefix: /svc/}}]
    rewrite:
      uriRegexRewrite: {match: "^/svc/([^/]+)/([0-9]+)/(.*)$", rewrite: '/\\1/\\3/\\2'}
    route: [{destination: {host: payments}}]
  - rewrite:
      uriRegexRewrite: {match: "-", rewrite: "_"}
    route: [{destination: {host: payments}}]
`);
  await call(sidecar.ports.outbound, '/svc/orders/7/items?x=1');
  await call(sidecar.ports.outbound, '/a-b-c?k=x-y');
  expect(seenUrls()).toEqual(['/orders/items/7?x=1', '/a_b_c?k=x-y']);
});

test('authority rewrite: the app sees Host payments.internal.test, 5 of 5; the access log shows it as %REQ(:AUTHORITY)%', async () => {
  apply(`  - rewrite: {authority: payments.internal.test}
    route: [{destination: {host: payments}}]
`);
  for (let i = 0; i < 5; i++) expect((await call(sidecar.ports.outbound, '/authority-check')).status).toBe(200);
  expect(app.seen.map((s) => [s.url, s.headers.host])).toEqual(Array(5).fill(['/authority-check', 'payments.internal.test']));
  expect(app.seen[0].headers['x-envoy-original-path']).toBeUndefined();
  const logged = sidecar.accessLog.entries().filter((e) => e.path === '/authority-check');
  expect(logged.slice(-5).map((e) => e.authority)).toEqual(Array(5).fill('payments.internal.test'));
});

test('a retry and the mirror send the rewritten request: first try 503, retry 200, both at /v2/pay; the mirror sees /v2/pay too', async () => {
  apply(`  - match: [{uri: {prefix: /api/v1}}]
    rewrite: {uri: /v2, authority: pay.internal.test}
    route: [{destination: {host: payments}}]
    retries: {attempts: 2, retryOn: 5xx}
    mirror: {host: audit}
    mirrorPercentage: {value: 100}
`);
  let n = 0;
  app.behaviour = (_req, res) => app.ok(res, n++ === 0 ? 503 : 200);
  expect((await call(sidecar.ports.outbound, '/api/v1/pay')).status).toBe(200);
  await audit.waitFor(1);
  expect(app.seen.map((s) => [s.url, s.headers.host, s.headers['x-envoy-attempt-count']])).toEqual([
    ['/v2/pay', 'pay.internal.test', '1'],
    ['/v2/pay', 'pay.internal.test', '2'],
  ]);
  expect(audit.seen.map((s) => [s.url, s.headers.host, s.headers['x-envoy-original-path']])).toEqual([['/v2/pay', 'pay.internal.test', '/api/v1/pay']]);
});

test("the destination's inbound side logs the caller's original path too (x-envoy-original-path travels; Istio's format reads it), the app gets the rewritten one", async () => {
  sidecar.setAppPort(app.port);
  const r = await call(sidecar.ports.inbound, '/v2/inbound-check?x=1', { host: 'orders', headers: { 'x-envoy-original-path': '/api/v1/inbound-check?x=1' } });
  expect(r.status).toBe(200);
  expect(seenUrls()).toEqual(['/v2/inbound-check?x=1']);
  const logged = sidecar.accessLog.entries().filter((e) => e.direction === 'inbound' && e.path.includes('inbound-check'));
  expect(logged.map((e) => e.path)).toEqual(['/api/v1/inbound-check?x=1']);
});

describe('compileRewrite alone', () => {
  const req = {} as IncomingMessage;
  test('ignoreUriCase: /API/x matched by prefix /api replaces its 4 characters: /v2/x?y', () => {
    const rw = compileRewrite({ uri: '/v2' }, [effectiveMatch({ uri: { prefix: '/api' }, ignoreUriCase: true })]);
    expect(rw?.path?.(req, '/API/x?y')).toBe('/v2/x?y');
  });
  test('a substitution naming a group the pattern lacks gives "" for it; \\\\ is one backslash', () => {
    const rw = compileRewrite({ uriRegexRewrite: { match: '^/a/(.*)$', rewrite: '/b/\\1/\\5\\\\x' } }, []);
    expect(rw?.path?.(req, '/a/zz?q=1')).toBe('/b/zz/\\x?q=1');
  });
  test('authority alone: no path function, so no x-envoy-original-path', () => {
    expect(compileRewrite({ authority: 'a.test' }, [])).toEqual({ authority: 'a.test' });
  });
});
