/** Rewrite at the edge: a VirtualService bound to the Gateway rewrites the path and authority before the gateway forwards. */
import type { Sidecar } from '../../mesh/sidecar/sidecar';
import { call, closeAgent, push } from '../mesh/harness';
import { startApps, startGateway } from './helpers';

type Apps = Awaited<ReturnType<typeof startApps>>;

const EDGE = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["shop.example.test"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: default}
spec:
  hosts: [shop.example.test]
  gateways: [edge]
  http:
  - match: [{uri: {prefix: /shop/orders}}]
    rewrite: {uri: /orders}
    route: [{destination: {host: orders}}]
  - match: [{uri: {prefix: /shop/pay}}]
    rewrite:
      uriRegexRewrite: {match: "^/shop/pay/(.*)$", rewrite: '/api/payments/\\1'}
      authority: payments.internal.test
    route: [{destination: {host: payments}}]
`;

let apps: Apps;
let g: Sidecar;
beforeAll(async () => {
  apps = await startApps();
  g = await startGateway();
  push(g, EDGE, apps.endpoints);
});
afterAll(async () => {
  closeAgent();
  await Promise.allSettled([g?.stop(0), apps?.stop()]);
});

test('/shop/orders/7?x=1 at the gateway reaches orders as /orders/7?x=1, 10 of 10; the gateway logs /shop/orders/7?x=1', async () => {
  const before = apps.orders.seen.length;
  for (let i = 0; i < 10; i++) expect((await call(g.ports.outbound, '/shop/orders/7?x=1', { host: 'shop.example.test' })).status).toBe(200);
  const seen = apps.orders.seen.slice(before);
  expect(seen.map((s) => s.url)).toEqual(Array(10).fill('/orders/7?x=1'));
  expect(seen.map((s) => s.headers['x-envoy-original-path'])).toEqual(Array(10).fill('/shop/orders/7?x=1'));
  const logged = g.accessLog.entries().filter((e) => e.path.startsWith('/shop/orders/7'));
  expect(logged.map((e) => [e.path, e.response_code])).toEqual(Array(10).fill(['/shop/orders/7?x=1', 200]));
});

test('uriRegexRewrite and authority at the gateway: /shop/pay/42 reaches payments as /api/payments/42 with Host payments.internal.test', async () => {
  const before = apps.v1.seen.length + apps.v2.seen.length;
  for (let i = 0; i < 4; i++) expect((await call(g.ports.outbound, '/shop/pay/42', { host: 'shop.example.test' })).status).toBe(200);
  const seen = [...apps.v1.seen, ...apps.v2.seen].sort((a, b) => a.at - b.at);
  expect(seen.length - before).toBe(4);
  expect(seen.slice(-4).map((s) => [s.url, s.headers.host])).toEqual(Array(4).fill(['/api/payments/42', 'payments.internal.test']));
});
