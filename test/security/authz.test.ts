import { compileAuthorization, validateAuthorizationPolicy, AuthorizationPolicy, AuthzRequest, AUTHZ_DENIED_BODY, AUTHZ_DENIED_STATUS } from '../../mesh/security/authz';
import { PolicyError } from '../../mesh/security/policy-common';

const PAYMENTS = { service: 'payments', labels: { app: 'payments', version: 'v1' } };
const ORDERS_ID = 'spiffe://cluster.local/ns/default/sa/orders';
const NOTIF_ID = 'spiffe://cluster.local/ns/default/sa/notifications';

function pol(name: string, spec: AuthorizationPolicy['spec'], namespace = 'default'): AuthorizationPolicy {
  return { metadata: { name, namespace }, spec };
}
function req(over: Partial<AuthzRequest> = {}): AuthzRequest {
  return { principal: ORDERS_ID, method: 'GET', path: '/charge', headers: {}, ...over };
}
function decide(policies: AuthorizationPolicy[], r: Partial<AuthzRequest> = {}) {
  return compileAuthorization(policies, PAYMENTS).evaluate(req(r));
}

test('denied response constants match Envoy RBAC', () => {
  expect([AUTHZ_DENIED_STATUS, AUTHZ_DENIED_BODY]).toEqual([403, 'RBAC: access denied']);
});

describe('evaluation order', () => {
  test('no policies → allow', () => {
    expect(decide([])).toEqual({ allowed: true, reason: 'allowed: no ALLOW policy applies to the workload' });
  });
  test('spec: {} is allow-nothing; rules: [{}] is allow-all', () => {
    expect(decide([pol('nothing', {})])).toEqual({ allowed: false, reason: 'denied: no ALLOW policy matched (default/nothing)' });
    expect(decide([pol('all', { rules: [{}] })])).toEqual({ allowed: true, policy: 'default/all', rule: 0, reason: 'allowed by ALLOW policy default/all (rules[0])' });
    expect(decide([pol('nothing', {}), pol('all', { rules: [{}] })]).allowed).toBe(true);
  });
  test('DENY wins over a matching ALLOW; a non-matching DENY does not deny', () => {
    const allowAll = pol('all', { action: 'ALLOW', rules: [{}] });
    const denyPost = pol('no-post', { action: 'DENY', rules: [{ to: [{ operation: { methods: ['POST'] } }] }] });
    expect(decide([allowAll, denyPost], { method: 'POST' })).toEqual({
      allowed: false,
      policy: 'default/no-post',
      rule: 0,
      reason: 'denied by DENY policy default/no-post (rules[0])',
    });
    expect(decide([allowAll, denyPost], { method: 'GET' }).allowed).toBe(true);
    // DENY alone: no ALLOW policy → everything not denied is allowed.
    expect(decide([denyPost], { method: 'GET' }).allowed).toBe(true);
    // DENY with no rules never matches.
    expect(decide([pol('empty-deny', { action: 'DENY' })]).allowed).toBe(true);
  });
  test('ALLOW that does not match → deny', () => {
    const onlyNotif = pol('only-notif', { rules: [{ from: [{ source: { principals: ['cluster.local/ns/default/sa/notifications'] } }] }] });
    expect(decide([onlyNotif]).allowed).toBe(false);
    expect(decide([onlyNotif], { principal: NOTIF_ID }).allowed).toBe(true);
  });
});

