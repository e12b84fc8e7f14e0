/**
 * VirtualService rules that can never match, as Istio's validation warns (analyzeUnreachable*Rules
 * in pkg/config/validation): a rule after a rule without matches, or whose every match repeats an
 * earlier one (IST0130), a single match repeating an earlier one, and (HTTP) a prefix match covered
 * by an earlier, shorter prefix with the same other conditions (IST0131). For http, tcp and tls.
 * Matches are compared by value, ignoring their `name`.
 */
import { Codes, type Message } from '../messages';
import { messageAt } from '../schema/validate';
import type { MeshResource } from '../types';
import type { Analyzer } from './types';
import { asArray, objOf } from './util';

/** Canonical text of a match (keys sorted, name and false/empty values dropped, as proto JSON omits them). */
function matchKey(m: unknown): string {
  const norm = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(norm);
    if (v && typeof v === 'object') {
      const o: Record<string, unknown> = {};
      for (const k of Object.keys(v).sort()) {
        const x = (v as Record<string, unknown>)[k];
        if (x === false || x === null || x === undefined || x === '' || x === 0) continue;
        o[k] = norm(x);
      }
      return o;
    }
    return v;
  };
  const { name: _name, ...rest } = objOf(m);
  return JSON.stringify(norm(rest));
}

const stringMatchText = (v: unknown): string => {
  const o = objOf(v);
  if (typeof o.exact === 'string' && o.exact) return `exact:${o.exact}`;
  if (typeof o.prefix === 'string' && o.prefix) return `prefix:${o.prefix}`;
  return '';
};

interface PrefixMatch {
  route: string;
  match: string;
  prefix: string;
  port: unknown;
  method: string;
  authority: string;
  headers: Record<string, string>;
  query: Record<string, string>;
  without: Record<string, string>;
  path: string;
}

function prefixMatch(m: Record<string, unknown>, route: string, match: string, path: string): PrefixMatch | undefined {
  const prefix = objOf(m.uri).prefix;
  if (typeof prefix !== 'string' || prefix === '') return undefined;
  const mapOf = (v: unknown): Record<string, string> => Object.fromEntries(Object.entries(objOf(v)).map(([k, x]) => [k, stringMatchText(x)]));
  return {
    route,
    match,
    prefix,
    port: m.port ?? 0,
    method: stringMatchText(m.method) || 'exact:GET',
    authority: stringMatchText(m.authority),
    headers: mapOf(m.headers),
    query: mapOf(m.queryParams),
    without: mapOf(m.withoutHeaders),
    path,
  };
}

function mapsCovered(a: Record<string, string>, b: Record<string, string>): boolean {
  if (Object.keys(a).length !== Object.keys(b).length) return false;
  return Object.entries(a).every(([k, v]) => k in b && (v === b[k] || v.startsWith(b[k])));
}

/** Istio's coveredValidation: does earlier match a cover later match b? */
function covered(a: PrefixMatch, b: PrefixMatch): boolean {
  if (!b.prefix.startsWith(a.prefix)) return false;
  if (b.port !== a.port) return false;
  if (a.method !== b.method && !a.method.startsWith(b.method)) return false;
  if (a.authority !== b.authority && !a.authority.startsWith(b.authority)) return false;
  return mapsCovered(a.headers, b.headers) && mapsCovered(a.query, b.query) && mapsCovered(a.without, b.without);
}

function analyzeRules(vs: MeshResource, section: 'http' | 'tcp' | 'tls', out: Message[]): void {
  const routes = asArray(objOf(vs.spec)[section]);
  const routeName = (r: unknown, i: number): string => {
    const n = objOf(r).name;
    return section === 'http' && typeof n === 'string' && n !== '' ? JSON.stringify(n) : `#${i}`;
  };
  const requestName = (m: unknown, i: number): string => {
    const n = objOf(m).name;
    return section === 'http' && typeof n === 'string' && n !== '' ? JSON.stringify(n) : `#${i}`;
  };
  const unused = (i: number, reason: string): void => {
    out.push(messageAt(vs, Codes.VirtualServiceUnreachableRule, `spec.${section}[${i}]`, `VirtualService rule ${routeName(routes[i], i)} not used (${reason}).`));
  };
  const ineffective = (path: string, rule: string, match: string, dup: string): void => {
    out.push(messageAt(vs, Codes.VirtualServiceIneffectiveMatch, path, `VirtualService rule ${rule} match ${match} is not used (duplicate/overlapping match in rule ${dup}).`));
  };
  const seen = new Map<string, number>();
  let empty = -1;
  const prefixes: PrefixMatch[] = [];
  routes.forEach((route, i) => {
    if (!route || typeof route !== 'object') return;
    const matches = asArray(objOf(route).match);
    if (matches.length === 0) {
      if (empty >= 0) unused(i, 'only the last rule can have no matches');
      empty = i;
      return;
    }
    let dups = 0;
    matches.forEach((m, k) => {
      if (empty >= 0) {
        unused(i, 'route without matches defined before');
        return;
      }
      const key = matchKey(m);
      const d = seen.get(key);
      if (d !== undefined) {
        ineffective(`spec.${section}[${i}].match[${k}]`, routeName(route, i), requestName(m, k), routeName(routes[d], d));
        dups++;
        return;
      }
      seen.set(key, i);
      if (section === 'http') {
        const p = prefixMatch(objOf(m), routeName(route, i), requestName(m, k), `spec.http[${i}].match[${k}]`);
        if (p) prefixes.push(p);
      }
    });
    if (dups === matches.length) unused(i, 'all matches used by prior rules');
  });
  for (let a = 0; a < prefixes.length; a++) {
    for (let b = a + 1; b < prefixes.length; b++) {
      const A = prefixes[a];
      const B = prefixes[b];
      if (A.prefix === B.prefix) continue;
      if (covered(A, B)) ineffective(B.path, B.route, `${B.match} of prefix ${B.prefix}`, `${A.match} of prefix ${A.prefix} on ${A.route}`);
    }
  }
}

export const unreachableRules: Analyzer = (resources) => {
  const out: Message[] = [];
  for (const r of resources) {
    if (r.kind !== 'VirtualService') continue;
    for (const section of ['http', 'tcp', 'tls'] as const) analyzeRules(r, section, out);
  }
  return out;
};
