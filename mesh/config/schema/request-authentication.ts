/** Schema of RequestAuthentication (security.istio.io) as meshlab runs it (mesh/filters/jwt-authn.ts). */
import { Codes } from '../messages';
import { joinPath } from '../positions';
import { anyStr, arr, bool, obj, str, type Rule } from './dsl';
import { labels } from './common';

const S = Codes.SchemaValidationError;

const jwtRule: Rule = obj(
  {
    issuer: str(),
    audiences: arr(str()),
    jwksUri: str((v: string, path, r) => {
      let u: URL | undefined;
      try {
        u = new URL(v);
      } catch {
        u = undefined;
      }
      if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:')) r.report(S, path, `${path}: jwksUri must be an http or https URL, got ${JSON.stringify(v)}`);
    }),
    jwks: str((v: string, path, r) => {
      try {
        const k = JSON.parse(v) as { keys?: unknown };
        if (!Array.isArray(k.keys)) throw new Error('no keys');
      } catch {
        r.report(S, path, `${path}: jwks must be a JSON Web Key Set ({"keys": [...]})`);
      }
    }),
    fromHeaders: arr(obj({ name: str(), prefix: anyStr }, { required: ['name'] })),
    fromParams: arr(str()),
    outputPayloadToHeader: str(),
    forwardOriginalToken: bool,
  },
  {
    required: ['issuer'],
    unsupported: {
      fromCookies: 'tokens are read from headers and query parameters only',
      outputClaimToHeaders: 'use outputPayloadToHeader',
      timeout: 'the JWKS fetch timeout is fixed (5s)',
      jwks_uri: 'use jwksUri',
      presence: '',
      spaceDelimitedClaims: '',
    },
    check: (v: Record<string, unknown>, path, r) => {
      if (v.jwks === undefined && v.jwksUri === undefined) {
        // Istio would discover the JWKS through the issuer's OpenID configuration; meshlab has no discovery.
        r.report(Codes.UnsupportedField, joinPath(path, 'jwksUri'), `${joinPath(path, 'jwksUri')}: a jwtRule without jwks or jwksUri relies on OpenID discovery, valid Istio, not supported by meshlab; give jwksUri or jwks`);
      }
      if (v.jwks !== undefined && v.jwksUri !== undefined) r.report(S, path, `${path}: set jwks or jwksUri, not both (Istio uses jwks and ignores jwksUri)`);
    },
  },
);

export const requestAuthenticationSpec: Rule = obj(
  { selector: obj({ matchLabels: labels }, { unsupported: { matchExpressions: '' } }), jwtRules: arr(jwtRule) },
  { unsupported: { targetRef: 'use selector', targetRefs: 'use selector' } },
);
