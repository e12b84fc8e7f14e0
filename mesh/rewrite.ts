/**
 * Istio's HTTPRewrite as Envoy runs it (pilot/pkg/networking/core/route/route.go, applyHTTPRouteDestination):
 * `uri` becomes the route's prefix_rewrite, `uriRegexRewrite` its regex_rewrite, `authority` host_rewrite_literal.
 * Envoy's prefix_rewrite replaces the part of the path the route matched: the prefix of a prefix match, the whole
 * path of an exact (path) or regex match, and "/" when the rule has no uri match (Istio's default match is
 * prefix "/", so `/a` rewritten with uri `/b` becomes `/ba`). regex_rewrite substitutes every match in the path.
 * Both keep the query string. Applied after the route match, before the first attempt: retries and the mirror
 * send the rewritten request; the original :path travels in x-envoy-original-path (Istio does not suppress
 * Envoy's headers), which Istio's access log shows as %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%.
 */
import type { IncomingMessage } from 'node:http';
import type { HTTPRewrite } from './config/types';
import type { EffectiveMatch } from './config/effective';
import { compileRe2 } from './config/regex';
import { compileMatch, type RequestTest } from './route-match';

export const ORIGINAL_PATH_HEADER = 'x-envoy-original-path';

export interface RouteRewrite {
  /** The upstream :path for this request (query kept), or undefined: no path rewrite. */
  path?: (req: IncomingMessage, url: string) => string;
  /** host_rewrite_literal: the upstream Host. */
  authority?: string;
}

/** How much of the path a match block matched: a prefix's length, or the whole path (exact, regex). */
type MatchedLength = (pathOnly: string) => number;

function matchedLength(block: EffectiveMatch | undefined): MatchedLength {
  const uri = block?.uri;
  if (!uri) return () => 1; // Istio's default match: prefix "/"
  if (uri.type === 'prefix') {
    const n = uri.value.length;
    return () => n;
  }
  return (p) => p.length;
}

/** A prefix_rewrite: each match block is its own Envoy route, so the first block that matches says what is replaced. */
function prefixRewrite(uri: string, blocks: readonly EffectiveMatch[]): RouteRewrite['path'] {
  const apply = (len: MatchedLength, url: string): string => {
    const q = url.indexOf('?');
    return uri + url.slice(len(q < 0 ? url : url.slice(0, q)));
  };
  if (blocks.length <= 1) {
    const len = matchedLength(blocks[0]);
    return (_req, url) => apply(len, url);
  }
  const each: Array<{ test: RequestTest; len: MatchedLength }> = blocks.map((b) => ({ test: compileMatch(b), len: matchedLength(b) }));
  return (req, url) => apply((each.find((e) => e.test(req)) ?? each[0]).len, url);
}

/** RE2's rewrite string (\0-\9 groups, \\ a backslash) as the parts of a replacement. */
function substitution(rewrite: string): Array<string | number> {
  const parts: Array<string | number> = [];
  let lit = '';
  for (let i = 0; i < rewrite.length; i++) {
    const c = rewrite[i];
    const next = rewrite[i + 1];
    if (c === '\\' && next !== undefined && /[0-9]/.test(next)) {
      if (lit) parts.push(lit);
      lit = '';
      parts.push(Number(next));
      i++;
    } else if (c === '\\' && next === '\\') {
      lit += '\\';
      i++;
    } else lit += c;
  }
  if (lit) parts.push(lit);
  return parts;
}

/** A regex_rewrite: every match in the path (query excluded) replaced by the substitution. */
function regexRewrite(match: string, rewrite: string): RouteRewrite['path'] {
  const re = compileRe2(match, 'global');
  const groups = (new RegExp(`${re.source}|`).exec('')?.length ?? 1) - 1;
  // A group the pattern does not have, or one that did not take part in the match, gives "".
  const parts = substitution(rewrite).map((p) => (typeof p === 'number' && p > groups ? '' : p));
  const replacer = (...args: unknown[]): string => parts.map((p) => (typeof p === 'string' ? p : String(args[p] ?? ''))).join('');
  return (_req, url) => {
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    return path.replace(re, replacer) + (q < 0 ? '' : url.slice(q));
  };
}

/** Compiles a rule's rewrite against the match blocks this proxy kept for it; undefined when nothing is rewritten. */
export function compileRewrite(rw: HTTPRewrite | undefined, blocks: readonly EffectiveMatch[]): RouteRewrite | undefined {
  if (!rw) return undefined;
  const out: RouteRewrite = {};
  if (rw.uriRegexRewrite?.match) out.path = regexRewrite(rw.uriRegexRewrite.match, rw.uriRegexRewrite.rewrite);
  else if (rw.uri) out.path = prefixRewrite(rw.uri, blocks);
  if (rw.authority) out.authority = rw.authority;
  return out.path || out.authority ? out : undefined;
}

/**
 * Envoy's finalizeRequestHeaders for a rewrite: the new :path (req.url, which every attempt and the mirror send)
 * with the original kept in x-envoy-original-path, and the new Host. The flat upstream list is returned edited;
 * StreamInfo keeps the original path for the access log, and takes the new authority as %REQ(:AUTHORITY)% does.
 */
export function applyRewrite(rw: RouteRewrite, req: IncomingMessage, headers: string[], info: { authority: string; originalPath: string }): string[] {
  const drop = (name: string): string[] => {
    const out: string[] = [];
    for (let i = 0; i < headers.length; i += 2) if (headers[i] !== name) out.push(headers[i], headers[i + 1]);
    return out;
  };
  if (rw.path) {
    const original = req.url ?? '/';
    req.url = rw.path(req, original);
    info.originalPath = original;
    headers = drop(ORIGINAL_PATH_HEADER);
    headers.push(ORIGINAL_PATH_HEADER, original);
  }
  if (rw.authority !== undefined) {
    headers = drop('host');
    headers.push('host', rw.authority);
    info.authority = rw.authority;
  }
  return headers;
}
