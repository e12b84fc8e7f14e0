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

export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
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
