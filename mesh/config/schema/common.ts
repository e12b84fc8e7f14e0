/** Schema pieces shared by several resources: StringMatch, Percent, Destination, header operations. */
import { Codes } from '../messages';
import { compileRe2, RegexError } from '../regex';
import { isWildcard } from '../hosts';
import { joinPath } from '../positions';
import { anyStr, arr, int, map, num, obj, str, type Check, type Rule } from './dsl';

const S = Codes.SchemaValidationError;

export const regexCheck: Check = (v: string, path, r) => {
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

const DNS_LABEL = /^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?$/;
const IPV4 = /^(\d{1,3}\.){3}\d{1,3}$/;

/** Istio's agent.ValidateWildcardDomain: a DNS name, at most 255 characters, `*` allowed in the first label only. */
export function wildcardDomainError(v: string): string | undefined {
  if (v.length > 255) return `domain name ${JSON.stringify(v)} too long (max 255)`;
  if (v === '') return 'empty domain name not allowed';
  const [first, rest] = [v.split('.')[0], v.split('.').slice(1)];
  const firstOk = first === '*' || (first.startsWith('*') ? DNS_LABEL.test(first.slice(1)) : DNS_LABEL.test(first));
  if (!firstOk) return `domain name ${JSON.stringify(v)} invalid (label ${JSON.stringify(first)} invalid)`;
  for (const l of rest) if (!DNS_LABEL.test(l) || l.length > 63) return `domain name ${JSON.stringify(v)} invalid (label ${JSON.stringify(l)} invalid)`;
  return undefined;
}

/**
 * A host meshlab's sidecars route: any valid name (a service of any namespace, an external name);
 * wildcard hosts are valid Istio but not routed by meshlab (ML0003).
 */
export const meshHost: Check = (v: string, path, r) => {
  if (IPV4.test(v)) return;
  const err = wildcardDomainError(v);
  if (err) {
    r.report(S, path, `${path}: ${err}`);
    return;
  }
  if (isWildcard(v)) r.report(Codes.UnsupportedField, path, `${path}: wildcard host ${JSON.stringify(v)} is valid Istio, not supported by meshlab's sidecars; name a service (e.g. payments)`);
};

/** A destination host (Istio's validateDestination): "*" alone is invalid; otherwise as meshHost. */
export const destinationHost: Check = (v: string, path, r) => {
  if (v === '*') {
    r.report(S, path, `${path}: invalid destination host *`);
    return;
  }
  meshHost(v, path, r);
};

const NAMESPACE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Istio's validateExportTo: ".", "*" or namespace names, no duplicates, "*" alone. */
export const exportTo: Rule = arr(anyStr, (v: unknown[], path, r) => {
  const seen = new Set<string>();
  v.forEach((e, i) => {
    if (typeof e !== 'string') return;
    const p = joinPath(path, i);
    if (e !== '.' && e !== '*' && (e.length > 63 || !NAMESPACE.test(e))) r.report(S, p, `${p}: ${JSON.stringify(e)} is not a valid exportTo value: use ".", "*" or a namespace name`);
    if (seen.has(e)) r.report(S, p, `${p}: duplicate entries in exportTo for entry ${e}`);
    seen.add(e);
  });
  if (seen.has('*') && v.length > 1) r.report(S, path, `${path}: cannot have both public (*) and non-public exportTo values for a resource`);
});

export const portSelector: Rule = obj({ number: int(1, 65535) }, { required: ['number'] });

export const destination: Rule = obj(
  { host: str(destinationHost), subset: str(), port: portSelector },
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
