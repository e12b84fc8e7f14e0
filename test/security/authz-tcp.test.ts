import { compileAuthorization, type AuthorizationPolicy } from '../../mesh/security/authz';

/**
 * AuthorizationPolicy for TCP connections (mesh/tcp/tcp-inbound.ts), as Istio's authz-tcp task shows it:
 * HTTP-only fields make an ALLOW rule match nothing, and are dropped from a DENY rule (a broader deny).
 */
const DB = { service: 'db', labels: { app: 'db' } };
const ORDERS = 'spiffe://cluster.local/ns/default/sa/orders';
const NOTIF = 'spiffe://cluster.local/ns/default/sa/notifications';
const policy = (name: string, action: 'ALLOW' | 'DENY', rules: unknown[]): AuthorizationPolicy => ({ metadata: { name, namespace: 'default' }, spec: { action, rules } as AuthorizationPolicy['spec'] });

test('ALLOW by principal: orders\' connection allowed, notifications\' and a plaintext one denied', () => {
  const c = compileAuthorization([policy('orders-only', 'ALLOW', [{ from: [{ source: { principals: ['cluster.local/ns/default/sa/orders'] } }] }])], DB);
  expect([c.evaluateTcp(ORDERS).allowed, c.evaluateTcp(NOTIF).allowed, c.evaluateTcp(undefined).allowed]).toEqual([true, false, false]);
});

test('an ALLOW rule with methods (HTTP-only) matches no TCP connection: orders is denied over TCP, allowed for an HTTP GET', () => {
  const c = compileAuthorization([policy('get-only', 'ALLOW', [{ from: [{ source: { principals: ['cluster.local/ns/default/sa/orders'] } }], to: [{ operation: { methods: ['GET'] } }] }])], DB);
  expect(c.evaluateTcp(ORDERS)).toMatchObject({ allowed: false, reason: expect.stringContaining('no ALLOW policy matched') });
  expect(c.evaluate({ principal: ORDERS, method: 'GET', path: '/', headers: {} }).allowed).toBe(true);
});

test('a DENY rule with paths (HTTP-only) denies every TCP connection of its source: notifications denied over TCP, allowed over HTTP on another path', () => {
  const c = compileAuthorization([policy('no-admin', 'DENY', [{ from: [{ source: { principals: ['cluster.local/ns/default/sa/notifications'] } }], to: [{ operation: { paths: ['/admin'] } }], when: [{ key: 'request.headers[x-debug]', values: ['1'] }] }])], DB);
  expect(c.evaluateTcp(NOTIF)).toMatchObject({ allowed: false, policy: 'default/no-admin', rule: 0 });
  expect(c.evaluateTcp(ORDERS).allowed).toBe(true);
  expect(c.evaluate({ principal: NOTIF, method: 'GET', path: '/x', headers: {} }).allowed).toBe(true);
});
