/** Schema of PeerAuthentication and AuthorizationPolicy as meshlab implements them. */
import { Codes } from '../messages';
import { joinPath } from '../positions';
import { arr, map, obj, oneOfEnum, str, type Check, type Rule } from './dsl';
import { labels } from './common';

const S = Codes.SchemaValidationError;

const selector: Rule = obj({ matchLabels: labels }, { unsupported: { matchExpressions: '' } });

const mtlsMode = oneOfEnum(['STRICT', 'PERMISSIVE', 'DISABLE', 'UNSET']);

const portKey: Check = (v: Record<string, unknown>, path, r) => {
  for (const k of Object.keys(v)) {
    const n = Number(k);
    if (!Number.isInteger(n) || n < 1 || n > 65535) r.report(S, joinPath(path, k), `${joinPath(path, k)}: port must be a number 1-65535`);
  }
};

export const peerAuthenticationSpec: Rule = obj(
  {
    selector,
    mtls: obj({ mode: mtlsMode }),
    portLevelMtls: map(obj({ mode: mtlsMode }), portKey),
  },
  {
    check: (v: Record<string, unknown>, path, r) => {
      if (v.portLevelMtls && typeof v.portLevelMtls === 'object' && Object.keys(v.portLevelMtls).length === 0) {
        const p = joinPath(path, 'portLevelMtls');
        r.report(S, p, `${p}: port level mTLS, if defined, must have at least one element`);
      }
      if (v.portLevelMtls !== undefined && v.selector === undefined) {
        const p = joinPath(path, 'portLevelMtls');
        r.report(S, p, `${p} requires a selector (as in Istio): port-level mTLS applies to selected workloads only`);
      }
    },
  },
);

/** Attribute keys meshlab's authorization filter can evaluate in `when` conditions. */
// Istio has no request.method or request.path condition keys (methods and paths belong in `to.operation`).
export const SUPPORTED_WHEN_KEYS = ['request.headers[<name>]', 'source.principal', 'source.namespace', 'request.auth.principal', 'request.auth.audiences', 'request.auth.claims[<claim>]'];

/** Condition keys Istio accepts (pkg/config/security ValidateAttribute) that meshlab does not evaluate. */
const ISTIO_WHEN_KEYS = ['source.ip', 'remote.ip', 'source.serviceAccount', 'source.trustDomain', 'request.auth.presenter', 'destination.ip', 'destination.port', 'connection.sni'];

const whenKey: Check = (v: string, path, r) => {
  if (/^request\.headers\[[^\]]+\]$/.test(v)) return;
  if (['source.principal', 'source.namespace', 'request.auth.principal', 'request.auth.audiences'].includes(v)) return;
  if (/^request\.auth\.claims(\[[^\]]+\])+$/.test(v)) return;
  if (ISTIO_WHEN_KEYS.includes(v) || v.startsWith('experimental.envoy.filters.')) {
    r.report(Codes.UnsupportedField, path, `${path}: condition key ${JSON.stringify(v)} is valid Istio, not supported by meshlab; supported: ${SUPPORTED_WHEN_KEYS.join(', ')}`);
    return;
  }
  // Istio's own rejections, with its words.
  if (v === 'destination.namespace') r.report(S, path, `${path}: attribute ${v} is replaced by the metadata.namespace`);
  else if (/^destination\.labels/.test(v)) r.report(S, path, `${path}: attribute ${v} is replaced by the workload selector`);
  else if (v === 'destination.name' || v === 'destination.user') r.report(S, path, `${path}: deprecated attribute ${v}: only supported in v1alpha1`);
  else r.report(S, path, `${path}: unknown attribute: ${v} (Istio's condition keys: ${SUPPORTED_WHEN_KEYS.join(', ')}, ${ISTIO_WHEN_KEYS.join(', ')})`);
};

const strings = arr(str());

const rule: Rule = obj({
  from: arr(
    obj({
      source: obj(
        { principals: strings, notPrincipals: strings, requestPrincipals: strings, notRequestPrincipals: strings, namespaces: strings, notNamespaces: strings },
        {
          unsupported: {
            ipBlocks: '',
            notIpBlocks: '',
            remoteIpBlocks: '',
            notRemoteIpBlocks: '',
            serviceAccounts: '',
            notServiceAccounts: '',
            trustDomains: 'one trust domain (cluster.local) in the lab',
            notTrustDomains: 'one trust domain (cluster.local) in the lab',
          },
          check: (v: Record<string, unknown>, path, r) => {
            const sa = v.serviceAccounts !== undefined || v.notServiceAccounts !== undefined;
            const other = ['principals', 'notPrincipals', 'namespaces', 'notNamespaces'].some((k) => v[k] !== undefined);
            if (sa && other) r.report(S, path, `${path}: Cannot set serviceAccounts with namespaces or principals`);
          },
        },
      ),
    }),
  ),
  to: arr(
    obj({
      operation: obj(
        { methods: strings, notMethods: strings, paths: strings, notPaths: strings },
        { unsupported: { hosts: '', notHosts: '', ports: '', notPorts: '' } },
      ),
    }),
  ),
  when: arr(
    obj(
      { key: str(whenKey), values: strings, notValues: strings },
      {
        required: ['key'],
        check: (v: Record<string, unknown>, path, r) => {
          if (v.values === undefined && v.notValues === undefined) r.report(S, path, `${path}: at least one of values or notValues is required`);
        },
      },
    ),
  ),
});

export const authorizationPolicySpec: Rule = obj(
  {
    selector,
    action: oneOfEnum(['ALLOW', 'DENY'], {
      unsupported: { CUSTOM: 'no external authorizer in the lab', AUDIT: 'no audit sink in the lab' },
    }),
    rules: arr(rule),
  },
  {
    unsupported: { provider: 'CUSTOM action is not supported', targetRef: '', targetRefs: '' },
    check: (v: Record<string, unknown>, path, r) => {
      const rules = v.rules as unknown[] | undefined;
      if (v.action === 'DENY' && (!rules || rules.length === 0)) {
        r.report(S, path, `${path}: a DENY policy without rules matches no request and denies nothing; add rules (an ALLOW policy without rules is how Istio denies everything)`);
      }
    },
  },
);
