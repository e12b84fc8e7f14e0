import type { IncomingMessage } from 'node:http';
import { compileMatches, compileStringMatch } from '../../mesh/route-match';
import { applyToFlat, applyToObject, compileHeaderOps, mergeHeaderOps } from '../../mesh/header-ops';
import { effectiveMatch } from '../../mesh/config/effective';
import type { HTTPMatchRequest } from '../../mesh/config/types';

const req = (url: string, headers: Record<string, string> = {}, method = 'GET') => ({ url, headers, method }) as unknown as IncomingMessage;
const m = (...blocks: HTTPMatchRequest[]) => compileMatches(blocks.map(effectiveMatch));

describe('route matching', () => {
  test('uri exact/prefix/regex; regex matches the whole path without the query', () => {
    expect(m({ uri: { exact: '/a' } })(req('/a?x=1'))).toBe(true);
    expect(m({ uri: { exact: '/a' } })(req('/ab'))).toBe(false);
    expect(m({ uri: { prefix: '/api' } })(req('/api/v1'))).toBe(true);
    expect(m({ uri: { prefix: '/api' } })(req('/ap'))).toBe(false);
    expect(m({ uri: { regex: '/orders/[0-9]+' } })(req('/orders/12?y'))).toBe(true);
    expect(m({ uri: { regex: '/orders/[0-9]+' } })(req('/orders/12/x'))).toBe(false);
    expect(m({ uri: { regex: '/orders' } })(req('/x/orders'))).toBe(false);
  });

  test('ignoreUriCase leaves a regex case-sensitive (Envoy case_sensitive does not apply to safe_regex)', () => {
    expect(m({ uri: { regex: '/login' }, ignoreUriCase: true })(req('/LOGIN'))).toBe(false);
    expect(m({ uri: { regex: '/login' }, ignoreUriCase: true })(req('/login'))).toBe(true);
  });

  test('withoutHeaders on a missing header as Istio configures Envoy (invert_match + treat_missing_header_as_empty)', () => {
    expect(m({ withoutHeaders: { x: { exact: 'foo' } } })(req('/'))).toBe(true);
    expect(m({ withoutHeaders: { x: { exact: '' } } })(req('/'))).toBe(false);
    expect(m({ withoutHeaders: { x: { regex: '.*' } } })(req('/'))).toBe(false);
    expect(m({ withoutHeaders: { x: {} } })(req('/'))).toBe(true);
    expect(m({ withoutHeaders: { x: {} } })(req('/', { x: '1' }))).toBe(false);
  });

  test('ignoreUriCase applies to exact and prefix', () => {
    expect(m({ uri: { exact: '/Login' }, ignoreUriCase: true })(req('/LOGIN'))).toBe(true);
    expect(m({ uri: { prefix: '/API' }, ignoreUriCase: true })(req('/api/x'))).toBe(true);
    expect(m({ uri: { exact: '/Login' } })(req('/login'))).toBe(false);
  });

  test('headers (exact, prefix, regex, presence {}), withoutHeaders, method, queryParams', () => {
    expect(m({ headers: { 'End-User': { exact: 'jason' } } })(req('/', { 'end-user': 'jason' }))).toBe(true);
    expect(m({ headers: { 'end-user': { exact: 'jason' } } })(req('/', { 'end-user': 'json' }))).toBe(false);
    expect(m({ headers: { 'x-canary': {} } })(req('/', { 'x-canary': '' }))).toBe(true);
    expect(m({ headers: { 'x-canary': {} } })(req('/'))).toBe(false);
    expect(m({ headers: { ua: { regex: '.*Firefox.*' } } })(req('/', { ua: 'Mozilla Firefox 1' }))).toBe(true);
    expect(m({ withoutHeaders: { 'x-test': {} } })(req('/', { 'x-test': '1' }))).toBe(false);
    expect(m({ withoutHeaders: { 'x-test': { exact: 'a' } } })(req('/', { 'x-test': 'b' }))).toBe(true);
    expect(m({ method: { exact: 'POST' } })(req('/', {}, 'POST'))).toBe(true);
    expect(m({ method: { exact: 'POST' } })(req('/'))).toBe(false);
    expect(m({ queryParams: { v: { exact: '2' } } })(req('/p?a=1&v=2'))).toBe(true);
    expect(m({ queryParams: { v: { regex: '[0-9]' } } })(req('/p?v=22'))).toBe(false);
  });

  test('conditions in a block AND; blocks OR', () => {
    const and = m({ uri: { prefix: '/a' }, headers: { x: { exact: '1' } } });
    expect(and(req('/a', { x: '1' }))).toBe(true);
    expect(and(req('/a'))).toBe(false);
    const or = m({ uri: { prefix: '/a' } }, { headers: { x: { exact: '1' } } });
    expect(or(req('/b', { x: '1' }))).toBe(true);
    expect(or(req('/a'))).toBe(true);
    expect(or(req('/b'))).toBe(false);
  });

  test('a regex RE2 lacks is refused at compile time', () => {
    expect(() => compileStringMatch({ type: 'regex', value: '(?=x)a' })).toThrow(/lookahead/);
  });
});

describe('header operations of a route and its weighted destination, in Envoy\'s order', () => {
  test('the destination level first, then the route level: the route\'s set wins, its remove removes what the destination added', () => {
    const ops = mergeHeaderOps(compileHeaderOps({ set: { 'x-a': 'route' }, remove: ['x-b'] }), compileHeaderOps({ set: { 'x-a': 'dest' }, add: { 'x-b': 'dest' } }))!;
    expect(applyToFlat(['host', 'payments', 'x-a', 'client'], ops)).toEqual(['host', 'payments', 'x-a', 'route']);
    expect(applyToObject({ 'x-a': 'upstream' }, ops)).toEqual({ 'x-a': 'route' });
  });
});
