import { loadYaml } from '../../mesh/config/load';
import {
  effectiveHostConfig,
  effectiveRetry,
  effectiveRoute,
  effectiveTrafficPolicy,
  maxEjectableHosts,
  minHostsForEjection,
  subsetTrafficPolicy,
} from '../../mesh/config/effective';
import type { DestinationRule } from '../../mesh/config/types';
import { DR_PAYMENTS } from './helpers';

const DR = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: payments
spec:
  host: payments.default.svc.cluster.local
  trafficPolicy:
    loadBalancer:
      simple: ROUND_ROBIN
    connectionPool:
      tcp:
        maxConnections: 100
      http:
        http1MaxPendingRequests: 10
    outlierDetection:
      consecutive5xxErrors: 3
      maxEjectionPercent: 100
  subsets:
  - name: v1
    labels:
      version: v1
  - name: v2
    labels:
      version: v2
    trafficPolicy:
      connectionPool:
        http:
          maxRetries: 1
      loadBalancer:
        consistentHash:
          httpHeaderName: X-User
`;

const dr = loadYaml(DR, 'dr.yaml').resources[0] as DestinationRule;

describe('subsetTrafficPolicy: a subset block replaces the top-level block of the same kind', () => {
  test('no deep merge: v2 connectionPool has no tcp limit from the top level', () => {
    expect(subsetTrafficPolicy(dr, 'v2', 'connectionPool')).toEqual({ http: { maxRetries: 1 } });
    const v2 = effectiveTrafficPolicy(dr, 'v2');
    expect(v2.connectionPool.maxConnections).toBe(4_294_967_295); // default, not the top-level 100
    expect(v2.connectionPool.http1MaxPendingRequests).toBe(4_294_967_295);
    expect(v2.connectionPool.maxRetries).toBe(1);
    expect(v2.loadBalancer).toEqual({ type: 'RING_HASH', minimumRingSize: 1024, hashOn: { header: 'x-user' } });
  });

  test('kinds the subset does not set fall back to the top level', () => {
    expect(subsetTrafficPolicy(dr, 'v2', 'outlierDetection')).toEqual({ consecutive5xxErrors: 3, maxEjectionPercent: 100 });
    const v1 = effectiveTrafficPolicy(dr, 'v1');
    expect(v1.connectionPool).toMatchObject({ maxConnections: 100, http1MaxPendingRequests: 10 });
    expect(v1.loadBalancer).toEqual({ type: 'ROUND_ROBIN' });
    expect(subsetTrafficPolicy(dr, 'nope', 'loadBalancer')).toEqual({ simple: 'ROUND_ROBIN' });
    expect(subsetTrafficPolicy(undefined, 'v1', 'loadBalancer')).toBeUndefined();
  });

  test('outlier defaults fill in what is left out; absent block means no ejection', () => {
    expect(effectiveTrafficPolicy(dr).outlierDetection).toEqual({
      consecutive5xxErrors: 3,
      consecutiveGatewayErrors: 0,
      intervalMs: 10_000,
      baseEjectionTimeMs: 30_000,
      maxEjectionPercent: 100,
      minHealthPercent: 0,
    });
    const plain = loadYaml(DR_PAYMENTS, 'p.yaml').resources[0] as DestinationRule;
    const tp = effectiveTrafficPolicy(plain, 'v1');
    expect(tp.outlierDetection).toBeUndefined();
    expect(tp).toEqual({
      loadBalancer: { type: 'LEAST_REQUEST' },
      connectionPool: {
        maxConnections: 4_294_967_295,
        connectTimeoutMs: 10_000,
        http1MaxPendingRequests: 4_294_967_295,
        http2MaxRequests: 4_294_967_295,
        maxRequestsPerConnection: 0,
        maxRetries: 4_294_967_295,
        idleTimeoutMs: 3_600_000,
      },
      tlsMode: 'ISTIO_MUTUAL',
    });
  });

  test('effectiveHostConfig resolves the DR by any host spelling', () => {
    const cfg = effectiveHostConfig([dr], 'payments');
    expect(cfg.destinationRule).toBe('payments');
    expect(cfg.subsets.map((s) => [s.name, s.trafficPolicy.loadBalancer.type])).toEqual([
      ['v1', 'ROUND_ROBIN'],
      ['v2', 'RING_HASH'],
    ]);
  });
});

describe('ejection arithmetic (Envoy: 100*(ejected+1)/N <= maxEjectionPercent)', () => {
  test.each<[number, number]>([
    [10, 10],
    [20, 5],
    [30, 4],
    [33, 4],
    [34, 3],
    [50, 2],
    [100, 1],
    [0, 10],
  ])('maxEjectionPercent %d needs %d hosts', (pct, n) => {
    expect(minHostsForEjection(pct)).toBe(n);
  });
  test('how many can be out at once', () => {
    expect([maxEjectableHosts(9, 10), maxEjectableHosts(10, 10), maxEjectableHosts(3, 50), maxEjectableHosts(3, 100)]).toEqual([0, 1, 1, 3]);
  });
});

describe('route normalization', () => {
  test('rewrite is carried as written into the effective route (what describe and the dashboard show)', () => {
    const r = effectiveRoute({ route: [{ destination: { host: 'payments' } }], rewrite: { uri: '/v2', authority: 'pay.internal.test' } });
    expect(r.rewrite).toEqual({ uri: '/v2', authority: 'pay.internal.test' });
    expect(effectiveRoute({ route: [{ destination: { host: 'payments' } }] }).rewrite).toBeUndefined();
  });

  test('retries: numeric retryOn tokens become retriable status codes; attempts unset disables', () => {
    expect(effectiveRetry({ attempts: 3, perTryTimeout: '2s', retryOn: '5xx,503,429' })).toEqual({
      attempts: 3,
      perTryTimeoutMs: 2000,
      retryOn: ['5xx', 'retriable-status-codes'],
      retriableStatusCodes: [503, 429],
    });
    expect(effectiveRetry({ retryOn: 'gateway-error' })).toEqual({ attempts: 0, retryOn: ['gateway-error'], retriableStatusCodes: [] });
    expect(effectiveRetry({ attempts: 1 }).retryOn).toEqual(['connect-failure', 'refused-stream', 'unavailable', 'cancelled', 'retriable-status-codes']);
  });

  test('relative weights, canonical hosts, fault and mirror percentages default to 100', () => {
    const r = effectiveRoute({
      route: [
        { destination: { host: 'payments.default.svc.cluster.local', subset: 'v1' }, weight: 3 },
        { destination: { host: 'payments', subset: 'v2', port: { number: 8080 } }, weight: 1 },
      ],
      timeout: '1.5s',
      fault: { delay: { fixedDelay: '500ms', percent: 20 } },
      mirror: { host: 'payments.default', subset: 'v2' },
    });
    expect(r.destinations).toEqual([
      { host: 'payments', subset: 'v1', weight: 3, percent: 75 },
      { host: 'payments', subset: 'v2', port: 8080, weight: 1, percent: 25 },
    ]);
    expect(r.timeoutMs).toBe(1500);
    expect(r.fault).toEqual({ delay: { ms: 500, percent: 20 } });
    expect(r.mirror).toEqual({ host: 'payments', subset: 'v2', percent: 100 });
  });
});
