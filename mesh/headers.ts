import type { IncomingHttpHeaders } from 'node:http';
import { B3_HEADER_FIELDS, newRequestId, type B3Headers } from './tracing';

/** Hop-by-hop headers (RFC 9110 §7.6.1): meaningful for one connection only, never forwarded. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'http2-settings', 'proxy-authenticate', 'proxy-authorization']);

/** The header through which a source sidecar tells the destination sidecar who is calling (Istio's metadata exchange, simplified). */
export const PEER_HEADER = 'x-meshlab-peer';

/**
 * Turns a downstream request's raw header list into the upstream one: hop-by-hop headers and those
 * the `Connection` header names are dropped, `x-request-id` is added when missing. Returns a flat
 * [name, value, name, value…] array (undici's cheapest form) and the request id.
 */
export function upstreamHeaders(raw: string[], connection: string | undefined, drop?: string, drop2?: string): { headers: string[]; requestId: string } {
  const named = connection ? new Set(connection.toLowerCase().split(',').map((s) => s.trim())) : undefined;
  const headers: string[] = [];
  let requestId = '';
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    if (HOP_BY_HOP.has(name) || (named && named.has(name)) || name === drop || name === drop2) continue;
    if (name === 'x-request-id') requestId = raw[i + 1];
    headers.push(name, raw[i + 1]);
  }
  if (!requestId) {
    requestId = newRequestId();
    headers.push('x-request-id', requestId);
  }
  return { headers, requestId };
}

/** What the connection manager needs from a request head, read in the same pass that builds the upstream list. */
export interface RequestHead {
  /** Upstream header list, as `upstreamHeaders` builds it. */
  headers: string[];
  requestId: string;
  /** The values `req.headers` would give (first Host/Content-Length; repeated others joined with ", "). */
  host: string | undefined;
  contentLength: string | undefined;
  transferEncoding: string | undefined;
  traceparent: string | undefined;
  /** Zipkin B3 headers, when the request has any (left out of the upstream list like traceparent). */
  b3: B3Headers | undefined;
  peer: string | undefined;
  userAgent: string | undefined;
  /** x-envoy-original-path: set by the caller's sidecar when its route rewrote the path (mesh/rewrite.ts). */
  originalPath: string | undefined;
}

/** Repeated header values as Node's IncomingMessage joins them for headers it does not discard. */
const join = (prev: string | undefined, v: string): string => (prev === undefined ? v : `${prev}, ${v}`);

/**
 * `upstreamHeaders` plus the few request headers the connection manager reads (host,
 * content-length, transfer-encoding, traceparent, the peer header), in one pass over the raw list:
 * touching `req.headers` would build the whole header object for every request. `traceparent`
 * and, when `dropPeer`, the peer header are left out of the upstream list (the sidecar sets its own).
 */
export function readRequestHead(raw: string[], dropPeer: boolean, dropAttemptCount = false): RequestHead {
  const headers: string[] = [];
  let requestId = '';
  let host: string | undefined;
  let contentLength: string | undefined;
  let transferEncoding: string | undefined;
  let traceparent: string | undefined;
  let peer: string | undefined;
  let userAgent: string | undefined;
  let originalPath: string | undefined;
  let b3: B3Headers | undefined;
  let connection: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    const value = raw[i + 1];
    switch (name) {
      case 'host':
        host ??= value;
        break;
      case 'x-envoy-original-path':
        originalPath ??= value;
        break;
      case 'content-length':
        contentLength ??= value;
        break;
      case 'transfer-encoding':
        transferEncoding = join(transferEncoding, value);
        continue;
      case 'connection':
        connection = join(connection, value);
        continue;
      case 'traceparent':
        traceparent = join(traceparent, value);
        continue;
      case 'x-b3-traceid':
      case 'x-b3-spanid':
      case 'x-b3-parentspanid':
      case 'x-b3-sampled':
      case 'x-b3-flags':
      case 'b3':
        (b3 ??= {})[B3_HEADER_FIELDS[name]] ??= value;
        continue;
      case PEER_HEADER:
        peer = join(peer, value);
        if (dropPeer) continue;
        break;
      case 'x-request-id':
        requestId = value;
        break;
      case 'user-agent':
        userAgent ??= value;
        break;
      case 'x-envoy-attempt-count':
        // The outbound router sets its own (Envoy's include_request_attempt_count): never two values.
        if (dropAttemptCount) continue;
        break;
      default:
        if (HOP_BY_HOP.has(name)) continue;
    }
    headers.push(name, value);
  }
  let list = headers;
  if (connection !== undefined) {
    // Headers the Connection header names are hop-by-hop too; usually it names only keep-alive,
    // already dropped, so the second pass is rare.
    const named = new Set(connection.toLowerCase().split(',').map((t) => t.trim()));
    for (const n of named) if (n === '' || HOP_BY_HOP.has(n)) named.delete(n);
    if (named.size > 0) {
      list = [];
      requestId = '';
      for (let i = 0; i < headers.length; i += 2) {
        if (named.has(headers[i])) continue;
        if (headers[i] === 'x-request-id') requestId = headers[i + 1];
        list.push(headers[i], headers[i + 1]);
      }
    }
  }
  if (!requestId) {
    requestId = newRequestId();
    list.push('x-request-id', requestId);
  }
  return { headers: list, requestId, host, contentLength, transferEncoding, traceparent, b3, peer, userAgent, originalPath };
}

/** Response headers from upstream, less hop-by-hop ones, as an object `writeHead` accepts. */
export function downstreamHeaders(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  for (const name in headers) {
    if (HOP_BY_HOP.has(name)) continue;
    out[name] = headers[name];
  }
  return out;
}

/**
 * The host a request is for, from its Host header, in the form the route table keys it: `payments`
 * as written; the in-cluster forms `svc.ns.svc.cluster.local` and `svc.ns.svc` as `svc.ns`
 * (`payments.default`, `payments.shop`); anything else lower-cased without its port.
 */
export function serviceFromHost(host: string | undefined): string {
  if (!host) return '';
  let h = host;
  const colon = h.lastIndexOf(':');
  if (colon > 0 && h.indexOf(']') < colon) h = h.slice(0, colon);
  h = h.toLowerCase();
  const dot = h.indexOf('.');
  if (dot < 0) return h;
  if (h.endsWith('.svc.cluster.local')) {
    const rest = h.slice(0, -'.svc.cluster.local'.length);
    if (rest.indexOf('.') === rest.lastIndexOf('.') && rest.indexOf('.') > 0) return rest;
  } else if (h.endsWith('.svc')) {
    const rest = h.slice(0, -'.svc'.length);
    if (rest.indexOf('.') === rest.lastIndexOf('.') && rest.indexOf('.') > 0) return rest;
  }
  return h;
}