describe('matching', () => {
  const allowTo = (operation: object) => [pol('p', { rules: [{ to: [{ operation }] }] })];
  test.each([
    [{ paths: ['/charge'] }, '/charge', true],
    [{ paths: ['/charge'] }, '/charge/1', false],
    [{ paths: ['/charge'] }, '/charge?x=1', true], // query ignored
    [{ paths: ['/api/*'] }, '/api/v1/x', true],
    [{ paths: ['/api/*'] }, '/apix', false],
    [{ paths: ['*/health'] }, '/svc/health', true],
    [{ paths: ['*/health'] }, '/svc/healthz', false],
    [{ paths: ['*'] }, '/anything', true],
    [{ notPaths: ['/admin*'] }, '/admin/users', false],
    [{ notPaths: ['/admin*'] }, '/charge', true],
    [{ paths: ['/api/*'], notPaths: ['/api/private'] }, '/api/private', false],
    [{ paths: ['/api/*'], notPaths: ['/api/private'] }, '/api/public', true],
  ])('operation %j on path %s → %s', (operation, path, allowed) => {
    expect(decide(allowTo(operation), { path }).allowed).toBe(allowed);
  });
  test.each([
    [{ methods: ['GET', 'HEAD'] }, 'GET', true],
    [{ methods: ['GET', 'HEAD'] }, 'POST', false],
    [{ notMethods: ['DELETE'] }, 'DELETE', false],
    [{ notMethods: ['DELETE'] }, 'PUT', true],
  ])('operation %j method %s → %s', (operation, method, allowed) => {
    expect(decide(allowTo(operation), { method }).allowed).toBe(allowed);
  });
  test('from: principals (either form, wildcards), notPrincipals, namespaces; plaintext has no principal', () => {
    const from = (source: object) => [pol('p', { rules: [{ from: [{ source }] }] })];
    expect(decide(from({ principals: ['cluster.local/ns/default/sa/orders'] })).allowed).toBe(true);
    expect(decide(from({ principals: [ORDERS_ID] })).allowed).toBe(true);
    expect(decide(from({ principals: ['cluster.local/ns/default/sa/*'] }), { principal: NOTIF_ID }).allowed).toBe(true);
    expect(decide(from({ principals: ['*/sa/orders'] }), { principal: NOTIF_ID }).allowed).toBe(false);
    expect(decide(from({ principals: ['*'] }), { principal: undefined }).allowed).toBe(false);
    expect(decide(from({ principals: ['*'] })).allowed).toBe(true);
    expect(decide(from({ notPrincipals: ['cluster.local/ns/default/sa/orders'] })).allowed).toBe(false);
    expect(decide(from({ notPrincipals: ['cluster.local/ns/default/sa/orders'] }), { principal: NOTIF_ID }).allowed).toBe(true);
    expect(decide(from({ namespaces: ['default'] })).allowed).toBe(true);
    expect(decide(from({ namespaces: ['shop'] })).allowed).toBe(false);
    // Istio's "deny plaintext" idiom: DENY notPrincipals ["*"].
    const denyPlain = [pol('no-plain', { action: 'DENY', rules: [{ from: [{ source: { notPrincipals: ['*'] } }] }] })];
    expect(decide(denyPlain, { principal: undefined }).allowed).toBe(false);
    expect(decide(denyPlain).allowed).toBe(true);
  });
  test('when request.headers[...] values / notValues (case-insensitive name, array values, wildcards)', () => {
    const when = (cond: object) => [pol('p', { rules: [{ when: [{ key: 'request.headers[X-User]', ...cond }] }] })];
    expect(decide(when({ values: ['alice'] }), { headers: { 'x-user': 'alice' } }).allowed).toBe(true);
    expect(decide(when({ values: ['alice'] }), { headers: { 'x-user': 'bob' } }).allowed).toBe(false);
    expect(decide(when({ values: ['alice'] }), { headers: {} }).allowed).toBe(false);
    expect(decide(when({ values: ['al*'] }), { headers: { 'X-USER': ['bob', 'alfred'] } }).allowed).toBe(true);
    expect(decide(when({ values: ['*'] }), { headers: { 'x-user': 'x' } }).allowed).toBe(true);
    expect(decide(when({ notValues: ['mallory'] }), { headers: { 'x-user': 'mallory' } }).allowed).toBe(false);
    expect(decide(when({ notValues: ['mallory'] }), { headers: { 'x-user': 'alice' } }).allowed).toBe(true);
  });
  test('a rule ANDs from, to and when; lists inside OR', () => {
    const p = [
      pol('p', {
        rules: [
          {
            from: [{ source: { principals: ['cluster.local/ns/default/sa/orders'] } }, { source: { namespaces: ['shop'] } }],
            to: [{ operation: { methods: ['POST'], paths: ['/charge'] } }, { operation: { methods: ['GET'], paths: ['/status'] } }],
            when: [{ key: 'request.headers[x-tenant]', values: ['acme'] }],
          },
        ],
      }),
    ];
    const h = { 'x-tenant': 'acme' };
    expect(decide(p, { method: 'POST', path: '/charge', headers: h }).allowed).toBe(true);
    expect(decide(p, { method: 'GET', path: '/status', headers: h }).allowed).toBe(true);
    expect(decide(p, { method: 'GET', path: '/charge', headers: h }).allowed).toBe(false);
    expect(decide(p, { method: 'POST', path: '/charge', headers: {} }).allowed).toBe(false);
    expect(decide(p, { method: 'POST', path: '/charge', headers: h, principal: NOTIF_ID }).allowed).toBe(false);
    expect(decide(p, { method: 'POST', path: '/charge', headers: h, principal: 'spiffe://cluster.local/ns/shop/sa/x' }).allowed).toBe(true);
  });
});

