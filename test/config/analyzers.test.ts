import { at, DR_PAYMENTS, lint, only, vs } from './helpers';
import type { Instance } from '../../mesh/config/types';
import { loadYaml } from '../../mesh/config/load';

function expectAt(messages: ReturnType<typeof lint>, text: string, code: string, needle: string, n = 0) {
  const m = only(messages, code);
  expect({ line: m.line, column: m.column }).toEqual(at(text, needle, n));
  return m;
}

const INSTANCES: Instance[] = [
  { service: 'payments', labels: { app: 'payments', version: 'v1' } },
  { service: 'payments', labels: { app: 'payments', version: 'v1' } },
  { service: 'payments', labels: { app: 'payments', version: 'v2' } },
  { service: 'orders', labels: { app: 'orders', version: 'v1' } },
];

describe('IST0101 ReferencedResourceNotFound', () => {
  test('route to a subset no DestinationRule defines', () => {
    const y = DR_PAYMENTS + '---\n' + vs(`  - route:
    - destination:
        host: payments.default.svc.cluster.local
        subset: v3
`);
    const m = expectAt(lint(y), y, 'IST0101', 'subset: v3');
    expect(m.level).toBe('Error');
    expect(m.path).toBe('spec.http[0].route[0].destination.subset');
    // istioctl names the host as written in the destination
    expect(m.message).toBe('Referenced host+subset in destinationrule not found: "payments.default.svc.cluster.local+v3"');
  });

  test('subset on a host without any DestinationRule, and a mirror subset', () => {
    const y = vs(`  - route:
    - destination:
        host: orders
    mirror:
      host: orders
      subset: shadow
`);
    const m = expectAt(lint(y), y, 'IST0101', 'subset: shadow');
    expect(m.path).toBe('spec.http[0].mirror.subset');
  });

  test('unknown host when the running instances are known', () => {
    const y = vs(`  - route:
    - destination:
        host: paymnts
`);
    expect(lint(y)).toEqual([]); // without instances the set of services is unknown
    const m = expectAt(lint(y, { instances: INSTANCES }), y, 'IST0101', 'host: paymnts');
    expect(m.message).toBe('Referenced host not found: "paymnts"');
  });
});

describe('IST0173 DestinationRuleSubsetNotSelectPods', () => {
  test('subset whose labels select no running instance', () => {
    const y = DR_PAYMENTS.replace('      version: v2\n', '      version: v2\n  - name: v4\n    labels:\n      version: v4\n');
    const msgs = lint(y, { instances: INSTANCES });
    const m = expectAt(msgs, y, 'IST0173', 'name: v4');
    expect(m.path).toBe('spec.subsets[2]');
    expect(m.level).toBe('Error');
    expect(m.message).toBe('The Subset v4 defined in the DestinationRule does not select any pods. Which may lead to 503 UH (NoHealthyUpstream).');
    expect(lint(y)).toEqual([]); // no instance list, no check
  });
});

describe('IST0109 ConflictingMeshGatewayVirtualServiceHosts', () => {
  test('two VirtualServices for the same host (different spellings) are both reported', () => {
    const a = vs(`  - route:
    - destination:
        host: payments
`, 'payments-a', 'payments');
    const b = vs(`  - route:
    - destination:
        host: payments
`, 'payments-b', 'payments.default.svc.cluster.local');
    const y = `${a}---\n${b}`;
    const msgs = lint(y).filter((m) => m.code === 'IST0109');
    expect(msgs.map((m) => [m.resource, m.line, m.column])).toEqual([
      ['VirtualService default/payments-a', at(y, 'payments\n  http').line, at(y, 'payments\n  http').column],
      ['VirtualService default/payments-b', at(y, 'payments.default.svc.cluster.local').line, at(y, 'payments.default.svc.cluster.local').column],
    ]);
    expect(msgs[0].message).toBe(
      'The VirtualServices default/payments-a,default/payments-b associated with mesh gateway define the same host */payments.default.svc.cluster.local which can lead to undefined behavior. This can be fixed by merging the conflicting VirtualServices into a single resource.',
    );
  });
});

