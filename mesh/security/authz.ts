/**
 * AuthorizationPolicy engine for a sidecar's inbound HTTP traffic, following Istio's evaluation order:
 *   1. any matching DENY policy → deny;  2. no ALLOW policy applies to the workload → allow;
 *   3. any matching ALLOW policy → allow;  4. otherwise deny.
 * A policy matches when any of its rules matches; a rule matches when some `from` source AND some `to` operation AND
 * every `when` condition match (an absent section matches anything). So `spec: {}` (no rules) as ALLOW allows nothing,
 * and `rules: [{}]` allows everything. CUSTOM and AUDIT actions are refused with a clear error.
 *
 * Principals are compared in Istio's form (cluster.local/ns/default/sa/orders); a `spiffe://` prefix on either side
 * is ignored. A plaintext request has no principal: `principals` never match it, `notPrincipals` always do.
 */
import { parseSpiffeId, principalOf } from './identity';
import { anyOf, Matcher, patternError } from './string-match';
import { ObjectMeta, WorkloadSelector, Workload, PolicyError, resourceName, workloadLabels, selects } from './policy-common';

export const AUTHZ_DENIED_STATUS = 403;
export const AUTHZ_DENIED_BODY = 'RBAC: access denied';

export interface AuthzSource {
  principals?: string[];
  requestPrincipals?: string[];
  notRequestPrincipals?: string[];
  notPrincipals?: string[];
  namespaces?: string[];
  notNamespaces?: string[];
}
export interface AuthzOperation {
  methods?: string[];
  notMethods?: string[];
  paths?: string[];
  notPaths?: string[];
  hosts?: string[];
  notHosts?: string[];
}
export interface AuthzCondition {
  key: string;
  values?: string[];
  notValues?: string[];
}
export interface AuthzRule {
  from?: { source: AuthzSource }[];
  to?: { operation: AuthzOperation }[];
  when?: AuthzCondition[];
}
export interface AuthorizationPolicy {
  metadata?: ObjectMeta;
  spec?: {
    selector?: WorkloadSelector;
    action?: 'ALLOW' | 'DENY' | 'CUSTOM' | 'AUDIT';
    rules?: AuthzRule[];
    provider?: unknown;
  };
}

export interface AuthzRequest {
  /** Peer SPIFFE id (with or without spiffe://) from mTLS; undefined for plaintext. */
  principal?: string;
  method: string;
  /** Request target; the query string is ignored. */
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** What JWT authentication established (RequestAuthentication), when a valid token came with the request. */
  authn?: { principal: string; claims: Record<string, unknown>; audiences: string[] };
}

export interface AuthzDecision {
  allowed: boolean;
  /** "namespace/name" of the deciding policy, when one decided. */
  policy?: string;
  /** Index of the matching rule of that policy. */
  rule?: number;
  reason: string;
}

export interface CompiledAuthorization {
  /** "namespace/name" of the policies that apply to the workload, in evaluation order. */
  readonly applied: string[];
  evaluate(req: AuthzRequest): AuthzDecision;
  /**
   * A TCP connection from `principal` (mesh/tcp/tcp-inbound.ts), as Istio reads policies for TCP: a rule with
   * HTTP-only fields (to.operation, request.headers conditions) never matches in an ALLOW policy, and matches on
   * its other fields alone in a DENY policy (a broader deny).
   */
  evaluateTcp(principal: string | undefined): AuthzDecision;
}

type Pred = (req: NormalizedRequest) => boolean;
interface NormalizedRequest {
  principal?: string;
  authn?: AuthzRequest['authn'];
  namespace?: string;
  method: string;
  path: string;
  headers: Record<string, string[]>;
}

const SOURCE_KEYS = ['principals', 'notPrincipals', 'requestPrincipals', 'notRequestPrincipals', 'namespaces', 'notNamespaces'];
const UNSUPPORTED_SOURCE_KEYS = ['ipBlocks', 'notIpBlocks', 'remoteIpBlocks', 'notRemoteIpBlocks'];
const OPERATION_KEYS = ['methods', 'notMethods', 'paths', 'notPaths', 'hosts', 'notHosts'];
const UNSUPPORTED_OPERATION_KEYS = ['ports', 'notPorts'];
const HEADER_KEY_RE = /^request\.headers\[([^\]]+)\]$/;
/** Istio's `request.auth.claims[iss]`, nested as `request.auth.claims[a][b]`. */
const CLAIM_KEY_RE = /^request\.auth\.claims(\[[^\]]+\])+$/;

