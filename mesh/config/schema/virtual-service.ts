/** Schema of the VirtualService fields meshlab implements (HTTP routing for the sidecar). */
import { Codes } from '../messages';
import { joinPath } from '../positions';
import { anyStr, arr, bool, dur, int, map, obj, str, type Check, type Rule } from './dsl';
import { destination, exportTo, headers, labels, meshHost, percent, regexCheck, stringMatch, wildcardDomainError } from './common';
import { isWildcard } from '../hosts';

const S = Codes.SchemaValidationError;

/**
 * retryOn conditions meshlab's sidecar implements: Envoy's HTTP and gRPC retry conditions that
 * make sense without extra config. envoy-ratelimited is accepted (the sidecar never rate-limits
 * locally, so it never fires, exactly like an Envoy without a rate-limit filter).
 */
export const RETRY_ON_TOKENS = [
  '5xx',
  'gateway-error',
  'reset',
  'connect-failure',
  'retriable-4xx',
  'refused-stream',
  'retriable-status-codes',
  'envoy-ratelimited',
  'cancelled',
  'deadline-exceeded',
  'internal',
  'resource-exhausted',
  'unavailable',
] as const;

/** Valid Envoy/Istio retryOn tokens the sidecar does not implement. */
const RETRY_ON_UNSUPPORTED: Record<string, string> = {
  'retriable-headers': 'it needs retriable_headers, which Istio does not expose',
  'reset-before-request': 'not implemented by the meshlab sidecar',
  'http3-post-connect-failure': 'meshlab does not speak HTTP/3',
};

const retryOnCheck: Check = (v: string, path, r) => {
  const tokens = v.split(',').map((t) => t.trim());
  for (const t of tokens) {
    if (t === '') {
      r.report(S, path, `${path}: empty retryOn condition in ${JSON.stringify(v)} (conditions are comma-separated, no trailing comma)`);
    } else if (/^\d+$/.test(t)) {
      const code = Number(t);
      if (code < 100 || code > 599) r.report(S, path, `${path}: retry status code ${t} is outside 100-599`);
    } else if (t in RETRY_ON_UNSUPPORTED) {
      r.report(Codes.UnsupportedField, path, `${path}: retryOn condition "${t}" is not supported by meshlab: ${RETRY_ON_UNSUPPORTED[t]}`);
    } else if (!(RETRY_ON_TOKENS as readonly string[]).includes(t)) {
      r.report(S, path, `${path}: unknown retryOn condition "${t}"; valid: ${RETRY_ON_TOKENS.join(', ')} or an HTTP status code like 503`);
    }
  }
};

const match: Rule = obj(
  {
    name: str(),
    uri: stringMatch(),
    method: stringMatch(),
    headers: map(stringMatch({ allowEmpty: true })),
    queryParams: map(stringMatch({ allowEmpty: true, noPrefix: true })),
    withoutHeaders: map(stringMatch({ allowEmpty: true })),
    ignoreUriCase: bool,
    sourceLabels: labels,
    sourceNamespace: str(),
  },
  {
    unsupported: {
      scheme: '',
      authority: '',
      port: 'each service has one port in the lab',
      gateways: 'a match per gateway is not supported; bind the whole VirtualService with spec.gateways',
      statPrefix: '',
    },
  },
);

const weightsCheck: Check = (v: Array<{ weight?: number }>, path, r) => {
  if (v.length < 2) return;
  const total = v.reduce((sum, d) => sum + (typeof d?.weight === 'number' && d.weight > 0 ? d.weight : 0), 0);
  if (total === 0) {
    r.report(S, path, `${path}: total destination weight = 0 with ${v.length} destinations; give at least one destination a positive weight (e.g. 90/10)`);
  }
};

const routeDestination: Rule = obj(
  { destination, weight: int(0), headers },
  { required: ['destination'] },
);

const retries: Rule = obj(
  {
    attempts: int(0),
    perTryTimeout: dur(),
    retryOn: str(retryOnCheck),
    retryRemoteLocalities: bool,
    retryIgnorePreviousHosts: bool,
    backoff: dur(),
  },
  {
    check: (v: { retryRemoteLocalities?: unknown }, path, r) => {
      // Envoy's previous_priorities retry predicate is not built: `false` (the default) is what the sidecar does.
      if (v.retryRemoteLocalities === true) {
        const p = joinPath(path, 'retryRemoteLocalities');
        r.report(Codes.UnsupportedField, p, `${p}: retryRemoteLocalities: true is valid Istio, not supported by meshlab (a retry does not skip the localities already tried); remove it or set false`);
      }
    },
  },
);

