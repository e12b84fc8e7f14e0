import { at, DR_PAYMENTS, lint, only, vs } from './helpers';

/** Asserts one message with `code` at the text of `needle` (n-th occurrence), and returns it. */
function expectAt(text: string, code: string, needle: string, n = 0) {
  const m = only(lint(text), code);
  expect({ line: m.line, column: m.column }).toEqual(at(text, needle, n));
  expect(m.file).toBe('t.yaml');
  return m;
}

const route = (extra = '', dest = '') => `  - route:
    - destination:
        host: payments
        subset: v1${dest}
${extra}`;

describe('schema validation (IST0106 SchemaValidationError)', () => {
  test('unknown field names the path and the allowed fields', () => {
    const y = vs(route('    timout: 1s\n'));
    const m = expectAt(y, 'IST0106', 'timout');
    expect(m.path).toBe('spec.http[0].timout');
    expect(m.level).toBe('Error');
    expect(m.resource).toBe('VirtualService default/payments');
    expect(m.message).toMatch(/unknown field "timout" at spec.http\[0\].timout \(allowed here: name, match, route, timeout,/);
  });

  test('wrong type: weight as a string', () => {
    const y = vs(`  - route:
    - destination:
        host: payments
        subset: v1
      weight: "90"
    - destination:
        host: payments
        subset: v2
      weight: 10
`);
    const m = expectAt(y, 'IST0106', 'weight: "90"');
    expect(m.path).toBe('spec.http[0].route[0].weight');
    expect(m.message).toBe('spec.http[0].route[0].weight: expected an integer, got string "90"');
  });

  test('negative weight', () => {
    const y = vs(`  - route:
    - destination:
        host: payments
        subset: v1
      weight: 110
    - destination:
        host: payments
        subset: v2
      weight: -10
`);
    const m = expectAt(y, 'IST0106', 'weight: -10');
    expect(m.path).toBe('spec.http[0].route[1].weight');
    expect(m.message).toBe('spec.http[0].route[1].weight must be >= 0, got -10');
  });

  test('total weight 0 with several destinations', () => {
    const y = vs(`  - route:
    - destination:
        host: payments
        subset: v1
      weight: 0
    - destination:
        host: payments
        subset: v2
`);
    const m = expectAt(y, 'IST0106', 'route:');
    expect(m.path).toBe('spec.http[0].route');
    expect(m.message).toMatch(/total destination weight = 0 with 2 destinations/);
  });

  test("a rule needs route, redirect or direct_response (Istio's rule); redirect alone is ML0003, not IST0106", () => {
    const none = vs('  - timeout: 1s\n');
    const m = expectAt(none, 'IST0106', 'timeout: 1s');
    expect(m.message).toBe('spec.http[0]: HTTP route, redirect or direct_response is required');
    const redirect = lint(vs('  - redirect:\n      uri: /v2\n'));
    expect(redirect.map((x) => [x.code, x.path])).toEqual([['ML0003', 'spec.http[0].redirect']]);
  });

  test('bad retryOn token', () => {
    const y = vs(route('    retries:\n      attempts: 3\n      retryOn: 5xx,connect-failur\n'));
    const m = expectAt(y, 'IST0106', 'retryOn');
    expect(m.message).toMatch(/unknown retryOn condition "connect-failur"; valid: 5xx, gateway-error, reset, connect-failure/);
  });

  test('valid retryOn with status codes passes; a code outside 100-599 does not', () => {
    expect(lint(DR_PAYMENTS + '---\n' + vs(route('    retries:\n      attempts: 2\n      retryOn: gateway-error,503,retriable-4xx,envoy-ratelimited\n')))).toEqual([]);
    const y = vs(route('    retries:\n      attempts: 2\n      retryOn: "5xx,700"\n'));
    expect(expectAt(y, 'IST0106', 'retryOn').message).toMatch(/retry status code 700 is outside 100-599/);
  });

  test('fault percentage outside 0-100', () => {
    const y = vs(route('    fault:\n      delay:\n        fixedDelay: 2s\n        percentage:\n          value: 150\n'));
    const m = expectAt(y, 'IST0106', 'value: 150');
    expect(m.path).toBe('spec.http[0].fault.delay.percentage.value');
    expect(m.message).toBe('spec.http[0].fault.delay.percentage.value must be <= 100, got 150');
  });

  test('httpStatus outside 200-599', () => {
    const y = vs(route('    fault:\n      abort:\n        httpStatus: 600\n'));
    const m = expectAt(y, 'IST0106', 'httpStatus');
    expect(m.message).toBe('spec.http[0].fault.abort.httpStatus must be <= 599, got 600');
    const low = vs(route('    fault:\n      abort:\n        httpStatus: 199\n'));
    expect(expectAt(low, 'IST0106', 'httpStatus').message).toMatch(/must be >= 200, got 199/);
  });

  test('bad duration names the grammar', () => {
    const y = vs(route('    timeout: 10\n'));
    const m = expectAt(y, 'IST0106', 'timeout');
    expect(m.message).toMatch(/spec.http\[0\].timeout: expected a duration string like "1s", got number 10/);
    const y2 = vs(route('    timeout: 1sec\n'));
    expect(expectAt(y2, 'IST0106', 'timeout').message).toMatch(/invalid duration "1sec"/);
  });

  test('sub-millisecond durations are rejected where Istio requires ms precision', () => {
    const y = vs(route('    retries:\n      attempts: 1\n      perTryTimeout: 1500us\n'));
    expect(expectAt(y, 'IST0106', 'perTryTimeout').message).toMatch(/sub-millisecond precision/);
  });

  test('regex with features RE2 lacks', () => {
    const y = vs(`  - match:
    - uri:
        regex: "/api/(?!internal).*"
    route:
    - destination:
        host: payments
`);
    const m = expectAt(y, 'IST0106', 'regex');
    expect(m.path).toBe('spec.http[0].match[0].uri.regex');
    expect(m.message).toMatch(/is not valid RE2: negative lookahead/);
  });

  test('StringMatch with two kinds set', () => {
    const y = vs(`  - match:
    - uri:
        exact: /pay
        prefix: /p
    route:
    - destination:
        host: payments
`);
    expect(expectAt(y, 'IST0106', 'uri:').message).toMatch(/only one of exact, prefix, regex may be set \(found exact, prefix\)/);
  });

  test('header presence {} is allowed, empty uri match is not', () => {
    const ok = vs(`  - match:
    - headers:
        x-canary: {}
    route:
    - destination:
        host: payments
`);
    expect(lint(ok)).toEqual([]);
    const bad = vs(`  - match:
    - uri: {}
    route:
    - destination:
        host: payments
`);
    expect(expectAt(bad, 'IST0106', 'uri').message).toMatch(/one of exact, prefix, regex is required/);
  });

  test('DENY AuthorizationPolicy without rules', () => {
    const y = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: deny-nothing
spec:
  selector:
    matchLabels:
      app: payments
  action: DENY
`;
    const m = expectAt(y, 'IST0106', 'spec:');
    expect(m.message).toMatch(/a DENY policy without rules matches no request and denies nothing/);
  });

  test('any namespace is accepted; one that is not a DNS label is IST0106', () => {
    const y = DR_PAYMENTS.replace('  name: payments\n', '  name: payments\n  namespace: shop\n');
    expect(lint(y).filter((m) => m.level === 'Error')).toEqual([]);
    const bad = DR_PAYMENTS.replace('  name: payments\n', '  name: payments\n  namespace: Shop_1\n');
    const m = expectAt(bad, 'IST0106', 'namespace');
    expect(m.message).toMatch(/metadata.namespace "Shop_1" must be a DNS label/);
    expect(m.resource).toBe('DestinationRule Shop_1/payments');
  });

  test('missing metadata.name and missing required fields', () => {
    const y = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  labels:
    app: x
spec:
  subsets:
  - labels:
      version: v1
`;
    const msgs = lint(y).filter((m) => m.code === 'IST0106');
    expect(msgs.map((m) => [m.message, m.line, m.column])).toEqual([
      ['metadata.name is required', at(y, 'metadata').line, at(y, 'metadata').column],
      ['spec.host is required', at(y, 'spec').line, at(y, 'spec').column],
      ['spec.subsets[0].name is required', at(y, 'labels', 1).line, at(y, 'labels', 1).column],
    ]);
  });

  test('duplicate subset names and outlier percent bounds in a DestinationRule', () => {
    const y = `apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata:
  name: payments
spec:
  host: payments
  trafficPolicy:
    outlierDetection:
      maxEjectionPercent: 101
  subsets:
  - name: v1
  - name: v1
`;
    const msgs = lint(y).filter((m) => m.code === 'IST0106');
    expect(msgs.map((m) => [m.path, m.line, m.column])).toEqual([
      ['spec.trafficPolicy.outlierDetection.maxEjectionPercent', at(y, 'maxEjectionPercent').line, at(y, 'maxEjectionPercent').column],
      ['spec.subsets[1].name', at(y, 'name: v1', 1).line, at(y, 'name: v1', 1).column],
    ]);
  });
});

describe('unsupported Istio fields are rejected by path (ML0003)', () => {
  test.each<[string, string, string, string]>([
    ['tcp match sourceSubnet', vs(route()) + '  tcp:\n  - match:\n    - sourceSubnet: 10.0.0.0/8\n    route:\n    - destination: {host: payments}\n', 'sourceSubnet', 'spec.tcp[0].match[0].sourceSubnet'],
    ['tls match gateways', vs(route()) + '  tls:\n  - match:\n    - sniHosts: [a.example.com]\n      gateways: [gw]\n    route:\n    - destination: {host: payments}\n', 'gateways: [gw]', 'spec.tls[0].match[0].gateways'],
    ['tcpKeepalive probes', DR_PAYMENTS.replace('  subsets:', '  trafficPolicy:\n    connectionPool:\n      tcp:\n        tcpKeepalive:\n          time: 30s\n          probes: 3\n  subsets:'), 'probes', 'spec.trafficPolicy.connectionPool.tcp.tcpKeepalive.probes'],
    ['DR workloadSelector', DR_PAYMENTS.replace('  subsets:', '  workloadSelector:\n    matchLabels:\n      app: orders\n  subsets:'), 'workloadSelector', 'spec.workloadSelector'],
    ['VirtualService without hosts (a delegate)', vs(route()).replace('  hosts:\n  - payments\n', ''), 'spec:', 'spec.hosts'],
    ['HTTPRoute redirect', vs(route('    redirect:\n      uri: /x\n')), 'redirect', 'spec.http[0].redirect'],
    ['match authority', vs(`  - match:\n    - authority:\n        exact: x\n    route:\n    - destination:\n        host: payments\n`), 'authority', 'spec.http[0].match[0].authority'],
    ['abort grpcStatus', vs(route('    fault:\n      abort:\n        httpStatus: 503\n        grpcStatus: UNAVAILABLE\n')), 'grpcStatus', 'spec.http[0].fault.abort.grpcStatus'],
    ['match per gateway', vs(route()).replace('  http:\n  - ', '  http:\n  - match:\n    - gateways: [mesh]\n    '), 'gateways', 'spec.http[0].match[0].gateways'],
    ['wildcard host', vs(route(), 'payments', '"*.example.com"'), '"*.example.com"', 'spec.hosts[0]'],
    ['LB PASSTHROUGH', DR_PAYMENTS.replace('  subsets:', '  trafficPolicy:\n    loadBalancer:\n      simple: PASSTHROUGH\n  subsets:'), 'simple', 'spec.trafficPolicy.loadBalancer.simple'],
    ['TLS credentialName (Secrets)', DR_PAYMENTS.replace('  subsets:', '  trafficPolicy:\n    tls:\n      mode: SIMPLE\n      credentialName: mail-ca\n  subsets:'), 'credentialName', 'spec.trafficPolicy.tls.credentialName'],
    ['AuthorizationPolicy CUSTOM', `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: ext\nspec:\n  action: CUSTOM\n  rules:\n  - {}\n`, 'action', 'spec.action'],
    ['AuthorizationPolicy ipBlocks', `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: ip\nspec:\n  rules:\n  - from:\n    - source:\n        ipBlocks: ["10.0.0.0/8"]\n`, 'ipBlocks', 'spec.rules[0].from[0].source.ipBlocks'],
    ['when key', `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: jwt\nspec:\n  rules:\n  - when:\n    - key: request.auth.presenter\n      values: ["x"]\n`, 'key:', 'spec.rules[0].when[0].key'],
  ])('%s', (_name, y, needle, path) => {
    const m = expectAt(y, 'ML0003', needle);
    expect(m.path).toBe(path);
    expect(m.level).toBe('Error');
    expect(m.message).toMatch(/not supported by meshlab/);
  });
});

describe('deprecated forms are accepted with a warning (IST0133)', () => {
  test('LEAST_CONN, consecutiveErrors, fault percent', () => {
    const dr = DR_PAYMENTS.replace(
      '  subsets:',
      '  trafficPolicy:\n    loadBalancer:\n      simple: LEAST_CONN\n    outlierDetection:\n      consecutiveErrors: 3\n      maxEjectionPercent: 100\n  subsets:',
    );
    const msgs = lint(dr);
    expect(msgs.map((m) => [m.code, m.level, m.path])).toEqual([
      ['IST0133', 'Warning', 'spec.trafficPolicy.loadBalancer.simple'],
      ['IST0133', 'Warning', 'spec.trafficPolicy.outlierDetection.consecutiveErrors'],
    ]);
    const v = vs(route('    fault:\n      delay:\n        fixedDelay: 1s\n        percent: 50\n'));
    const msgs2 = lint(DR_PAYMENTS + '---\n' + v);
    expect(msgs2.filter((x) => x.code === 'IST0133')).toEqual([]);
    const m = only(msgs2, 'IST0002'); // istioctl's deprecation.FieldAnalyzer
    expect(m.level).toBe('Warning');
    expect(m.message).toBe('Deprecated: HTTPRoute.fault.delay.percent is deprecated; use HTTPRoute.fault.delay.percentage');
  });
});

describe('AuthorizationPolicy condition keys: Istio rejects an unknown key (IST0106)', () => {
  test('request.path is not an Istio key (paths go in to.operation)', () => {
    const y = `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: p\nspec:\n  rules:\n  - when:\n    - key: request.path\n      values: ["/x"]\n`;
    const m = only(lint(y), 'IST0106');
    expect(m.path).toBe('spec.rules[0].when[0].key');
    expect(m.message).toMatch(/^spec.rules\[0\].when\[0\].key: unknown attribute: request.path/);
  });
});

describe("Gateway: Istio's ValidateGateway rules", () => {
  const gw = (servers: string) => `apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata:\n  name: edge\nspec:\n  selector:\n    istio: ingressgateway\n  servers:${servers}`;
  test('no server, a server without hosts, duplicate port names: IST0106 each; a valid Gateway: none', () => {
    expect(lint(gw(' []\n')).map((m) => [m.code, m.message])).toEqual([['IST0106', 'spec.servers: gateway must have at least one server']]);
    const dup = gw('\n  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: ["a.example.com"]\n  - port: {number: 8080, name: http, protocol: HTTP}\n    hosts: []\n');
    expect(lint(dup).map((m) => [m.code, m.path])).toEqual([
      ['IST0106', 'spec.servers[1].port'],
      ['IST0106', 'spec.servers[1].hosts'],
    ]);
    expect(lint(gw('\n  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: ["*"]\n'))).toEqual([]);
  });
});

describe("HTTPRewrite: Istio's validateHTTPRewrite, validateURIRegexRewrite and validateAuthorityRewrite (IST0106 at the field)", () => {
  test('uri, uriRegexRewrite and authority each load without a message', () => {
    for (const rw of ['uri: /v2', 'authority: pay.internal.test', 'uriRegexRewrite: {match: "^/a/(.*)$", rewrite: "/\\\\1"}']) {
      const y = vs(route(`    rewrite: {${rw}}\n`));
      expect(lint(y).filter((m) => m.code === 'IST0106' || m.code === 'ML0003')).toEqual([]);
    }
  });

  test('uri and uriRegexRewrite together are refused at uriRegexRewrite', () => {
    const y = vs(route('    rewrite:\n      uri: /v2\n      uriRegexRewrite: {match: "^/a$", rewrite: /b}\n'));
    const m = expectAt(y, 'IST0106', 'uriRegexRewrite');
    expect(m.path).toBe('spec.http[0].rewrite.uriRegexRewrite');
    expect(m.message).toBe('spec.http[0].rewrite: rewrite may only contain one of URI or UriRegexRewrite');
  });

  test('an empty rewrite (uri "" is unset, as in proto3) is refused: one of URI, UriRegexRewrite or authority is required', () => {
    const y = vs(route('    rewrite: {uri: ""}\n'));
    const m = expectAt(y, 'IST0106', 'rewrite');
    expect(m.path).toBe('spec.http[0].rewrite');
    expect(m.message).toMatch(/^spec.http\[0\].rewrite: rewrite must specify at least one of URI, UriRegexRewrite, or authority/);
  });

  test('uriRegexRewrite needs both match and rewrite; its match must be valid RE2', () => {
    const y = vs(route('    rewrite:\n      uriRegexRewrite: {match: "^/a$"}\n'));
    const m = expectAt(y, 'IST0106', 'uriRegexRewrite');
    expect(m.message).toBe('spec.http[0].rewrite.uriRegexRewrite: UriRegexRewrite requires both Rewrite and Match fields to be specified');
    const bad = vs(route('    rewrite:\n      uriRegexRewrite: {match: "(?=x)", rewrite: /b}\n'));
    const m2 = only(lint(bad), 'IST0106');
    expect(m2.path).toBe('spec.http[0].rewrite.uriRegexRewrite.match');
    expect(m2.message).toMatch(/not valid RE2: lookahead/);
  });

  test('rewrite.authority plus a request header set of Host is refused at the header: the authority is set in one place', () => {
    const y = vs(route('    rewrite: {authority: a.test}\n    headers:\n      request:\n        set: {Host: b.test}\n'));
    const m = expectAt(y, 'IST0106', 'Host');
    expect(m.path).toBe('spec.http[0].headers.request.set.Host');
    expect(m.message).toBe('spec.http[0].headers.request.set.Host: authority header cannot be set multiple times: have "a.test", attempting to set "b.test"');
  });

  test('an unknown HTTPRewrite field is refused naming it', () => {
    const y = vs(route('    rewrite: {uri: /v2, scheme: https}\n'));
    const m = expectAt(y, 'IST0106', 'scheme');
    expect(m.path).toBe('spec.http[0].rewrite.scheme');
  });
});
