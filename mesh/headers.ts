import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

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
    requestId = randomUUID();
    headers.push('x-request-id', requestId);
  }
  return { headers, requestId };
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

/** The service a request is for, from its Host header (`payments`, `payments:80`, `payments.default.svc.cluster.local`). */
export function serviceFromHost(host: string | undefined): string {
  if (!host) return '';
  let h = host;
  const colon = h.lastIndexOf(':');
  if (colon > 0 && h.indexOf(']') < colon) h = h.slice(0, colon);
  const dot = h.indexOf('.');
  if (dot > 0 && (h.endsWith('.svc.cluster.local') || h.endsWith('.default') || h.endsWith('.default.svc'))) h = h.slice(0, dot);
  return h.toLowerCase();
}