function claimPath(key: string): string[] {
  return [...key.slice('request.auth.claims'.length).matchAll(/\[([^\]]+)\]/g)].map((m) => m[1]);
}

/** A claim's values as Istio's RBAC matches them: a string, or each string of a list (any may match). */
export function claimValues(claims: Record<string, unknown> | undefined, path: readonly string[]): string[] {
  let v: unknown = claims;
  for (const p of path) v = v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>)[p] : undefined;
  if (typeof v === 'string') return [v];
  if (typeof v === 'number' || typeof v === 'boolean') return [String(v)];
  if (Array.isArray(v)) return v.filter((x) => typeof x === 'string') as string[];
  return [];
}

/** Field errors of one policy (empty when valid); every message names the policy and the field path. */
export function validateAuthorizationPolicy(p: AuthorizationPolicy, defaultNs = 'default'): string[] {
  const errors: string[] = [];
  try {
    compilePolicy(p, defaultNs);
  } catch (e) {
    if (e instanceof PolicyError) errors.push(...e.message.split('\n'));
    else throw e;
  }
  return errors;
}

/**
 * Compiles the policies applying to `workload` (same namespace, or the root namespace; selector matching its labels).
 * Throws PolicyError listing every problem of the applicable policies.
 */
export function compileAuthorization(
  policies: readonly AuthorizationPolicy[],
  workload: Workload,
  opts: { rootNamespace?: string } = {},
): CompiledAuthorization {
  const ns = workload.namespace ?? 'default';
  const rootNs = opts.rootNamespace ?? 'istio-system';
  const labels = workloadLabels(workload);
  const applicable = policies.filter((p) => {
    const pns = p.metadata?.namespace ?? 'default';
    return (pns === ns || pns === rootNs) && selects(p.spec?.selector, labels);
  });
  const errors: string[] = [];
  const compiled: CompiledPolicy[] = [];
  for (const p of applicable) {
    try {
      compiled.push(compilePolicy(p, 'default'));
    } catch (e) {
      if (e instanceof PolicyError) errors.push(e.message);
      else throw e;
    }
  }
  if (errors.length) throw new PolicyError(errors.join('\n'));
  const deny = compiled.filter((c) => c.action === 'DENY');
  const allow = compiled.filter((c) => c.action === 'ALLOW');
  const decide = (n: NormalizedRequest, tcp: boolean): AuthzDecision => {
    for (const c of deny) {
      const r = c.matchingRule(n, tcp);
      if (r >= 0) return { allowed: false, policy: c.id, rule: r, reason: `denied by DENY policy ${c.id} (rules[${r}])` };
    }
    if (allow.length === 0) return { allowed: true, reason: 'allowed: no ALLOW policy applies to the workload' };
    for (const c of allow) {
      const r = c.matchingRule(n, tcp);
      if (r >= 0) return { allowed: true, policy: c.id, rule: r, reason: `allowed by ALLOW policy ${c.id} (rules[${r}])` };
    }
    return { allowed: false, reason: `denied: no ALLOW policy matched (${allow.map((c) => c.id).join(', ')})` };
  };
  return {
    applied: [...deny, ...allow].map((c) => c.id),
    evaluate: (req: AuthzRequest): AuthzDecision => decide(normalize(req), false),
    evaluateTcp: (principal: string | undefined): AuthzDecision => decide(normalize({ principal, method: '', path: '', headers: {} }), true),
  };
}

interface CompiledPolicy {
  id: string;
  action: 'ALLOW' | 'DENY';
  /** Index of the first matching rule, or -1; `tcp`: a connection, no request (see evaluateTcp). */
  matchingRule(req: NormalizedRequest, tcp?: boolean): number;
}

