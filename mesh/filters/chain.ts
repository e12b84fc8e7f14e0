/**
 * The HTTP filters a listener runs before RBAC, in Envoy's order for Istio's config: an EnvoyFilter's
 * `INSERT_BEFORE` without `subFilter` puts envoy.filters.http.local_ratelimit first, then Istio's
 * jwt_authn; the gateway's edge work (x-forwarded-*, httpsRedirect) runs ahead of both. Each filter
 * answers synchronously when it can (the common case allocates no promise) and may stop the request with
 * a local reply. The connection manager calls `decodeHeaders` through one hook; everything else lives here.
 */
import type { IncomingMessage } from 'node:http';
import type { StreamInfo } from '../stream-info';

/** An answer a filter makes instead of letting the request on. */
export interface FilterReply {
  status: number;
  /** Envoy response flag (`RL`), or '-' for none. */
  flag: string;
  body: string;
  headers?: Record<string, string>;
}

export type FilterResult = FilterReply | undefined;

export interface HttpFilter {
  /** `headers` is the flat list the request is forwarded with: filters edit it in place (and req.headers alike). */
  decodeHeaders(req: IncomingMessage, info: StreamInfo, headers: string[]): FilterResult | Promise<FilterResult>;
}

/** What JWT authentication established about a request (Istio's request.auth.*). */
export interface RequestAuthn {
  /** `iss/sub` of the validated token. */
  principal: string;
  claims: Record<string, unknown>;
  audiences: string[];
}

const AUTHN = Symbol('meshlab.authn');
type WithAuthn = IncomingMessage & { [AUTHN]?: RequestAuthn };

export function setAuthn(req: IncomingMessage, a: RequestAuthn): void {
  (req as WithAuthn)[AUTHN] = a;
}

export function authnOf(req: IncomingMessage): RequestAuthn | undefined {
  return (req as WithAuthn)[AUTHN];
}

export class HttpFilterChain {
  constructor(readonly filters: readonly HttpFilter[]) {}

  decodeHeaders(req: IncomingMessage, info: StreamInfo, headers: string[], done: (reply: FilterResult) => void): void {
    this.step(0, req, info, headers, done);
  }

  private step(i: number, req: IncomingMessage, info: StreamInfo, headers: string[], done: (reply: FilterResult) => void): void {
    for (; i < this.filters.length; i++) {
      const out = this.filters[i].decodeHeaders(req, info, headers);
      if (out === undefined) continue;
      if (!(out instanceof Promise)) return done(out);
      const next = i + 1;
      out.then(
        (reply) => (reply ? done(reply) : this.step(next, req, info, headers, done)),
        (err: Error) => done({ status: 500, flag: '-', body: `filter failed: ${err.message}` }),
      );
      return;
    }
    done(undefined);
  }
}

/** Flat header list helpers (name, value, name, value…; names lower-case). */
export function removeFlat(headers: string[], name: string): void {
  for (let i = headers.length - 2; i >= 0; i -= 2) if (headers[i] === name) headers.splice(i, 2);
}

export function setFlat(req: IncomingMessage, headers: string[], name: string, value: string): void {
  removeFlat(headers, name);
  headers.push(name, value);
  req.headers[name] = value;
}
