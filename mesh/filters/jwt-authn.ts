/**
 * Istio's RequestAuthentication as Envoy's envoy.filters.http.jwt_authn runs it (pilot/pkg/security/authn:
 * one provider per jwtRule, requirement "any provider, or missing"). A request without a token passes
 * untouched: AuthorizationPolicy decides (requestPrincipals need one). A request carrying a token — from
 * `fromHeaders` (default `Authorization: Bearer …`) or `fromParams` (default `access_token`) — must validate
 * against the provider whose `issuer` is the token's `iss`, with one of its `audiences` when it lists any,
 * signature by its JWKS (`jwks` inline or `jwksUri`, fetched and cached by jose), not expired (Envoy's 60 s clock
 * skew): else 401 with
 * Envoy's body ("Jwt verification fails", "Jwt is expired", "Audiences in Jwt are not allowed", "Jwt issuer
 * is not configured") and `www-authenticate: Bearer realm="…", error="invalid_token"`. On success the
 * request's principal is `iss/sub`, its claims are kept for RBAC (`request.auth.claims[…]`) and routing
 * (`@request.auth.claims.…` header matches), `outputPayloadToHeader` carries the payload (base64url JSON) on,
 * and the token's header is removed unless `forwardOriginalToken`. Signatures are jose's (RS256, ES256, …).
 */
import type { IncomingMessage } from 'node:http';
import type * as Jose from 'jose';
import type { JWTPayload, JWTVerifyGetKey } from 'jose';

/**
 * jose, loaded by the first sidecar that has a jwtRule: about 12 MB of a sidecar's RSS that a workload without a
 * RequestAuthentication does not pay (mesh/README.md, "Memory").
 */
let joseModule: typeof Jose | undefined;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const jose = (): typeof Jose => (joseModule ??= require('jose') as typeof Jose);
import type { StreamInfo } from '../stream-info';
import { Details, Flags } from '../response-flags';
import { removeFlat, setAuthn, setFlat, type FilterResult, type HttpFilter } from './chain';

export interface JwtRule {
  issuer: string;
  audiences?: string[];
  jwksUri?: string;
  jwks?: string;
  fromHeaders?: Array<{ name: string; prefix?: string }>;
  fromParams?: string[];
  outputPayloadToHeader?: string;
  forwardOriginalToken?: boolean;
}

interface Provider {
  rule: JwtRule;
  keys: JWTVerifyGetKey;
}

/** Envoy's jwt_authn clock_skew_seconds default (Istio sets none): exp and nbf are checked with 60 s of slack. */
export const JWT_CLOCK_SKEW_S = 60;

/** Remote key sets live across config pushes (jose caches the JWKS and refetches on an unknown kid). */
const remoteKeySets = new Map<string, JWTVerifyGetKey>();

function keySetOf(rule: JwtRule): JWTVerifyGetKey {
  if (rule.jwks !== undefined) return jose().createLocalJWKSet(JSON.parse(rule.jwks) as Parameters<typeof Jose.createLocalJWKSet>[0]);
  const uri = rule.jwksUri ?? '';
  let ks = remoteKeySets.get(uri);
  if (!ks) remoteKeySets.set(uri, (ks = jose().createRemoteJWKSet(new URL(uri), { timeoutDuration: 5000 })));
  return ks;
}

/** Where a provider looks for its token: each header (with its prefix) and each query parameter. */
interface Location {
  header?: string;
  prefix?: string;
  param?: string;
}

function locationsOf(rule: JwtRule): Location[] {
  const out: Location[] = [];
  for (const h of rule.fromHeaders ?? []) out.push({ header: h.name.toLowerCase(), prefix: h.prefix ?? '' });
  for (const p of rule.fromParams ?? []) out.push({ param: p });
  // Envoy's defaults when a provider names no location.
  if (out.length === 0) out.push({ header: 'authorization', prefix: 'Bearer ' }, { param: 'access_token' });
  return out;
}

