import type { IncomingMessage } from 'node:http';
import type { EffectiveMatch, EffectiveStringMatch } from './config/effective';
import { compileRe2 } from './config/regex';
import { queryValue } from './lb/hash-key';
import { authnOf } from './filters/chain';
import { claimValues } from './security/authz';

/** Istio's JWT claim routing: a header match named `@request.auth.claims.a.b` (or `…claims[a][b]`) tests that claim. */
const CLAIM_HEADER = /^@request\.auth\.claims(\.|\[)/;

function claimPathOf(name: string): string[] {
  const rest = name.slice('@request.auth.claims'.length);
  return rest.startsWith('[') ? [...rest.matchAll(/\[([^\]]+)\]/g)].map((m) => m[1]) : rest.slice(1).split('.');
}

/** A claim test: a list claim matches when any of its values does (Envoy's metadata list match); no token, no value. */
function claimTest(name: string, t: StringTest): RequestTest {
  const path = claimPathOf(name);
  return (req) => {
    const values = claimValues(authnOf(req)?.claims, path);
    if (values.length === 0) return t(undefined);
    return values.some((v) => t(v));
  };
}

/** A compiled string condition: regexes are built once here, never per request. */
export type StringTest = (value: string | undefined) => boolean;

export function compileStringMatch(m: EffectiveStringMatch, ignoreCase = false): StringTest {
  switch (m.type) {
    case 'present':
      return (v) => v !== undefined;
    case 'exact': {
      if (ignoreCase) {
        const want = m.value.toLowerCase();
        return (v) => v !== undefined && v.toLowerCase() === want;
      }
      const want = m.value;
      return (v) => v === want;
    }
    case 'prefix': {
      if (ignoreCase) {
        const want = m.value.toLowerCase();
        return (v) => v !== undefined && v.toLowerCase().startsWith(want);
      }
      const want = m.value;
      return (v) => v !== undefined && v.startsWith(want);
    }
    case 'regex': {
      // ignoreUriCase is Envoy's case_sensitive: false, which does not apply to safe_regex: a regex keeps its case.
      const re = compileRe2(m.value);
      return (v) => v !== undefined && re.test(v);
    }
  }
}

export type RequestTest = (req: IncomingMessage) => boolean;

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

/**
 * One Istio HTTPMatchRequest compiled to a predicate: every condition must hold (AND). URI exact and
 * regex matches look at the path without its query string (Envoy's `path`/`safe_regex`), prefix at
 * the start of the path.
 */
export function compileMatch(m: EffectiveMatch): RequestTest {
  const tests: RequestTest[] = [];
  if (m.uri) {
    const t = compileStringMatch(m.uri, m.ignoreUriCase);
    tests.push((req) => {
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      return t(q < 0 ? url : url.slice(0, q));
    });
  }
  if (m.method) {
    const t = compileStringMatch(m.method);
    tests.push((req) => t(req.method));
  }
  for (const [name, sm] of Object.entries(m.headers)) {
    const t = compileStringMatch(sm);
    if (CLAIM_HEADER.test(name)) tests.push(claimTest(name, t));
    else tests.push((req) => t(headerValue(req, name)));
  }
  for (const [name, sm] of Object.entries(m.withoutHeaders)) {
    const t = compileStringMatch(sm);
    if (CLAIM_HEADER.test(name)) {
      const has = claimTest(name, t);
      tests.push((req) => !has(req));
      continue;
    }
    // Istio: invert_match, plus treat_missing_header_as_empty for every matcher but presence, so a missing header
    // is "" (and withoutHeaders {exact: ""} or {regex: ".*"} does not match a request without it).
    const missing = sm.type === 'present' ? undefined : '';
    tests.push((req) => !t(headerValue(req, name) ?? missing));
  }
  for (const [name, sm] of Object.entries(m.queryParams)) {
    const t = compileStringMatch(sm);
    tests.push((req) => t(queryValue(req.url ?? '/', name)));
  }
  if (tests.length === 0) return () => true;
  if (tests.length === 1) return tests[0];
  return (req) => {
    for (const t of tests) if (!t(req)) return false;
    return true;
  };
}

/** Several match blocks: any one matching is enough (OR). */
export function compileMatches(blocks: readonly EffectiveMatch[]): RequestTest {
  const tests = blocks.map(compileMatch);
  if (tests.length === 1) return tests[0];
  return (req) => {
    for (const t of tests) if (t(req)) return true;
    return false;
  };
}

/** Whether this sidecar's labels satisfy a match block's sourceLabels (decided at config time). */
export function sourceLabelsMatch(want: Record<string, string>, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(want)) if (labels[k] !== v) return false;
  return true;
}