const exclusivePercent: Check = (v: Record<string, unknown>, path, r) => {
  if (v.percent !== undefined && v.percentage !== undefined) {
    r.report(S, path, `${path}: set either percentage or the deprecated percent, not both`);
  }
  // The deprecation itself is IST0002, reported by the deprecation analyzer as istioctl does.
};

const fault: Rule = obj(
  {
    delay: obj(
      { fixedDelay: dur(), percentage: percent, percent: int(0, 100) },
      { required: ['fixedDelay'], unsupported: { exponentialDelay: '' }, check: exclusivePercent },
    ),
    abort: obj(
      { httpStatus: int(200, 599), percentage: percent },
      { required: ['httpStatus'], unsupported: { grpcStatus: 'the lab speaks HTTP/1.1 only', http2Error: '' } },
    ),
  },
  {
    check: (v: Record<string, unknown>, path, r) => {
      if (v.delay === undefined && v.abort === undefined) r.report(S, path, `${path}: one of delay or abort is required`);
    },
  },
);

/**
 * Istio's HTTPRewrite (validateHTTPRewrite, validateURIRegexRewrite, validateAuthorityRewrite): uri and
 * uriRegexRewrite exclude each other, one of the three is required (an empty string is unset, as in proto3),
 * uriRegexRewrite needs both match and rewrite, and the authority is rewritten in one place only.
 */
const rewrite: Rule = obj(
  { uri: anyStr, uriRegexRewrite: obj({ match: anyStr, rewrite: anyStr }), authority: anyStr },
  {
    check: (v: { uri?: string; uriRegexRewrite?: { match?: string; rewrite?: string }; authority?: string }, path, r) => {
      const rx = v.uriRegexRewrite;
      if (v.uri && rx) r.report(S, joinPath(path, 'uriRegexRewrite'), `${path}: rewrite may only contain one of URI or UriRegexRewrite`);
      if (!v.uri && !rx && !v.authority) {
        r.report(S, path, `${path}: rewrite must specify at least one of URI, UriRegexRewrite, or authority. Only one of URI or UriRegexRewrite may be specified`);
      }
      if (rx && typeof rx === 'object') {
        const at = joinPath(path, 'uriRegexRewrite');
        if (!rx.match || !rx.rewrite) r.report(S, at, `${at}: UriRegexRewrite requires both Rewrite and Match fields to be specified`);
        else if (typeof rx.match === 'string') regexCheck(rx.match, joinPath(at, 'match'), r);
      }
    },
  },
);

/** Istio's validateAuthorityRewrite: rewrite.authority and a request header op on Host/:authority exclude each other. */
const authorityOnce: Check = (v: { rewrite?: { authority?: unknown }; headers?: { request?: { set?: object; add?: object } } }, path, r) => {
  let current = typeof v.rewrite?.authority === 'string' ? v.rewrite.authority : '';
  for (const op of ['set', 'add'] as const) {
    const ops = v.headers?.request?.[op];
    if (!ops || typeof ops !== 'object') continue;
    for (const [k, val] of Object.entries(ops)) {
      if (k.toLowerCase() !== 'host' && k.toLowerCase() !== ':authority') continue;
      const at = joinPath(joinPath(joinPath(joinPath(path, 'headers'), 'request'), op), k);
      if (current) r.report(S, at, `${at}: authority header cannot be set multiple times: have ${JSON.stringify(current)}, attempting to set ${JSON.stringify(String(val))}`);
      current = String(val);
    }
  }
};

const httpRoute: Rule = obj(
  {
    name: str(),
    match: arr(match),
    route: arr(routeDestination, weightsCheck),
    timeout: dur({ allowZero: true }),
    retries,
    fault,
    mirror: destination,
    mirrorPercentage: percent,
    headers,
    rewrite,
  },
  {
    check: (v: Record<string, unknown>, path, r) => {
      authorityOnce(v, path, r);
      const routes = Array.isArray(v.route) ? v.route.length : 0;
      if (routes === 0 && !v.redirect && !v.directResponse && !v.delegate) {
        r.report(S, path, `${path}: HTTP route, redirect or direct_response is required`);
      }
      if (v.mirror && Array.isArray(v.mirrors) && v.mirrors.length > 0) r.report(S, path, `${path}: HTTP route cannot contain both mirror and mirrors`);
    },
    unsupported: {
      redirect: '',
      directResponse: '',
      delegate: '',
      corsPolicy: '',
      mirrors: 'use the single mirror field',
      mirrorPercent: 'use mirrorPercentage: {value: N}',
      mirror_percent: 'use mirrorPercentage: {value: N}',
    },
  },
);

// ---- L4: tcp and tls routes (Istio's TCPRoute / TLSRoute, run by mesh/tcp/) ----

