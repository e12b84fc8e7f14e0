/**
 * VirtualService rules that can never match: rules after a catch-all rule and rules whose every
 * match repeats an earlier one (IST0130), and single matches that repeat an earlier one (IST0131).
 * Matches are compared by value, ignoring their `name`.
 */
import { Codes, type Message } from '../messages';
import { messageAt } from '../schema/validate';
import type { HTTPMatchRequest, VirtualService } from '../types';
import type { Analyzer } from './types';

/** Canonical text of a match's conditions (keys sorted, name dropped). */
function matchKey(m: HTTPMatchRequest): string {
  const sortDeep = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sortDeep);
    if (v && typeof v === 'object') {
      return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortDeep((v as Record<string, unknown>)[k])]));
    }
    return v;
  };
  const { name: _name, ...conditions } = m ?? {};
  if (conditions.ignoreUriCase === false) delete conditions.ignoreUriCase;
  return JSON.stringify(sortDeep(conditions));
}

const isCatchAll = (matches: HTTPMatchRequest[] | undefined): boolean =>
  !Array.isArray(matches) || matches.length === 0 || matches.some((m) => matchKey(m) === '{}');

function ruleLabel(i: number, name: string | undefined): string {
  return name ? `#${i} "${name}"` : `#${i}`;
}

export const unreachableRules: Analyzer = (resources) => {
  const out: Message[] = [];
  for (const r of resources) {
    if (r.kind !== 'VirtualService') continue;
    const vs = r as VirtualService;
    const rules = Array.isArray(vs.spec?.http) ? vs.spec.http : [];
    let catchAll: number | undefined;
    const earlier = new Map<string, number>(); // match key -> first rule index
    rules.forEach((rule, i) => {
      if (!rule || typeof rule !== 'object') return;
      const label = ruleLabel(i, rule.name);
      if (catchAll !== undefined) {
        out.push(messageAt(vs, Codes.VirtualServiceUnreachableRule, `spec.http[${i}]`, `VirtualService rule ${label} not used (only the last rule can have no matches; rule #${catchAll} matches every request).`));
        return;
      }
      const matches = Array.isArray(rule.match) ? rule.match : [];
      if (isCatchAll(rule.match)) {
        catchAll = i;
        return;
      }
      const dups = matches.map((m) => earlier.get(matchKey(m)));
      if (dups.every((d) => d !== undefined)) {
        out.push(messageAt(vs, Codes.VirtualServiceUnreachableRule, `spec.http[${i}]`, `VirtualService rule ${label} not used (all matches used by prior rules).`));
      } else {
        dups.forEach((d, k) => {
          if (d === undefined) return;
          out.push(
            messageAt(vs, Codes.VirtualServiceIneffectiveMatch, `spec.http[${i}].match[${k}]`, `VirtualService rule ${label} match #${k} is not used (duplicate/overlapping match in rule #${d}).`),
          );
        });
      }
      matches.forEach((m) => {
        const key = matchKey(m);
        if (!earlier.has(key)) earlier.set(key, i);
      });
    });
  }
  return out;
};
