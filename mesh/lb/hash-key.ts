import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { EffectiveLoadBalancer } from '../config/effective';

/** Computes a request's consistent-hash key, or undefined when the request lacks the input (then the ring picks at random). */
export type HashKeyFn = (req: IncomingMessage) => string | undefined;

/** Builds the key function for a RING_HASH policy once, at config time. */
export function hashKeyFunction(lb: EffectiveLoadBalancer): HashKeyFn | undefined {
  if (lb.type !== 'RING_HASH') return undefined;
  const on = lb.hashOn;
  if ('header' in on) {
    const name = on.header;
    return (req) => {
      const v = req.headers[name];
      return Array.isArray(v) ? v.join(',') : v;
    };
  }
  if ('cookie' in on) {
    const name = on.cookie.name;
    return (req) => cookieValue(req.headers.cookie, name);
  }
  if ('queryParameter' in on) {
    const name = on.queryParameter;
    return (req) => queryValue(req.url ?? '/', name);
  }
  return (req) => req.socket?.remoteAddress;
}

/** A consistent-hash cookie Envoy generates when the request has none (httpCookie with a `ttl`). */
export interface GeneratedCookie {
  name: string;
  path?: string;
  ttlMs: number;
}

/** The httpCookie of a RING_HASH policy when it has a ttl (Envoy then sets the cookie itself), else undefined. */
export function generatedCookieSpec(lb: EffectiveLoadBalancer): GeneratedCookie | undefined {
  if (lb.type !== 'RING_HASH' || !('cookie' in lb.hashOn) || lb.hashOn.cookie.ttlMs === undefined) return undefined;
  const { name, path, ttlMs } = lb.hashOn.cookie;
  return { name, path, ttlMs };
}

/**
 * Envoy's router addDownstreamSetCookie: the value is a 64-bit hash, in hex, of the downstream connection's
 * remote + local address (one value per connection), and the response gets
 * `Set-Cookie: <name>="<value>"; Max-Age=<ttl s>; Path=<path>; HttpOnly` (no Max-Age for a 0 ttl: a session
 * cookie). Envoy hashes with xxHash64; meshlab takes the first 64 bits of SHA-256 (another value, same behaviour).
 */
export function generateCookie(req: IncomingMessage, spec: GeneratedCookie): { value: string; setCookie: string } {
  const s = req.socket;
  const value = createHash('sha256').update(`${s?.remoteAddress}:${s?.remotePort}${s?.localAddress}:${s?.localPort}`).digest('hex').slice(0, 16);
  const maxAge = Math.floor(spec.ttlMs / 1000);
  let setCookie = `${spec.name}="${value}"`;
  if (maxAge > 0) setCookie += `; Max-Age=${maxAge}`;
  if (spec.path) setCookie += `; Path=${spec.path}`;
  setCookie += '; HttpOnly';
  return { value, setCookie };
}

/** A cookie's value as Envoy parses it: surrounding double quotes removed. */
function unquote(v: string): string {
  return v.length >= 2 && v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1) : v;
}

export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return unquote(part.slice(eq + 1).trim());
  }
  return undefined;
}

export function queryValue(url: string, name: string): string | undefined {
  const q = url.indexOf('?');
  if (q < 0) return undefined;
  for (const pair of url.slice(q + 1).split('&')) {
    const eq = pair.indexOf('=');
    const key = eq < 0 ? pair : pair.slice(0, eq);
    if (safeDecode(key) === name) return eq < 0 ? '' : safeDecode(pair.slice(eq + 1));
  }
  return undefined;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}