function compilePolicy(p: AuthorizationPolicy, defaultNs: string): CompiledPolicy {
  const name = resourceName('AuthorizationPolicy', p.metadata, defaultNs);
  const id = `${p.metadata?.namespace ?? defaultNs}/${p.metadata?.name ?? '<unnamed>'}`;
  const errors: string[] = [];
  const err = (field: string, msg: string) => errors.push(`${name}: ${field} ${msg}`);
  const spec = p.spec ?? {};
  const action = spec.action ?? 'ALLOW';
  if (action === 'CUSTOM' || action === 'AUDIT') {
    err('spec.action', `${action} is not supported by meshlab; use ALLOW or DENY`);
  } else if (action !== 'ALLOW' && action !== 'DENY') {
    err('spec.action', `is "${String(action)}"; expected ALLOW or DENY`);
  }
  if (spec.rules !== undefined && !Array.isArray(spec.rules)) err('spec.rules', 'must be a list');
  const rules = (Array.isArray(spec.rules) ? spec.rules : []).map((rule, i) => compileRule(rule, `spec.rules[${i}]`, err));
  if (errors.length) throw new PolicyError(errors.join('\n'));
  return {
    id,
    action: action as 'ALLOW' | 'DENY',
    matchingRule: (req, tcp) => rules.findIndex((r) => (!tcp ? r(req) : action === 'DENY' ? r.tcp(req) : !r.httpOnly && r.tcp(req))),
  };
}

type ErrFn = (field: string, msg: string) => void;

/** A rule's predicate, with what it means for a TCP connection: its from and non-header when clauses alone. */
type RulePred = Pred & { tcp: Pred; httpOnly: boolean };

function compileRule(rule: AuthzRule, at: string, err: ErrFn): RulePred {
  if (rule === null || typeof rule !== 'object') {
    err(at, 'must be an object with from/to/when');
    return Object.assign(() => false, { tcp: () => false, httpOnly: false });
  }
  for (const k of Object.keys(rule)) if (!['from', 'to', 'when'].includes(k)) err(`${at}.${k}`, 'is not a rule field (expected from, to, when)');
  const froms = listOf(rule.from, `${at}.from`, err).map((f, i) =>
    compileFields((f as { source?: unknown })?.source, `${at}.from[${i}].source`, SOURCE_KEYS, UNSUPPORTED_SOURCE_KEYS, sourceField, err),
  );
  const tos = listOf(rule.to, `${at}.to`, err).map((t, i) =>
    compileFields((t as { operation?: unknown })?.operation, `${at}.to[${i}].operation`, OPERATION_KEYS, UNSUPPORTED_OPERATION_KEYS, operationField, err),
  );
  const whenList = listOf(rule.when, `${at}.when`, err) as AuthzCondition[];
  const whens = whenList.map((c, i) => compileCondition(c, `${at}.when[${i}]`, err));
  const headerWhen = whenList.map((c) => typeof c?.key === 'string' && HEADER_KEY_RE.test(c.key));
  const from = (req: NormalizedRequest): boolean => froms.length === 0 || froms.some((f) => f(req));
  const pred = (req: NormalizedRequest): boolean => from(req) && (tos.length === 0 || tos.some((t) => t(req))) && whens.every((w) => w(req));
  return Object.assign(pred, {
    tcp: (req: NormalizedRequest) => from(req) && whens.every((w, i) => headerWhen[i] || w(req)),
    httpOnly: tos.length > 0 || headerWhen.some(Boolean),
  });
}

function listOf(v: unknown, at: string, err: ErrFn): unknown[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) {
    err(at, 'must be a list');
    return [];
  }
  return v;
}

/** Compiles a source/operation object: every present field must match (AND). */
function compileFields(
  obj: unknown,
  at: string,
  known: string[],
  unsupported: string[],
  field: (key: string, m: Matcher) => Pred,
  err: ErrFn,
): Pred {
  if (obj === null || typeof obj !== 'object') {
    err(at, 'is missing or not an object');
    return () => false;
  }
  const preds: Pred[] = [];
  for (const [k, v] of Object.entries(obj)) {
    if (unsupported.includes(k)) {
      err(`${at}.${k}`, `is not supported by meshlab (supported: ${known.join(', ')})`);
      continue;
    }
    if (!known.includes(k)) {
      err(`${at}.${k}`, `is not a known field (expected one of ${known.join(', ')})`);
      continue;
    }
    const lk = k.toLowerCase();
    const norm = lk.includes('host') ? (s: string) => s.toLowerCase() : lk === 'principals' || lk === 'notprincipals' ? principalOf : undefined;
    const m = compileList(v, `${at}.${k}`, err, norm);
    const positive = field(k.startsWith('not') ? k[3].toLowerCase() + k.slice(4) : k, m);
    preds.push(k.startsWith('not') ? (req) => !positive(req) : positive);
  }
  return (req) => preds.every((p) => p(req));
}