describe('ML0005 ConflictingDestinationRules / ML0006 DuplicateResource / ML0007 ConflictingPeerAuthentications', () => {
  test('two DestinationRules for one host', () => {
    const y = DR_PAYMENTS + '---\n' + DR_PAYMENTS.replace('name: payments', 'name: payments-cb').replace('host: payments', 'host: payments.default');
    const msgs = lint(y).filter((m) => m.code === 'ML0005');
    expect(msgs.map((m) => [m.level, m.path, m.line, m.column])).toEqual([
      ['Error', 'spec.host', at(y, 'host: payments').line, at(y, 'host: payments').column],
      ['Error', 'spec.host', at(y, 'host: payments.default').line, at(y, 'host: payments.default').column],
    ]);
    expect(msgs[0].message).toMatch(/^The DestinationRules default\/payments,default\/payments-cb define the same host payments.default.svc.cluster.local; meshlab does not merge/);
  });

  test('the same resource twice', () => {
    const y = DR_PAYMENTS + '---\n' + DR_PAYMENTS;
    const msgs = lint(y);
    const m = expectAt(msgs, y, 'ML0006', 'name: payments', 1);
    expect(m.message).toBe('DestinationRule payments is defined more than once (first at t.yaml:1); names must be unique per kind');
    expect(msgs.filter((x) => x.code === 'ML0005')).toEqual([]); // a duplicate is not also a "conflict"
  });

  test('two namespace-wide PeerAuthentications', () => {
    const pa = (name: string, mode: string) =>
      `apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata:\n  name: ${name}\nspec:\n  mtls:\n    mode: ${mode}\n`;
    const y = pa('default', 'STRICT') + '---\n' + pa('permissive', 'PERMISSIVE');
    const msgs = lint(y).filter((m) => m.code === 'ML0007');
    expect(msgs.map((m) => [m.line, m.column])).toEqual([
      [at(y, 'name: default').line, at(y, 'name: default').column],
      [at(y, 'name: permissive').line, at(y, 'name: permissive').column],
    ]);
    expect(msgs[0].message).toMatch(/are all namespace-wide \(no selector\)/);
  });
});

describe('IST0130 VirtualServiceUnreachableRule / IST0131 VirtualServiceIneffectiveMatch', () => {
  test('rules after a catch-all rule are unreachable', () => {
    const y = DR_PAYMENTS + '---\n' + vs(`  - route:
    - destination:
        host: payments
        subset: v1
  - name: jason
    match:
    - headers:
        end-user:
          exact: jason
    route:
    - destination:
        host: payments
        subset: v2
`);
    const m = expectAt(lint(y), y, 'IST0130', 'name: jason');
    expect(m.level).toBe('Warning');
    expect(m.path).toBe('spec.http[1]');
    expect(m.message).toBe('VirtualService rule "jason" not used (route without matches defined before).');
  });

  test('a rule whose matches all repeat earlier ones is unreachable (names ignored)', () => {
    const y = DR_PAYMENTS + '---\n' + vs(`  - match:
    - name: first
      uri:
        prefix: /pay
    route:
    - destination:
        host: payments
        subset: v1
  - match:
    - name: again
      uri:
        prefix: /pay
    route:
    - destination:
        host: payments
        subset: v2
  - route:
    - destination:
        host: payments
        subset: v1
`);
    const m = expectAt(lint(y), y, 'IST0130', 'match:', 1);
    expect(m.message).toBe('VirtualService rule #1 not used (all matches used by prior rules).');
  });

  test('one duplicate match in a rule that still has a useful match', () => {
    const y = DR_PAYMENTS + '---\n' + vs(`  - match:
    - uri:
        exact: /pay
    route:
    - destination:
        host: payments
        subset: v1
  - match:
    - uri:
        exact: /refund
    - uri:
        exact: /pay
    route:
    - destination:
        host: payments
        subset: v2
`);
    const msgs = lint(y);
    const m = expectAt(msgs, y, 'IST0131', 'uri:', 2);
    expect(m.level).toBe('Info');
    expect(m.path).toBe('spec.http[1].match[1]');
    expect(m.message).toBe('VirtualService rule #1 match #1 is not used (duplicate/overlapping match in rule #0).');
    expect(msgs.filter((x) => x.code === 'IST0130')).toEqual([]);
  });
});

