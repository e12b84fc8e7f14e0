import { Cluster } from '../../mesh/cluster';
import { effectiveTrafficPolicy } from '../../mesh/config/effective';
import type { DestinationRule, TrafficPolicy } from '../../mesh/config/types';
import { planLocalities, REGION_LABEL, ZONE_LABEL, type EffectiveLocalityLb } from '../../mesh/lb/locality';
import type { Endpoint } from '../../mesh/xds';
import { seededRandom } from '../../lib/random';
import { FakeClock, fakeHost } from './helpers';
import { DR_PAYMENTS, lint } from '../config/helpers';

const where = (zone: string, region = 'region-1') => ({ [REGION_LABEL]: region, [ZONE_LABEL]: zone });
const ORDERS = { app: 'orders', version: 'v1', ...where('zone-a') };

function endpoint(instance: string, zone: string, port: number, region = 'region-1'): Endpoint {
  return { instance, service: 'payments', labels: { app: 'payments', ...where(zone, region) }, host: '127.0.0.1', port };
}

/** The default world's payments: v1-0 in zone-a, v1-1 and v2-0 in zone-b. */
const PAYMENTS = [endpoint('payments-v1-0', 'zone-a', 1), endpoint('payments-v1-1', 'zone-b', 2), endpoint('payments-v2-0', 'zone-b', 3)];

const OUTLIER = { consecutive5xxErrors: 5, interval: '1s', baseEjectionTime: '30s', maxEjectionPercent: 100 };

function cluster(trafficPolicy: TrafficPolicy, endpoints: Endpoint[] = PAYMENTS, seed = 17) {
  const dr = { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'payments' }, spec: { host: 'payments', trafficPolicy } } as DestinationRule;
  const clock = new FakeClock();
  const c = new Cluster('outbound|payments', { policy: effectiveTrafficPolicy(dr), clock, rng: seededRandom(seed), callerLabels: ORDERS });
  c.setEndpoints(endpoints);
  return { c, clock };
}

/** Share of `n` picks per zone (in %). */
function shares(c: Cluster, n = 2000): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const h = c.pick({});
    const zone = h ? h.endpoint.labels[ZONE_LABEL] : 'none';
    out[zone] = (out[zone] ?? 0) + 100 / n;
  }
  return out;
}

function eject(c: Cluster, instance: string): void {
  const host = c.members.find((h) => h.endpoint.instance === instance)!;
  for (let i = 0; i < 5; i++) c.recordResult(host, 503);
  expect(c.outlier!.isEjected(host)).toBe(true);
}

afterEach(() => jest.restoreAllMocks());

