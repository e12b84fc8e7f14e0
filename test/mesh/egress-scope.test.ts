import { loadYaml } from '../../mesh/config/load';
import { sidecarScope } from '../../mesh/egress/sidecar-scope';
import { originalAddress, parseHostsFile, splitAuthority } from '../../mesh/egress/outbound-policy';
import { destinationRuleForPort, externalServices } from '../../mesh/egress/service-entry';
import type { DestinationRule } from '../../mesh/config/types';

/** Istio's SidecarScope precedence and egress host matching, ServiceEntry endpoints and ports, as pure functions. */

const sidecar = (name: string, ns: string, body: string) => `---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: ${name}, namespace: ${ns} }
spec:
${body}`;

const load = (text: string) => loadYaml(text, 'scope.yaml').resources;

describe('Sidecar scope (pilot/pkg/model/sidecar.go precedence)', () => {
  const resources = load(
    sidecar('mesh', 'istio-system', '  outboundTrafficPolicy: { mode: REGISTRY_ONLY }\n') +
      sidecar('ns-default', 'shop', '  egress: [{ hosts: ["./*"] }]\n') +
      sidecar('orders-only', 'shop', '  workloadSelector: { labels: { app: orders } }\n  egress: [{ hosts: ["*/api.mail.example", "istio-system/*"] }]\n  outboundTrafficPolicy: { mode: ALLOW_ANY }\n'),
  );

  test('the selecting Sidecar wins in its namespace, then the namespace default, then istio-system\'s: 3 workloads, 3 scopes', () => {
    const orders = sidecarScope(resources, 'shop', { app: 'orders' });
    const payments = sidecarScope(resources, 'shop', { app: 'payments' });
    const elsewhere = sidecarScope(resources, 'default', { app: 'notifications' });
    expect([orders.sidecar, payments.sidecar, elsewhere.sidecar]).toEqual(['shop/orders-only', 'shop/ns-default', 'istio-system/mesh']);
    expect([orders.outboundMode, payments.outboundMode, elsewhere.outboundMode]).toEqual(['ALLOW_ANY', 'ALLOW_ANY', 'REGISTRY_ONLY']);
  });

  test('egress hosts: `*/api.mail.example` matches that host in any namespace; `./*` only the workload\'s own namespace; no egress = everything', () => {
    const orders = sidecarScope(resources, 'shop', { app: 'orders' });
    expect([orders.visible('default', 'api.mail.example'), orders.visible('default', 'payments.default.svc.cluster.local'), orders.visible('istio-system', 'x.istio-system.svc.cluster.local')]).toEqual([true, false, true]);
    const payments = sidecarScope(resources, 'shop', { app: 'payments' });
    expect([payments.visible('shop', 'orders.shop.svc.cluster.local'), payments.visible('default', 'payments.default.svc.cluster.local')]).toEqual([true, false]);
    expect(sidecarScope(resources, 'default', {}).visible('anywhere', 'anything.example')).toBe(true);
  });

  test('`~/*` sees nothing; `*.example.com` matches subdomains only', () => {
    const r = load(sidecar('narrow', 'default', '  egress: [{ hosts: ["~/*", "*/*.example.com"] }]\n'));
    const s = sidecarScope(r, 'default', {});
    expect([s.visible('default', 'payments.default.svc.cluster.local'), s.visible('default', 'api.example.com'), s.visible('default', 'example.com')]).toEqual([false, true, false]);
  });
});

describe('PassthroughCluster\'s original destination (an address the app could dial without DNS) and the Host\'s port', () => {
  const hosts = parseHostsFile('127.0.0.1 localhost\n::1 localhost ip6-localhost # comment\n10.0.0.7 db.internal db\n');
  test.each<[string, string | undefined]>([
    ['127.0.0.1', '127.0.0.1'],
    ['::1', '::1'],
    ['localhost', '127.0.0.1'],
    ['ip6-localhost', '::1'],
    ['db', '10.0.0.7'],
    ['api.mail.example', undefined],
    ['payments', undefined],
  ])('%s → %s', (name, want) => {
    expect(originalAddress(name, hosts)).toBe(want);
  });

  test('Host ports: none, 8443, IPv6 with a port', () => {
    expect([splitAuthority('api.mail.example'), splitAuthority('API.mail.example:8443'), splitAuthority('[::1]:9000')]).toEqual([
      { name: 'api.mail.example', port: undefined },
      { name: 'api.mail.example', port: 8443 },
      { name: '::1', port: 9000 },
    ]);
  });
});

describe('ServiceEntry endpoints and portLevelSettings', () => {
  const se = load(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: mail, namespace: ops }
spec:
  hosts: [api.mail.example]
  ports: [{ number: 80, name: http, protocol: HTTP, targetPort: 8080 }, { number: 9443, name: tls, protocol: HTTP }]
  resolution: DNS
  endpoints: [{ address: a.mail.example, ports: { tls: 1443 }, locality: region-1/zone-b }, { address: b.mail.example }]
`);

  test('per port: the endpoint\'s named port, else targetPort, else the number; routing keys host and host:9443; locality labels; the entry\'s namespace', () => {
    const ext = externalServices(se, 'default');
    expect([...ext.keys()]).toEqual(['api.mail.example', 'api.mail.example:9443']);
    expect(ext.get('api.mail.example')!.endpoints.map((e) => `${e.host}:${e.port}`)).toEqual(['a.mail.example:8080', 'b.mail.example:8080']);
    expect(ext.get('api.mail.example:9443')!.endpoints.map((e) => `${e.host}:${e.port}`)).toEqual(['a.mail.example:1443', 'b.mail.example:9443']);
    expect(ext.get('api.mail.example')!.endpoints[0].labels).toEqual({ 'topology.kubernetes.io/region': 'region-1', 'topology.kubernetes.io/zone': 'zone-b' });
    expect(ext.get('api.mail.example')!.namespace).toBe('ops');
  });

  test('portLevelSettings: port 9443\'s tls replaces the top level\'s for that port only; its connectionPool stays', () => {
    const dr = load(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: mail }
spec:
  host: api.mail.example
  trafficPolicy:
    connectionPool: { tcp: { maxConnections: 7 } }
    tls: { mode: DISABLE }
    portLevelSettings:
    - port: { number: 9443 }
      tls: { mode: SIMPLE, sni: mail }
`)[0] as unknown as DestinationRule;
    expect(destinationRuleForPort(dr, 80)!.spec.trafficPolicy).toEqual({ connectionPool: { tcp: { maxConnections: 7 } }, tls: { mode: 'DISABLE' } });
    expect(destinationRuleForPort(dr, 9443)!.spec.trafficPolicy).toEqual({ connectionPool: { tcp: { maxConnections: 7 } }, tls: { mode: 'SIMPLE', sni: 'mail' } });
  });
});