function compileList(v: unknown, at: string, err: ErrFn, norm?: (s: string) => string): Matcher {
  if (!Array.isArray(v) || v.length === 0) {
    err(at, 'must be a non-empty list of strings');
    return () => false;
  }
  v.forEach((p, i) => {
    const e = patternError(p);
    if (e) err(`${at}[${i}]`, e);
  });
  return anyOf(v.filter((p) => typeof p === 'string') as string[], norm);
}

function sourceField(key: string, m: Matcher): Pred {
  if (key === 'principals') return (req) => m(req.principal);
  // Istio: `iss/sub` of the request's validated JWT; a request without one has none (`*` needs a token).
  if (key === 'requestPrincipals') return (req) => m(req.authn?.principal);
  return (req) => m(req.namespace);
}

function operationField(key: string, m: Matcher): Pred {
  switch (key) {
    case 'methods':
      return (req) => m(req.method);
    case 'paths':
      return (req) => m(req.path);
    default: {
      // hosts: the Host/:authority header, compared with and without its port.
      return (req) => (req.headers['host'] ?? req.headers[':authority'] ?? []).some((h) => m(h) || m(h.replace(/:\d+$/, '')));
    }
  }
}

function compileCondition(c: AuthzCondition, at: string, err: ErrFn): Pred {
  if (!c || typeof c.key !== 'string') {
    err(`${at}.key`, 'is required (e.g. request.headers[x-user])');
    return () => false;
  }
  let get: (req: NormalizedRequest) => string[];
  const h = HEADER_KEY_RE.exec(c.key);
  if (h) {
    const header = h[1].toLowerCase();
    get = (req) => req.headers[header] ?? [];
  } else if (c.key === 'source.principal') {
    get = (req) => (req.principal ? [req.principal] : []);
  } else if (c.key === 'source.namespace') {
    get = (req) => (req.namespace ? [req.namespace] : []);
  } else if (c.key === 'request.auth.principal') {
    get = (req) => (req.authn ? [req.authn.principal] : []);
  } else if (c.key === 'request.auth.audiences') {
    get = (req) => req.authn?.audiences ?? [];
  } else if (CLAIM_KEY_RE.test(c.key)) {
    const path = claimPath(c.key);
    get = (req) => claimValues(req.authn?.claims, path);
  } else {
    err(`${at}.key`, `"${c.key}" is not supported (supported: request.headers[<name>], source.principal, source.namespace, request.auth.principal, request.auth.audiences, request.auth.claims[<claim>])`);
    return () => false;
  }
  if (c.values === undefined && c.notValues === undefined) {
    err(at, 'needs values or notValues');
    return () => false;
  }
  const norm = c.key === 'source.principal' ? principalOf : undefined;
  const values = c.values === undefined ? undefined : compileList(c.values, `${at}.values`, err, norm);
  const notValues = c.notValues === undefined ? undefined : compileList(c.notValues, `${at}.notValues`, err, norm);
  return (req) => {
    const actual = get(req);
    if (values && !actual.some((a) => values(a))) return false;
    if (notValues && actual.some((a) => notValues(a))) return false;
    return true;
  };
}

function normalize(req: AuthzRequest): NormalizedRequest {
  const headers: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined) continue;
    const key = k.toLowerCase();
    headers[key] = [...(headers[key] ?? []), ...(Array.isArray(v) ? v : [v])];
  }
  const principal = req.principal ? principalOf(req.principal) : undefined;
  const q = req.path.search(/[?#]/);
  return {
    principal,
    authn: req.authn,
    namespace: principal ? parseSpiffeId(principal)?.namespace : undefined,
    method: req.method,
    path: q >= 0 ? req.path.slice(0, q) : req.path,
    headers,
  };
}