describe('locality failover (localityLbSetting with outlier detection; orders in zone-a)', () => {
  const failover: TrafficPolicy = { loadBalancer: { simple: 'ROUND_ROBIN', localityLbSetting: { enabled: true } }, outlierDetection: OUTLIER };

  test('healthy: 100% of 2,000 picks stay in zone-a; zone-a ejected: 100% (≥ 99%) to zone-b; unejected: back to 100% zone-a', () => {
    const { c, clock } = cluster(failover);
    try {
      expect(shares(c)['zone-a']).toBeCloseTo(100, 6);
      eject(c, 'payments-v1-0');
      const during = shares(c);
      expect(during['zone-b'] ?? 0).toBeGreaterThanOrEqual(99);
      expect(during['zone-a'] ?? 0).toBe(0);
      clock.advanceTo(31_000); // baseEjectionTime 30 s, returned at the next 1 s sweep
      expect(c.outlier!.ejected).toBe(0);
      expect(shares(c)['zone-a']).toBeCloseTo(100, 6);
    } finally {
      c.close();
    }
  });

  test("partial health spills by Envoy's formula: 2 local hosts, 1 ejected → min(100, 1.4 × 50%) = 70% local, 30% to priority 1 (± 3 over 2,000, seed 17)", () => {
    const eps = [endpoint('a-0', 'zone-a', 1), endpoint('a-1', 'zone-a', 2), endpoint('b-0', 'zone-b', 3), endpoint('b-1', 'zone-b', 4)];
    const { c } = cluster(failover, eps);
    try {
      eject(c, 'a-0');
      const od = c.outlier!;
      expect(c.locality!.priorityLoad((h) => !od.isEjected(h), od.generation, 0)).toEqual([70, 30]);
      const s = shares(c);
      expect(Math.abs(s['zone-a'] - 70)).toBeLessThanOrEqual(3);
      expect(Math.abs(s['zone-b'] - 30)).toBeLessThanOrEqual(3);
    } finally {
      c.close();
    }
  });

  test('4 local hosts, 1 ejected: 1.4 × 75% ≥ 100% → still 100% local (the overprovisioning factor absorbs it); 3 local, 1 ejected: 93% (1.4 × 66.7%)', () => {
    const three = cluster(failover, [endpoint('a-0', 'zone-a', 1), endpoint('a-1', 'zone-a', 2), endpoint('a-2', 'zone-a', 3), endpoint('b-0', 'zone-b', 4)]);
    try {
      eject(three.c, 'a-0');
      expect(Math.abs(shares(three.c)['zone-a'] - 93)).toBeLessThanOrEqual(3);
    } finally {
      three.c.close();
    }
    const eps = [endpoint('a-0', 'zone-a', 1), endpoint('a-1', 'zone-a', 2), endpoint('a-2', 'zone-a', 3), endpoint('a-3', 'zone-a', 4), endpoint('b-0', 'zone-b', 5)];
    const { c } = cluster(failover, eps);
    try {
      eject(c, 'a-0');
      expect(shares(c)['zone-a']).toBeCloseTo(100, 6);
    } finally {
      c.close();
    }
  });

  test('consistent hash: a key keeps its host; with 1 of 2 local hosts ejected 70% ± 3 of 2,000 keys stay local (priority by the hash, as Envoy)', () => {
    const eps = [endpoint('a-0', 'zone-a', 1), endpoint('a-1', 'zone-a', 2), endpoint('b-0', 'zone-b', 3), endpoint('b-1', 'zone-b', 4)];
    const { c } = cluster({ loadBalancer: { consistentHash: { httpHeaderName: 'x-user' }, localityLbSetting: { enabled: true } }, outlierDetection: OUTLIER }, eps);
    try {
      const keys = Array.from({ length: 2000 }, (_, i) => `user-${i}`);
      expect(keys.every((k) => c.pick({ hashKey: k })!.endpoint.labels[ZONE_LABEL] === 'zone-a')).toBe(true);
      eject(c, 'a-0');
      const first = keys.map((k) => c.pick({ hashKey: k })!);
      expect(keys.map((k) => c.pick({ hashKey: k })!)).toEqual(first);
      const local = (100 * first.filter((h) => h.endpoint.labels[ZONE_LABEL] === 'zone-a').length) / keys.length;
      expect(Math.abs(local - 70)).toBeLessThanOrEqual(3);
    } finally {
      c.close();
    }
  });

  test("without outlierDetection there is no locality preference (Istio's rule): zone-a gets 1/3 ± 3 points, with it 100%", () => {
    const without = cluster({ loadBalancer: { simple: 'ROUND_ROBIN', localityLbSetting: { enabled: true } } });
    const withOd = cluster(failover);
    try {
      expect(without.c.locality).toBeUndefined();
      expect(Math.abs(shares(without.c)['zone-a'] - 100 / 3)).toBeLessThanOrEqual(3);
      expect(shares(withOd.c)['zone-a']).toBeCloseTo(100, 6);
    } finally {
      without.c.close();
      withOd.c.close();
    }
  });

  test('enabled: false turns it off: zone-a gets 1/3 ± 3 points despite outlier detection', () => {
    const { c } = cluster({ loadBalancer: { simple: 'ROUND_ROBIN', localityLbSetting: { enabled: false } }, outlierDetection: OUTLIER });
    try {
      expect(Math.abs(shares(c)['zone-a'] - 100 / 3)).toBeLessThanOrEqual(3);
    } finally {
      c.close();
    }
  });
});

describe('localityLbSetting.distribute', () => {
  test('from region-1/zone-a to zone-a 80 / zone-b 20: 80% ± 3 of 2,000 picks to zone-a (seed 17), no outlier detection needed', () => {
    const { c } = cluster({
      loadBalancer: { localityLbSetting: { distribute: [{ from: 'region-1/zone-a/*', to: { 'region-1/zone-a/*': 80, 'region-1/zone-b/*': 20 } }] } },
    });
    try {
      const s = shares(c);
      expect(Math.abs(s['zone-a'] - 80)).toBeLessThanOrEqual(3);
      expect(Math.abs(s['zone-b'] - 20)).toBeLessThanOrEqual(3);
    } finally {
      c.close();
    }
  });

  test('a locality the matching rule does not name gets nothing; a rule for another caller changes nothing', () => {
    const only = cluster({ loadBalancer: { localityLbSetting: { distribute: [{ from: 'region-1/zone-a', to: { 'region-1/zone-b': 100 } }] } } });
    const other = cluster({ loadBalancer: { simple: 'ROUND_ROBIN', localityLbSetting: { distribute: [{ from: 'region-1/zone-b', to: { 'region-1/zone-b': 100 } }] } } });
    try {
      expect(shares(only.c)['zone-b']).toBeCloseTo(100, 6);
      // Unmatched caller: Istio keeps each locality's weight (its host count): zone-a 1/3.
      expect(Math.abs(shares(other.c)['zone-a'] - 100 / 3)).toBeLessThanOrEqual(3);
    } finally {
      only.c.close();
      other.c.close();
    }
  });
});

