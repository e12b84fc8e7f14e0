import { loadYaml } from '../../mesh/config/load';
import { compileConfig, CompileError, clusterName } from '../../mesh/compile';
import type { Endpoint } from '../../mesh/xds';

const ep = (instance: string, version: string, port: number): Endpoint => ({ instance, service: 'payments', labels: { app: 'payments', version }, host: '127.0.0.1', port });
const endpoints = { payments: [ep('payments-v1-0', 'v1', 1001), ep('payments-v1-1', 'v1', 1002), ep('payments-v2-0', 'v2', 1003)], orders: [] };
const me = { service: 'orders', labels: { app: 'orders', version: 'v1' } };

function load(text: string) {
  const r = loadYaml(text, 'test.yaml');
  expect(r.messages.filter((m) => m.level === 'Error')).toEqual([]);
  return r.resources;
}

const DR = `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: payments }
spec:
  host: payments
  trafficPolicy:
    loadBalancer: { simple: ROUND_ROBIN }
  subsets:
  - name: v1
    labels: { version: v1 }
  - name: v2
    labels: { version: v2 }
    trafficPolicy:
      loadBalancer: { consistentHash: { httpHeaderName: x-user } }
`;

describe('compileConfig', () => {
  test('no resources: one cluster and a default route per service', () => {
    const c = compileConfig([], endpoints, me);
    expect([...c.clusters.keys()].sort()).toEqual([clusterName('orders'), clusterName('payments')]);
    expect(c.clusters.get('outbound|80||payments.default.svc.cluster.local')!.endpoints).toHaveLength(3);
    expect(c.hosts.get('payments')!.routes).toBeUndefined();
    expect(c.clusters.get(clusterName('payments'))!.policy.loadBalancer.type).toBe('LEAST_REQUEST');
  });

  test('subsets select endpoints by labels; a subset trafficPolicy block replaces the top-level one', () => {
    const c = compileConfig(load(DR), endpoints, me);
    const v1 = c.clusters.get('outbound|80|v1|payments.default.svc.cluster.local')!;
    const v2 = c.clusters.get('outbound|80|v2|payments.default.svc.cluster.local')!;
    expect(v1.endpoints.map((e) => e.instance)).toEqual(['payments-v1-0', 'payments-v1-1']);
    expect(v2.endpoints.map((e) => e.instance)).toEqual(['payments-v2-0']);
    expect(v1.policy.loadBalancer.type).toBe('ROUND_ROBIN');
    expect(v2.policy.loadBalancer).toEqual({ type: 'RING_HASH', minimumRingSize: 1024, hashOn: { header: 'x-user' } });
  });

  test('VirtualService routes: weights, sourceLabels settled per sidecar, default retry without 503, faults without percentage inject nothing', () => {
    const vs = `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: payments }
spec:
  hosts: [payments]
  http:
  - name: only-from-notifications
    match: [{ sourceLabels: { app: notifications } }]
    route: [{ destination: { host: payments, subset: v2 } }]
  - name: split
    fault:
      abort: { httpStatus: 500 }
    route:
    - destination: { host: payments, subset: v1 }
      weight: 9
    - destination: { host: payments, subset: v2 }
      weight: 1
`;
    const c = compileConfig(load(DR + '---' + vs), endpoints, me);
    const routes = c.hosts.get('payments')!.routes!;
    expect(routes.map((r) => r.name)).toEqual(['split']);
    expect(routes[0].destinations.map((d) => [d.cluster, d.weight])).toEqual([
      ['outbound|80|v1|payments.default.svc.cluster.local', 9],
      ['outbound|80|v2|payments.default.svc.cluster.local', 1],
    ]);
    expect(routes[0].totalWeight).toBe(10);
    expect(routes[0].retry.numRetries).toBe(2);
    expect(routes[0].retry.retriableStatus(503)).toBe(false);
    expect(routes[0].fault).toEqual({ abort: { httpStatus: 500, percent: 0 } });
    const fromNotifications = compileConfig(load(DR + '---' + vs), endpoints, { service: 'notifications', labels: { app: 'notifications' } });
    expect(fromNotifications.hosts.get('payments')!.routes!.map((r) => r.name)).toEqual(['only-from-notifications', 'split']);
  });

  test('an unknown retryOn token fails the whole snapshot with file, line and field', () => {
    const vs = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: payments }
spec:
  hosts: [payments]
  http:
  - route: [{ destination: { host: payments } }]
    retries: { attempts: 2, retryOn: "5xx,sometimes" }
`;
    const resources = loadYaml(vs, 'bad.yaml').resources;
    expect(() => compileConfig(resources, endpoints, me)).toThrow(CompileError);
    expect(() => compileConfig(resources, endpoints, me)).toThrow(/VirtualService payments \(bad\.yaml:\d+.*spec\.http\[0\]\.retries\.retryOn: unknown retryOn token "sometimes"/);
  });

  test('garbage in snapshot.resources is refused', () => {
    expect(() => compileConfig([42], endpoints, me)).toThrow(/resource #0 is not an Istio resource/);
  });

  test('settingsKey changes only when the policy of that cluster changes', () => {
    const a = compileConfig(load(DR), endpoints, me);
    const b = compileConfig(load(DR.replace('simple: ROUND_ROBIN', 'simple: RANDOM')), endpoints, me);
    expect(a.clusters.get('outbound|80|v1|payments.default.svc.cluster.local')!.settingsKey).not.toBe(b.clusters.get('outbound|80|v1|payments.default.svc.cluster.local')!.settingsKey);
    expect(a.clusters.get('outbound|80|v2|payments.default.svc.cluster.local')!.settingsKey).toBe(b.clusters.get('outbound|80|v2|payments.default.svc.cluster.local')!.settingsKey);
  });
});