function extract(req: IncomingMessage, loc: Location): string | undefined {
  if (loc.header) {
    const v = req.headers[loc.header];
    const s = Array.isArray(v) ? v[0] : v;
    if (s === undefined) return undefined;
    if (!loc.prefix) return s.trim();
    return s.startsWith(loc.prefix) ? s.slice(loc.prefix.length).trim() : undefined;
  }
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  if (q < 0) return undefined;
  return new URLSearchParams(url.slice(q + 1)).get(loc.param!) ?? undefined;
}

function base64url(s: string): string {
  return Buffer.from(s, 'utf8').toString('base64url');
}

export class JwtAuthnFilter implements HttpFilter {
  private readonly providers: Provider[];
  private readonly locations: Array<{ loc: Location; providers: Provider[] }> = [];
  /** Requests answered 401, and tokens accepted (Envoy's jwt_authn denied / allowed stats). */
  readonly counters = { allowed: 0, denied: 0 };

  constructor(rules: readonly JwtRule[]) {
    this.providers = rules.map((rule) => ({ rule, keys: keySetOf(rule) }));
    for (const p of this.providers) {
      for (const loc of locationsOf(p.rule)) {
        const same = this.locations.find((l) => l.loc.header === loc.header && l.loc.prefix === loc.prefix && l.loc.param === loc.param);
        if (same) same.providers.push(p);
        else this.locations.push({ loc, providers: [p] });
      }
    }
  }

  decodeHeaders(req: IncomingMessage, info: StreamInfo, headers: string[]): FilterResult | Promise<FilterResult> {
    for (const { loc, providers } of this.locations) {
      const token = extract(req, loc);
      if (token === undefined) continue;
      return this.verify(req, info, headers, token, loc, providers);
    }
    return undefined; // no token: allowed to pass, RBAC decides
  }

  private async verify(req: IncomingMessage, info: StreamInfo, headers: string[], token: string, loc: Location, providers: Provider[]): Promise<FilterResult> {
    let iss: string | undefined;
    try {
      iss = jose().decodeJwt(token).iss;
    } catch {
      return this.deny(req, info, 'Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections');
    }
    const p = providers.find((x) => x.rule.issuer === iss);
    if (!p) return this.deny(req, info, 'Jwt issuer is not configured');
    let payload: JWTPayload;
    try {
      ({ payload } = await jose().jwtVerify(token, p.keys, { issuer: p.rule.issuer, clockTolerance: JWT_CLOCK_SKEW_S, ...(p.rule.audiences?.length ? { audience: p.rule.audiences } : {}) }));
    } catch (err) {
      const { errors } = jose();
      if (err instanceof errors.JWTExpired) return this.deny(req, info, 'Jwt is expired');
      if (err instanceof errors.JWTClaimValidationFailed && err.claim === 'aud') return this.deny(req, info, 'Audiences in Jwt are not allowed');
      if (err instanceof errors.JWTClaimValidationFailed && err.claim === 'nbf') return this.deny(req, info, 'Jwt not yet valid');
      return this.deny(req, info, 'Jwt verification fails');
    }
    this.counters.allowed++;
    const aud = payload.aud === undefined ? [] : Array.isArray(payload.aud) ? payload.aud : [payload.aud];
    setAuthn(req, { principal: `${payload.iss}/${payload.sub ?? ''}`, claims: payload as Record<string, unknown>, audiences: aud });
    if (p.rule.outputPayloadToHeader) setFlat(req, headers, p.rule.outputPayloadToHeader.toLowerCase(), base64url(JSON.stringify(payload)));
    if (!p.rule.forwardOriginalToken && loc.header) {
      removeFlat(headers, loc.header);
      delete req.headers[loc.header];
    }
    return undefined;
  }

  private deny(req: IncomingMessage, info: StreamInfo, why: string): FilterResult {
    this.counters.denied++;
    info.responseCodeDetails = Details.jwtDenied(why);
    const host = String(req.headers.host ?? '');
    const path = (req.url ?? '/').split('?')[0];
    return { status: 401, flag: Flags.NONE, body: why, headers: { 'www-authenticate': `Bearer realm="http://${host}${path}", error="invalid_token"` } };
  }
}