describe("Istio's priorities (planLocalities)", () => {
  const hostsIn = (spec: [string, string, string][]) => spec.map(([k, region, zone]) => ({ ...fakeHost(k), endpoint: { labels: where(zone, region) } }));
  const priorities = (s: EffectiveLocalityLb, hosts: ReturnType<typeof hostsIn>, caller: Record<string, string> = where('zone-a')) =>
    Object.fromEntries(planLocalities(s, caller, hosts).groups.flatMap((g) => g.hosts.map((h) => [h.key, g.priority])));

  test('same zone 0, same region other zone 1, other regions 2', () => {
    const hosts = hostsIn([['a', 'region-1', 'zone-a'], ['b', 'region-1', 'zone-b'], ['c', 'region-2', 'zone-c'], ['d', 'region-3', 'zone-d']]);
    expect(priorities({ outlierDetection: true }, hosts)).toEqual({ a: 0, b: 1, c: 2, d: 2 });
  });

  test('failover region-1 → region-3 puts region-3 before region-2', () => {
    const hosts = hostsIn([['a', 'region-1', 'zone-a'], ['c', 'region-2', 'zone-c'], ['d', 'region-3', 'zone-d']]);
    expect(priorities({ outlierDetection: true, failover: [{ from: 'region-1', to: 'region-3' }] }, hosts)).toEqual({ a: 0, d: 1, c: 2 });
  });

  test('failoverPriority [region, zone]: the first label an endpoint does not share sets its priority', () => {
    const hosts = hostsIn([['a', 'region-1', 'zone-a'], ['b', 'region-1', 'zone-b'], ['c', 'region-2', 'zone-c']]);
    expect(priorities({ outlierDetection: true, failoverPriority: [REGION_LABEL, ZONE_LABEL] }, hosts)).toEqual({ a: 0, b: 1, c: 2 });
    // A label=value override: prefer zone-b whatever the caller's zone.
    expect(priorities({ outlierDetection: true, failoverPriority: [`${ZONE_LABEL}=zone-b`] }, hosts)).toEqual({ b: 0, a: 1, c: 1 });
  });
});

describe('localityLbSetting validation (Istio ValidateLocalityLbSetting)', () => {
  const dr = (setting: string, od = '    outlierDetection:\n      consecutive5xxErrors: 5\n      maxEjectionPercent: 100\n') =>
    DR_PAYMENTS.replace('  subsets:', `  trafficPolicy:\n    loadBalancer:\n      localityLbSetting:\n${setting}${od}  subsets:`);
  const codes = (text: string) => lint(text).map((m) => [m.code, m.path, m.message]);

  test('enabled, failover, distribute and failoverPriority are accepted (no ML0003)', () => {
    expect(codes(dr('        enabled: true\n        failover:\n        - from: region-1\n          to: region-2\n'))).toEqual([]);
    expect(codes(dr("        distribute:\n        - from: region-1/zone-a/*\n          to:\n            \"region-1/zone-a/*\": 80\n            \"region-1/zone-b/*\": 20\n"))).toEqual([]);
    expect(codes(dr('        failoverPriority:\n        - topology.kubernetes.io/zone\n'))).toEqual([]);
  });

  test('rejects what Istio rejects: distribute with failover, weights not summing to 100, failover within a region', () => {
    const both = codes(dr('        distribute:\n        - from: region-1\n          to:\n            region-1: 100\n        failover:\n        - from: region-1\n          to: region-2\n'));
    expect(both).toEqual([['IST0106', 'spec.trafficPolicy.loadBalancer.localityLbSetting', expect.stringMatching(/can not simultaneously specify 'distribute' and 'failover'/)]]);
    const sum = codes(dr('        distribute:\n        - from: region-1\n          to:\n            region-1: 80\n            region-2: 10\n'));
    expect(sum).toEqual([['IST0106', 'spec.trafficPolicy.loadBalancer.localityLbSetting.distribute[0].to', expect.stringMatching(/total locality weight 90 != 100/)]]);
    const same = codes(dr('        failover:\n        - from: region-1\n          to: region-1\n'));
    expect(same).toEqual([['IST0106', 'spec.trafficPolicy.loadBalancer.localityLbSetting.failover[0]', expect.stringMatching(/different regions/)]]);
  });

  test('retryRemoteLocalities: true is ML0003 now that the world has localities (no previous_priorities predicate); false is fine', () => {
    const vs = (v: boolean) => `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: payments\nspec:\n  hosts: [payments]\n  http:\n  - route:\n    - destination:\n        host: payments\n    retries:\n      attempts: 2\n      retryRemoteLocalities: ${v}\n`;
    expect(lint(vs(true)).map((m) => [m.code, m.path])).toEqual([['ML0003', 'spec.http[0].retries.retryRemoteLocalities']]);
    expect(lint(vs(false))).toEqual([]);
  });

  test('failover without outlierDetection is a warning (IST0133): it would never fail over', () => {
    const w = lint(dr('        failover:\n        - from: region-1\n          to: region-2\n', ''));
    expect(w.map((m) => [m.code, m.level])).toEqual([['IST0133', 'Warning']]);
    expect(w[0].message).toMatch(/outlier detection policy must be provided for failover/);
  });
});