/** Istio's ValidateIPSubnet: an IPv4/IPv6 address or CIDR. */
const subnetCheck: Check = (v: string, path, r) => {
  const [ip, bits, extra] = v.split('/');
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  const ok4 = !!v4 && v4.slice(1).every((o) => Number(o) <= 255);
  const ok6 = !ok4 && ip.includes(':') && /^[0-9a-fA-F:.]+$/.test(ip);
  const max = ok4 ? 32 : 128;
  const okBits = bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= max);
  if (!(ok4 || ok6) || !okBits || extra !== undefined) r.report(S, path, `${path}: ${JSON.stringify(v)} is not a valid IP address or CIDR (e.g. 10.0.0.0/8)`);
  else if (ok6) r.report(Codes.UnsupportedField, path, `${path}: IPv6 subnet ${JSON.stringify(v)} is valid Istio, not supported by meshlab (everything runs on 127.0.0.0/8)`);
};

const l4Unsupported = {
  gateways: 'only the mesh gateway exists',
  sourceSubnet: 'meshlab does not match on the source address',
};

const l4Match: Rule = obj(
  { destinationSubnets: arr(str(subnetCheck)), port: int(1, 65535), sourceLabels: labels, sourceNamespace: str() },
  { unsupported: l4Unsupported },
);

const sniHost: Check = (v: string, path, r) => {
  const err = wildcardDomainError(v);
  if (err) r.report(S, path, `${path}: ${err}`);
};

const tlsMatch: Rule = obj(
  { sniHosts: arr(str(sniHost), undefined, 1), destinationSubnets: arr(str(subnetCheck)), port: int(1, 65535), sourceLabels: labels, sourceNamespace: str() },
  { required: ['sniHosts'], unsupported: { gateways: l4Unsupported.gateways } },
);

const l4Destination: Rule = obj({ destination, weight: int(0) }, { required: ['destination'] });

const tcpRoute: Rule = obj({ match: arr(l4Match), route: arr(l4Destination, weightsCheck, 1) }, { required: ['route'] });
const tlsRoute: Rule = obj(
  { match: arr(tlsMatch, undefined, 1), route: arr(l4Destination, weightsCheck, 1) },
  { required: ['match', 'route'] },
);

// Istio's gateway names: `mesh`, `name` (the VirtualService's namespace), `ns/name`, or `name.ns.svc.cluster.local`.
// Whether it exists is the analyzers' question (IST0101).
const gatewaysCheck: Check = (v: unknown[], path, r) => {
  v.forEach((g, i) => {
    if (typeof g === 'string' && g !== 'mesh' && !/^([a-z0-9]([-a-z0-9]*[a-z0-9])?\/)?[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(g)) {
      r.report(S, joinPath(path, i), `${joinPath(path, i)}: invalid gateway name ${JSON.stringify(g)}; use mesh, NAME or NAMESPACE/NAME`);
    }
  });
};

export const virtualServiceSpec: Rule = obj(
  {
    // Wildcard hosts are the gateway's to route (bound through `gateways`); the check below refuses them for sidecars.
    hosts: arr(
      str((v: string, path, r) => {
        const err = /^(\d{1,3}\.){3}\d{1,3}$/.test(v) ? undefined : wildcardDomainError(v);
        if (err) r.report(S, path, `${path}: ${err}`);
      }),
    ),
    gateways: arr(str(), gatewaysCheck),
    http: arr(httpRoute),
    tcp: arr(tcpRoute),
    tls: arr(tlsRoute),
    exportTo,
  },
  {
    check: (v: Record<string, unknown>, path, r) => {
      const has = (k: string) => Array.isArray(v[k]) && (v[k] as unknown[]).length > 0;
      if (!has('http') && !has('tcp') && !has('tls')) r.report(S, path, `${path}: http, tcp or tls must be provided in virtual service`);
      const hosts = Array.isArray(v.hosts) ? (v.hosts as unknown[]) : [];
      if (hosts.length === 0) {
        // Istio reads a VirtualService without hosts as a delegate (routes another VirtualService delegates to).
        r.report(Codes.UnsupportedField, joinPath(path, 'hosts'), `${joinPath(path, 'hosts')}: a VirtualService without hosts is a delegate; delegation is valid Istio, not supported by meshlab (name the hosts)`);
      }
      const gw = Array.isArray(v.gateways) ? (v.gateways as unknown[]) : [];
      const mesh = gw.length === 0 || gw.includes('mesh');
      hosts.forEach((h, i) => {
        const at = joinPath(joinPath(path, 'hosts'), i);
        if (mesh && h === '*') r.report(S, at, `${at}: wildcard host * is not allowed for virtual services bound to the mesh gateway`);
        else if (mesh && typeof h === 'string' && isWildcard(h) && !wildcardDomainError(h)) meshHost(h, at, r);
      });
    },
  },
);
