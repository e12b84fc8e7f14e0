import { ConfigService } from '../../mesh/control-plane/config-service';
import type { MeshResource } from '../../mesh/config/types';
import { loadYaml } from '../../mesh/config/load';
import { analyze } from '../../mesh/config/analyze';

const K8S = `apiVersion: v1
kind: Namespace
metadata:
  name: default
  labels:
    istio-injection: enabled
---
apiVersion: v1
kind: Service
metadata:
  name: payments
spec:
  selector:
    app: payments
  ports:
  - name: http
    port: 80
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: payments-v1
spec:
  selector:
    matchLabels: {app: payments, version: v1}
  template:
    metadata:
      labels: {app: payments, version: v1}
    spec:
      containers:
      - name: payments
        image: meshlab
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
`;

const DR = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: payments
spec:
  host: payments
  subsets:
  - name: v1
    labels:
      version: v1
`;

function service(): { svc: ConfigService; pushed: MeshResource[][] } {
  const svc = new ConfigService(undefined, () => ({}));
  const pushed: MeshResource[][] = [];
  svc.store.onChange((_v, rs) => pushed.push([...rs]));
  return { svc, pushed };
}

describe('apply says per object what it did', () => {
  test('Istio resources are applied; Namespace, Service, Deployment are used as topology; a ConfigMap is ignored with the reason', () => {
    const { svc } = service();
    const out = svc.apply([{ name: 'all.yaml', text: `${K8S}---\n${DR}` }]);
    expect(out.ok).toBe(true);
    expect(out.results.map((r) => [r.kind, r.name, r.action])).toEqual([
      ['DestinationRule', 'payments', 'created'],
      ['Namespace', 'default', 'used as topology'],
      ['Service', 'payments', 'used as topology'],
      ['Deployment', 'payments-v1', 'used as topology'],
      ['ConfigMap', 'settings', 'ignored'],
    ]);
    expect(out.results[4].reason).toBe('ConfigMap plays no part in the mesh config meshlab reads');
    expect(svc.list().map((r) => r.kind)).toEqual(['DestinationRule']);
  });

  test('apply reports what analyze -f reports against the Deployments in its files: a subset v2 selecting no pod (IST0173), 1 message, and still applies', () => {
    const { svc } = service();
    const text = `${K8S}---\n${DR}  - name: v2\n    labels:\n      version: v2\n`;
    const out = svc.apply([{ name: 'all.yaml', text }]);
    const loaded = loadYaml(text, 'all.yaml');
    const offline = analyze(loaded.resources, { objects: loaded.objects }).filter((m) => m.code === 'IST0173');
    expect(offline).toHaveLength(1);
    expect(out.ok).toBe(true);
    expect(out.messages.filter((m) => m.code === 'IST0173').map((m) => [m.resource, m.path, m.line, m.message])).toEqual(offline.map((m) => [m.resource, m.path, m.line, m.message]));
    expect(svc.list().map((r) => r.kind)).toEqual(['DestinationRule']);
  });

  test('a file of Kubernetes objects only is accepted and changes nothing', () => {
    const { svc, pushed } = service();
    const out = svc.apply([{ name: 'k8s.yaml', text: K8S }]);
    expect([out.ok, out.version, pushed.length, out.results.length]).toEqual([true, 0, 0, 4]);
  });

  test('a ServiceEntry with a TLS port is refused naming the field (ML0003: the sidecar routes HTTP to external hosts), and nothing is applied; a Gateway is applied (the ingress gateway runs it)', () => {
    const { svc } = service();
    const se = `apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata:\n  name: ext\nspec:\n  hosts: [api.example.com]\n  ports:\n  - {number: 443, name: https, protocol: TLS}\n  resolution: DNS\n`;
    const out = svc.apply([{ name: 'se.yaml', text: `${se}---\n${DR}` }]);
    expect(out.ok).toBe(false);
    const m = out.messages.filter((x) => x.code === 'ML0003');
    expect(m.map((x) => [x.resource, x.line, x.path])).toEqual([['ServiceEntry default/ext', 8, 'spec.ports[0].protocol']]);
    expect(m[0].message).toMatch(/protocol TLS is not supported by meshlab for a ServiceEntry/);
    expect(svc.list()).toEqual([]);
    const gw = `apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata:\n  name: edge\nspec:\n  selector:\n    istio: ingressgateway\n  servers:\n  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: ["*"]\n`;
    expect(svc.apply([{ name: 'gw.yaml', text: gw }]).ok).toBe(true);
    expect(svc.list().map((r) => r.kind)).toEqual(['Gateway']);
  });
});

describe('namespaces: the sidecars of "default" get what applies to them', () => {
  const vsIn = (ns: string, extra = '') => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: payments
  namespace: ${ns}
spec:
${extra}  hosts:
  - payments
  http:
  - route:
    - destination:
        host: payments
`;

  test('a VirtualService in "shop" for short host payments is about payments.shop, not ours; exportTo "." keeps it out of "default"', () => {
    const { svc, pushed } = service();
    expect(svc.apply([{ name: 'a.yaml', text: `${vsIn('shop')}---\n${vsIn('team', '  exportTo: ["."]\n')}---\n${vsIn('default')}` }]).ok).toBe(true);
    const last = pushed[pushed.length - 1];
    expect(last.map((r) => [r.metadata.namespace, (r.spec as { hosts: string[] }).hosts[0]])).toEqual([
      ['shop', 'payments.shop.svc.cluster.local'],
      ['default', 'payments'],
    ]);
    expect(svc.list().map((r) => r.metadata.namespace).sort()).toEqual(['default', 'shop', 'team']);
    const again = svc.apply([{ name: 'b.yaml', text: vsIn('team', '  exportTo: ["."]\n').replace('name: payments', 'name: ledger').replace(/host(s?):(\s+-?\s*)payments/g, 'host$1:$2ledger') }]);
    expect(again.results.map((r) => [r.namespace, r.action, r.reason])).toEqual([
      ['team', 'created', 'stored; not exported to namespace default, where the running world\'s workloads are (exportTo ["."])'],
    ]);
  });
});