describe('ML0004 OutlierDetectionNeverEjects', () => {
  const withOutlier = (od: string) => DR_PAYMENTS.replace('  subsets:', `  trafficPolicy:\n    outlierDetection:\n${od}  subsets:`);

  test("Istio's default 10% never ejects in a 3-host pool (instances known)", () => {
    const y = withOutlier('      consecutive5xxErrors: 2\n');
    const msgs = lint(y, { instances: INSTANCES });
    const top = msgs.filter((m) => m.code === 'ML0004');
    // host pool of 3, plus subsets v1 (2 hosts) and v2 (1 host) inheriting the block.
    expect(top.map((m) => m.message.split(':')[0])).toEqual(['host payments', 'subset v1 (inherits the top-level outlierDetection)', 'subset v2 (inherits the top-level outlierDetection)']);
    expect(top[0].level).toBe('Warning');
    expect({ line: top[0].line, column: top[0].column }).toEqual(at(y, 'outlierDetection'));
    expect(top[0].message).toBe(
      "host payments: with 3 host(s) one ejection is 33.3% of the pool, above maxEjectionPercent 10 (Istio's default), so outlier detection never ejects; it needs at least 10 hosts. Set maxEjectionPercent to at least 34.",
    );
  });

  test('explicit maxEjectionPercent is pointed at; without instances the minimum pool size is stated', () => {
    const y = withOutlier('      maxEjectionPercent: 30\n');
    const m = expectAt(lint(y), y, 'ML0004', 'maxEjectionPercent');
    expect(m.message).toBe(
      'host payments: maxEjectionPercent 30 ejects a host only when the pool has at least 4 hosts (100*1/N must be <= 30); smaller pools never eject. Set maxEjectionPercent: 100 to allow ejecting in small pools.',
    );
  });

  test("maxEjectionPercent 0 is Envoy's default 10% (10 hosts needed); 50% is enough for 2 hosts; 100% always is", () => {
    expect(only(lint(withOutlier('      maxEjectionPercent: 0\n')), 'ML0004').message).toMatch(/maxEjectionPercent 0 \(Istio leaves it unset: Envoy's default 10%\) ejects a host only when the pool has at least 10 hosts/);
    const two: Instance[] = INSTANCES.filter((i) => i.labels.version === 'v1');
    expect(lint(withOutlier('      maxEjectionPercent: 50\n'), { instances: [...two, { service: 'payments', labels: { version: 'v2' } }, { service: 'payments', labels: { version: 'v2' } }] })).toEqual([]);
    expect(lint(withOutlier('      maxEjectionPercent: 100\n'))).toEqual([]);
  });
});

describe('load-level messages', () => {
  test('ML0001 YAML syntax error with position', () => {
    const y = 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: [oops\n';
    const m = only(lint(y), 'ML0001');
    expect(m.level).toBe('Error');
    expect(m.file).toBe('t.yaml');
    expect(m.line).toBeGreaterThanOrEqual(4);
    expect(m.message).toMatch(/^YAML syntax error: /);
  });

  test('an unknown kind is kept as an ignored object with its reason; a wrong apiVersion is ML0002 naming the resource', () => {
    const other = 'apiVersion: example.com/v1\nkind: Frobnicator\nmetadata:\n  name: f\n';
    const loaded = loadYaml(other, 't.yaml');
    expect(loaded.messages).toEqual([]);
    expect(loaded.objects.map((o) => [o.kind, o.metadata.name, o.ignored])).toEqual([['Frobnicator', 'f', 'Frobnicator plays no part in the mesh config meshlab reads']]);
    const ef = loadYaml('apiVersion: networking.istio.io/v1beta1\nkind: WorkloadEntry\nmetadata:\n  name: e\n', 't.yaml');
    expect(ef.objects[0].ignored).toMatch(/^Istio kind WorkloadEntry is not supported by meshlab/);
    const bad = DR_PAYMENTS.replace('networking.istio.io/v1', 'security.istio.io/v1');
    const m2 = only(lint(bad), 'ML0002');
    expect({ line: m2.line, column: m2.column }).toEqual(at(bad, 'apiVersion'));
    expect(m2.resource).toBe('DestinationRule default/payments');
    expect(m2.message).toMatch(/apiVersion "security.istio.io\/v1" is not valid for DestinationRule; use one of networking.istio.io\/v1alpha3, networking.istio.io\/v1beta1, networking.istio.io\/v1/);
  });
});

describe('every resource is analyzed even when it or another has schema errors', () => {
  test('a typo in one VirtualService hides neither the host conflict (IST0109) nor its missing subset (IST0101)', () => {
    const a = vs(`  - route:
    - destination:
        host: payments
        subset: v9
    timout: 1s
`, 'payments-a');
    const b = vs(`  - route:
    - destination:
        host: payments
`, 'payments-b');
    const msgs = lint(`${a}---\n${b}`);
    expect(msgs.map((m) => [m.code, m.resource]).sort()).toEqual([
      ['IST0101', 'VirtualService default/payments-a'],
      ['IST0106', 'VirtualService default/payments-a'],
      ['IST0109', 'VirtualService default/payments-a'],
      ['IST0109', 'VirtualService default/payments-b'],
    ]);
  });

  test('a spec that is not even a map is IST0106 and no analyzer trips over it', () => {
    const msgs = lint('apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: x\nspec: [1, 2]\n---\n' + DR_PAYMENTS);
    expect(msgs.map((m) => [m.code, m.message])).toEqual([['IST0106', 'spec: expected a map, got list']]);
  });
});
