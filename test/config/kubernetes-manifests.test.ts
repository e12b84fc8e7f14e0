import * as path from 'node:path';
import YAML from 'yaml';
import { analyze } from '../../mesh/config/analyze';
import { loadPath, loadYaml } from '../../mesh/config/load';
import { DEFAULT_TOPOLOGY, type Topology } from '../../world/topology';
import { REPO } from './helpers';

/**
 * The world as Kubernetes manifests (what `meshlab export kubernetes` writes: Namespace,
 * ServiceAccount, Service, Deployment per service and version) beside the default Istio config
 * analyzes cleanly — and the same analysis catches what the manifests contradict.
 */
function manifests(t: Topology): string {
  const ns = t.namespace ?? 'default';
  const docs: unknown[] = [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { 'istio-injection': 'enabled' } } }];
  for (const s of t.services) {
    docs.push({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: s.name, namespace: ns } });
    docs.push({ apiVersion: 'v1', kind: 'Service', metadata: { name: s.name, namespace: ns, labels: { app: s.name } }, spec: { selector: { app: s.name }, ports: [{ name: 'http', port: 80, targetPort: 8000 }] } });
    for (const [version, replicas] of Object.entries(s.versions)) {
      const labels = { app: s.name, version };
      docs.push({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: `${s.name}-${version}`, namespace: ns, labels },
        spec: { replicas, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { serviceAccountName: s.name, containers: [{ name: s.name, image: 'meshlab', ports: [{ containerPort: 8000 }] }] } } },
      });
    }
  }
  return docs.map((d) => YAML.stringify(d)).join('---\n');
}

describe('Kubernetes manifests of the world beside its Istio config', () => {
  const config = loadPath(path.join(REPO, 'config/default'));

  test('the default topology as Namespace/ServiceAccount/Service/Deployment plus config/default: no message at all', () => {
    const k8s = loadYaml(manifests(DEFAULT_TOPOLOGY), 'k8s.yaml');
    expect(k8s.messages).toEqual([]);
    expect(k8s.objects.map((o) => o.kind).filter((k, i, a) => a.indexOf(k) === i)).toEqual(['Namespace', 'ServiceAccount', 'Service', 'Deployment']);
    expect(k8s.objects.filter((o) => o.ignored)).toEqual([]);
    expect(analyze(config.resources, { objects: k8s.objects })).toEqual([]);
  });

  test('without payments v2 the v2 subset selects no pod (IST0173); without the payments Service the DestinationRule host is unknown (IST0174)', () => {
    const noV2: Topology = { ...DEFAULT_TOPOLOGY, services: DEFAULT_TOPOLOGY.services.map((s) => (s.name === 'payments' ? { ...s, versions: { v1: 2 } } : s)) };
    const a = analyze(config.resources, { objects: loadYaml(manifests(noV2), 'k8s.yaml').objects });
    expect(a.map((m) => [m.code, m.resource, m.path])).toEqual([['IST0173', 'DestinationRule default/payments', 'spec.subsets[1]']]);
    const noPayments: Topology = { ...DEFAULT_TOPOLOGY, services: DEFAULT_TOPOLOGY.services.filter((s) => s.name !== 'payments') };
    const b = analyze(config.resources, { objects: loadYaml(manifests(noPayments), 'k8s.yaml').objects });
    expect(b.map((m) => [m.code, m.resource])).toEqual([
      ['IST0101', 'VirtualService default/meshlab-ingress'], // the edge route to payments
      ['IST0127', 'AuthorizationPolicy default/payments'],
      ['IST0174', 'DestinationRule default/payments'],
    ]);
  });

  test('a namespace without sidecar injection: the AuthorizationPolicy selects no workload in the mesh (IST0127)', () => {
    const text = manifests(DEFAULT_TOPOLOGY).replace(/labels:\n {4}istio-injection: enabled\n/, '');
    const a = analyze(config.resources, { objects: loadYaml(text, 'k8s.yaml').objects });
    expect(a.map((m) => [m.code, m.level, m.message])).toEqual([['IST0127', 'Warning', 'No matching workloads for this resource with the following labels: app=payments']]);
  });
});
