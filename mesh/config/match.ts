/**
 * Request matching with Istio's semantics, for the sidecar: the first http rule whose matches
 * accept the request wins (a rule without matches accepts everything), then a destination is
 * drawn by relative weight.
 */
import { compileRe2 } from './regex';
import type { EffectiveDestination, EffectiveMatch, EffectiveRoute, EffectiveStringMatch } from './effective';

export interface RequestFacts {
  /** Path without the query string. */
  path: string;
  method: string;
  /** Header names lower-case; repeated headers joined with ", " or given as arrays. */
  headers: Record<string, string | string[] | undefined>;
  query?: URLSearchParams;
  /** Labels of the calling workload (the client sidecar's own labels). */
  sourceLabels?: Record<string, string>;
  /** Namespace of the calling workload (the client sidecar's own); "default" when absent. */
  sourceNamespace?: string;
}

const regexCache = new Map<string, RegExp>();

function regex(pattern: string): RegExp {
  let re = regexCache.get(pattern);
  if (!re) {
    re = compileRe2(pattern);
    regexCache.set(pattern, re);
  }
  return re;
}

/** Does `value` satisfy the StringMatch? `undefined` means "absent" (only fails or passes presence). */
export function stringMatches(m: EffectiveStringMatch, value: string | undefined, ignoreCase = false): boolean {
  if (value === undefined) return false;
  switch (m.type) {
    case 'present':
      return true;
    case 'exact':
      return ignoreCase ? value.toLowerCase() === m.value.toLowerCase() : value === m.value;
    case 'prefix':
      return ignoreCase ? value.toLowerCase().startsWith(m.value.toLowerCase()) : value.startsWith(m.value);
    case 'regex':
      return regex(m.value).test(value);
  }
}

function header(req: RequestFacts, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

export function requestMatches(m: EffectiveMatch, req: RequestFacts): boolean {
  if (m.uri && !stringMatches(m.uri, req.path, m.ignoreUriCase)) return false;
  if (m.method && !stringMatches(m.method, req.method)) return false;
  for (const [name, sm] of Object.entries(m.headers)) if (!stringMatches(sm, header(req, name))) return false;
  for (const [name, sm] of Object.entries(m.withoutHeaders)) if (stringMatches(sm, header(req, name))) return false;
  for (const [name, sm] of Object.entries(m.queryParams)) {
    const v = req.query?.get(name) ?? undefined;
    // Istio: an empty exact value checks presence only.
    const effective: EffectiveStringMatch = sm.type === 'exact' && sm.value === '' ? { type: 'present' } : sm;
    if (!stringMatches(effective, v === null ? undefined : v)) return false;
  }
  for (const [k, v] of Object.entries(m.sourceLabels)) if (req.sourceLabels?.[k] !== v) return false;
  if (m.sourceNamespace !== undefined && m.sourceNamespace !== (req.sourceNamespace ?? 'default')) return false;
  return true;
}

/** The first route accepting the request, or undefined (Envoy answers 404 NR). */
export function selectRoute(routes: readonly EffectiveRoute[], req: RequestFacts): EffectiveRoute | undefined {
  return routes.find((r) => r.matches.length === 0 || r.matches.some((m) => requestMatches(m, req)));
}

/** Weighted choice; `random` in [0,1) (inject a seeded generator in tests). */
export function pickDestination(route: EffectiveRoute, random: () => number = Math.random): EffectiveDestination | undefined {
  const total = route.destinations.reduce((s, d) => s + d.weight, 0);
  if (total <= 0) return undefined;
  let x = random() * total;
  for (const d of route.destinations) {
    if (x < d.weight) return d;
    x -= d.weight;
  }
  return route.destinations[route.destinations.length - 1];
}