describe('scope', () => {
  test('selector, namespace and root-namespace policies', () => {
    const other = pol('other-app', { selector: { matchLabels: { app: 'orders' } } });
    const otherNs = pol('other-ns', {}, 'shop');
    const meshDeny = pol('mesh-deny-delete', { action: 'DENY', rules: [{ to: [{ operation: { methods: ['DELETE'] } }] }] }, 'istio-system');
    const mine = pol('v1-only', { selector: { matchLabels: { app: 'payments', version: 'v1' } }, rules: [{}] });
    const c = compileAuthorization([other, otherNs, meshDeny, mine], PAYMENTS);
    expect(c.applied).toEqual(['istio-system/mesh-deny-delete', 'default/v1-only']);
    expect(c.evaluate(req({ method: 'DELETE' })).allowed).toBe(false);
    expect(c.evaluate(req()).allowed).toBe(true);
    // Labels default to {app: service}.
    expect(compileAuthorization([other], { service: 'orders' }).evaluate(req()).allowed).toBe(false);
  });
});

describe('validation errors name the policy and field', () => {
  test('CUSTOM is a clear unsupported error', () => {
    expect(() => compileAuthorization([pol('ext', { action: 'CUSTOM', provider: { name: 'x' } })], PAYMENTS)).toThrow(
      new PolicyError('AuthorizationPolicy default/ext: spec.action CUSTOM is not supported by meshlab; use ALLOW or DENY'),
    );
  });
  test('bad wildcard, unknown field, unsupported key, typo in rule', () => {
    expect(validateAuthorizationPolicy(pol('w', { rules: [{ to: [{ operation: { paths: ['/a*b'] } }] }] }))).toEqual([
      'AuthorizationPolicy default/w: spec.rules[0].to[0].operation.paths[0] "/a*b": "*" is allowed only alone, as a prefix ("*abc") or as a suffix ("abc*")',
    ]);
    expect(validateAuthorizationPolicy(pol('f', { rules: [{ from: [{ source: { ipBlocks: ['1.2.3.4'] } as never }] }] }))[0]).toBe(
      'AuthorizationPolicy default/f: spec.rules[0].from[0].source.ipBlocks is not supported by meshlab (supported: principals, notPrincipals, requestPrincipals, notRequestPrincipals, namespaces, notNamespaces)',
    );
    expect(validateAuthorizationPolicy(pol('k', { rules: [{ when: [{ key: 'request.auth.presenter', values: ['x'] }] }] }))[0]).toMatch(
      /spec\.rules\[0\]\.when\[0\]\.key "request\.auth\.presenter" is not supported/,
    );
    expect(validateAuthorizationPolicy(pol('t', { rules: [{ form: [] } as never] }))).toEqual([
      'AuthorizationPolicy default/t: spec.rules[0].form is not a rule field (expected from, to, when)',
    ]);
    expect(validateAuthorizationPolicy(pol('ok', { action: 'DENY', rules: [{ to: [{ operation: { paths: ['*/x'] } }] }] }))).toEqual([]);
  });
  test('policies not applying to the workload do not break it', () => {
    const bad = pol('bad', { selector: { matchLabels: { app: 'orders' } }, action: 'CUSTOM' });
    expect(compileAuthorization([bad], PAYMENTS).evaluate(req()).allowed).toBe(true);
  });
});
