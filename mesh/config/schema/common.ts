/** Schema pieces shared by several resources: StringMatch, Percent, Destination, header operations. */
import { Codes } from '../messages';
import { compileRe2, RegexError } from '../regex';
import { canonicalHost, isWildcard } from '../hosts';
import { anyStr, arr, int, map, num, obj, str, type Check, type Rule } from './dsl';

const S = Codes.SchemaValidationError;

const regexCheck: Check = (v: string, path, r) => {
  try {
    compileRe2(v);
  } catch (e) {
    r.report(S, path, `${path}: regex ${JSON.stringify(v)} is not valid RE2: ${(e as RegexError).message}`);
  }
};

/** Istio StringMatch (oneof exact|prefix|regex). `allowEmpty`: `{}` means "present" (header matches). */
export function stringMatch(opts: { allowEmpty?: boolean; noPrefix?: boolean } = {}): Rule {
  const fields: Record<string, Rule> = { exact: anyStr, regex: str(regexCheck) };
  const unsupported: Record<string, string> = {};
  if (opts.noPrefix) unsupported.prefix = 'Istio matches query parameters by exact or regex only';
  else fields.prefix = anyStr;
  return obj(fields, {
    unsupported,
    check: (v: Record<string, unknown>, path, r) => {
      const set = ['exact', 'prefix', 'regex'].filter((k) => v[k] !== undefined && v[k] !== null);
      if (set.length > 1) r.report(S, path, `${path}: only one of exact, prefix, regex may be set (found ${set.join(', ')})`);
      if (set.length === 0 && !opts.allowEmpty && Object.keys(v).length === 0) {
        r.report(S, path, `${path}: one of exact, prefix, regex is required`);
      }
    },
  });
}

/** Percent { value: 0..100 }. */
export const percent: Rule = obj({ value: num(0, 100) });

/** Host field check: a named service in our namespace (no wildcards, no other namespaces). */
export const meshHost: Check = (v: string, path, r) => {
  if (isWildcard(v)) {
    r.report(Codes.UnsupportedField, path, `${path}: wildcard host ${JSON.stringify(v)} is not supported by meshlab; name a service (orders, payments, notifications)`);
    return;
  }
  const c = canonicalHost(v);
  if (c.includes('.')) {
    r.report(S, path, `${path}: host ${JSON.stringify(v)} is outside the mesh namespace "default"; use a short name like "payments" or payments.default.svc.cluster.local`);
  } else if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(c)) {
    r.report(S, path, `${path}: ${JSON.stringify(v)} is not a valid service name (lower-case letters, digits and '-')`);
  }
};

export const portSelector: Rule = obj({ number: int(1, 65535) }, { required: ['number'] });

export const destination: Rule = obj(
  { host: str(meshHost), subset: str(), port: portSelector },
  { required: ['host'] },
);

const headerName: Check = (v: Record<string, unknown>, path, r) => {
  for (const k of Object.keys(v)) {
    if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(k)) r.report(S, path, `${path}: ${JSON.stringify(k)} is not a valid HTTP header name`);
  }
};

const headerOperations: Rule = obj({
  set: map(anyStr, headerName),
  add: map(anyStr, headerName),
  remove: arr(str()),
});

export const headers: Rule = obj({ request: headerOperations, response: headerOperations });

export const labels: Rule = map(anyStr);
