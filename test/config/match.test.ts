import { effectiveRoute, effectiveRoutes } from '../../mesh/config/effective';
import { loadPath } from '../../mesh/config/load';
import { pickDestination, requestMatches, selectRoute, type RequestFacts } from '../../mesh/config/match';
import * as path from 'node:path';
import { REPO } from './helpers';

const req = (over: Partial<RequestFacts> = {}): RequestFacts => ({ path: '/pay', method: 'GET', headers: {}, ...over });

describe('request matching (Istio semantics)', () => {
  const r = effectiveRoute({
    match: [
      {
        uri: { prefix: '/PAY' },
        ignoreUriCase: true,
        method: { regex: 'GET|POST' },
        headers: { 'End-User': { exact: 'jason' }, 'x-canary': {} },
        withoutHeaders: { 'x-skip': {} },
        queryParams: { debug: { exact: '' } },
        sourceLabels: { app: 'orders' },
      },
    ],
    route: [{ destination: { host: 'payments' } }],
  });
  const m = r.matches[0];
  const ok = req({ path: '/pay/1', headers: { 'end-user': 'jason', 'x-canary': '' }, query: new URLSearchParams('debug'), sourceLabels: { app: 'orders', version: 'v1' } });

  test('all conditions hold', () => expect(requestMatches(m, ok)).toBe(true));
  test.each<[string, Partial<RequestFacts>]>([
    ['uri prefix', { path: '/refund' }],
    ['method regex is whole-string', { method: 'GETX' }],
    ['header exact', { headers: { 'end-user': 'kim', 'x-canary': '' } }],
    ['header presence', { headers: { 'end-user': 'jason' } }],
    ['withoutHeaders', { headers: { 'end-user': 'jason', 'x-canary': '1', 'x-skip': 'y' } }],
    ['query presence', { query: new URLSearchParams('other=1') }],
    ['source labels', { sourceLabels: { app: 'notifications' } }],
  ])('fails on %s', (_n, over) => expect(requestMatches(m, { ...ok, ...over })).toBe(false));

  test('Bookinfo test-v2 sample: jason -> v2, others -> v1', () => {
    const rs = [
      ...loadPath(path.join(REPO, 'config/samples/destination-rule-all.yaml')).resources,
      ...loadPath(path.join(REPO, 'config/samples/virtual-service-payments-test-v2.yaml')).resources,
    ];
    const routes = effectiveRoutes(rs, 'payments');
    expect(selectRoute(routes, req({ headers: { 'end-user': 'jason' } }))?.destinations[0].subset).toBe('v2');
    expect(selectRoute(routes, req({ headers: { 'end-user': 'kim' } }))?.destinations[0].subset).toBe('v1');
  });

  test('weighted pick follows relative weights (seeded, 10000 draws, within 1.5%)', () => {
    // mulberry32, fixed seed
    let seed = 42;
    const rand = (): number => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const route = effectiveRoute({
      route: [
        { destination: { host: 'payments', subset: 'v1' }, weight: 90 },
        { destination: { host: 'payments', subset: 'v2' }, weight: 10 },
      ],
    });
    let v2 = 0;
    for (let i = 0; i < 10_000; i++) if (pickDestination(route, rand)?.subset === 'v2') v2++;
    expect(Math.abs(v2 / 10_000 - 0.1)).toBeLessThan(0.015);
    expect(pickDestination(route, () => 0)?.subset).toBe('v1');
    expect(pickDestination(route, () => 0.95)?.subset).toBe('v2');
  });
});