describe('delete -f with Kubernetes objects in the files', () => {
  test('deletes the Istio resources and reports each Kubernetes object as left alone', () => {
    const { svc } = service();
    expect(svc.apply([{ name: 'all.yaml', text: `${K8S}---\n${DR}` }]).ok).toBe(true);
    const out = svc.delete([{ name: 'all.yaml', text: `${K8S}---\n${DR}` }], undefined);
    expect(out.ok).toBe(true);
    expect(out.results.map((r) => [r.kind, r.action])).toEqual([
      ['DestinationRule', 'deleted'],
      ['Namespace', 'ignored'],
      ['Service', 'ignored'],
      ['Deployment', 'ignored'],
      ['ConfigMap', 'ignored'],
    ]);
    expect(svc.list()).toEqual([]);
  });
});

describe("analyze of the running world (what `meshlab analyze` without files shows)", () => {
  const instances = (versions: string[]) => [
    { service: 'orders', labels: { app: 'orders', version: 'v1' } },
    { service: 'notifications', labels: { app: 'notifications', version: 'v1' } },
    ...versions.map((version) => ({ service: 'payments', labels: { app: 'payments', version } })),
  ];

  test('the default config against the default world: no message; with payments v2 stopped: IST0173 on subset v2', () => {
    let running = instances(['v1', 'v1', 'v2']);
    const svc = new ConfigService(undefined, () => ({ instances: running }));
    svc.init(`${__dirname}/../../../config/default`);
    expect(svc.analyze()).toEqual([]);
    running = instances(['v1', 'v1']);
    expect(svc.analyze().map((m) => [m.code, m.resource, m.path])).toEqual([['IST0173', 'DestinationRule default/payments', 'spec.subsets[1]']]);
  });
});
