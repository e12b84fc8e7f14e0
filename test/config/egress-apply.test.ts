import { ConfigService } from '../../mesh/control-plane/config-service';
import { runtimeView } from '../../mesh/config/runtime-view';

/**
 * ServiceEntry and Sidecar run now (mesh/egress/): apply takes what the sidecars run and refuses, by field,
 * what they do not (ML0003), never silently ignoring a field Istio would act on.
 */

const SE = (extra = '', ports = '[{ number: 80, name: http, protocol: HTTP, targetPort: 9443 }]') => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: mail }
spec:
  hosts: [api.mail.example]
  location: MESH_EXTERNAL
  ports: ${ports}
  resolution: STATIC
  endpoints: [{ address: 127.0.0.1 }]
${extra}`;

const SIDECAR = (extra = '') => `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: default, namespace: istio-system }
spec:
  egress: [{ hosts: ["./*", "istio-system/*"] }]
  outboundTrafficPolicy: { mode: REGISTRY_ONLY }
${extra}`;

const DR = (host: string) => `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: tls-${host.replace(/\./g, '-')} }
spec:
  host: ${host}
  trafficPolicy: { tls: { mode: SIMPLE, caCertificates: /tmp/ca.pem } }
`;

function apply(text: string) {
  const svc = new ConfigService(undefined, () => ({}));
  return { svc, out: svc.apply([{ name: 'egress.yaml', text }]) };
}

describe('apply: ServiceEntry, Sidecar and TLS origination', () => {
  test('a ServiceEntry, a mesh-wide Sidecar and a SIMPLE DestinationRule to the entry\'s host are applied (3 created) and reach the sidecars', () => {
    const { svc, out } = apply(`${SE()}---\n${SIDECAR()}---\n${DR('api.mail.example')}`);
    expect(out.messages.filter((m) => m.level === 'Error')).toEqual([]);
    expect(out.ok).toBe(true);
    expect(out.results.map((r) => [r.kind, r.action])).toEqual([['ServiceEntry', 'created'], ['Sidecar', 'created'], ['DestinationRule', 'created']]);
    expect(runtimeView(svc.list()).map((r) => r.kind).sort()).toEqual(['DestinationRule', 'ServiceEntry', 'Sidecar']);
  });

  test('a Sidecar of a namespace with no workload of the world, and a ServiceEntry exported only there, are stored with the reason they reach no sidecar', () => {
    const { out } = apply(`${SE('  exportTo: [shop]\n')}---\n${SIDECAR().replace('namespace: istio-system', 'namespace: shop')}`);
    expect(out.ok).toBe(true);
    expect(out.results.map((r) => [r.kind, r.reason?.slice(0, 7)])).toEqual([['ServiceEntry', 'stored;'], ['Sidecar', 'stored;']]);
  });

  test.each<[string, string, string]>([
    ['a wildcard host', SE().replace('hosts: [api.mail.example]', 'hosts: ["*.mail.example"]'), 'spec.hosts[0]'],
    ['addresses (VIPs)', SE('  addresses: [240.0.0.1]\n'), 'spec.addresses'],
    ['resolution NONE', SE().replace('resolution: STATIC', 'resolution: NONE').replace('  endpoints: [{ address: 127.0.0.1 }]\n', ''), 'spec.resolution'],
    ['a TCP port', SE('', '[{ number: 5672, name: amqp, protocol: TCP }]'), 'spec.ports[0].protocol'],
    ['MESH_INTERNAL', SE().replace('MESH_EXTERNAL', 'MESH_INTERNAL'), 'spec.location'],
    ['workloadSelector', SE().replace('  endpoints: [{ address: 127.0.0.1 }]\n', '  workloadSelector: { labels: { app: x } }\n'), 'spec.workloadSelector'],
    ['Sidecar ingress', SIDECAR('  ingress: [{ port: { number: 9080, protocol: HTTP, name: http }, defaultEndpoint: "127.0.0.1:8080" }]\n'), 'spec.ingress'],
    ['Sidecar egress port', SIDECAR().replace('egress: [{ hosts', 'egress: [{ port: { number: 80, protocol: HTTP, name: http }, hosts'), 'spec.egress[0].port'],
    ['Sidecar egressProxy', SIDECAR().replace('{ mode: REGISTRY_ONLY }', '{ mode: ALLOW_ANY, egressProxy: { host: egress.example, port: { number: 80 } } }'), 'spec.outboundTrafficPolicy.egressProxy'],
    ['TLS origination to a mesh service', DR('payments'), 'spec.trafficPolicy.tls.mode'],
    ['portLevelSettings for a mesh service (one port in the lab)', DR('payments').replace('trafficPolicy: { tls: { mode: SIMPLE, caCertificates: /tmp/ca.pem } }', 'trafficPolicy: { portLevelSettings: [{ port: { number: 80 }, connectionPool: { tcp: { maxConnections: 1 } } }] }'), 'spec.trafficPolicy.portLevelSettings'],
  ])('%s is refused with ML0003 naming the field, and nothing is applied', (_name, text, path) => {
    const { svc, out } = apply(text);
    expect(out.ok).toBe(false);
    const m = out.messages.filter((x) => x.code === 'ML0003');
    expect(m.map((x) => x.path)).toContain(path);
    expect(m.find((x) => x.path === path)?.message).toMatch(/not supported by meshlab/);
    expect(svc.list()).toEqual([]);
  });
});
