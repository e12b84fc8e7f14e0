/**
 * What the ingress gateway does to every request before the configured filters, as Envoy's connection
 * manager does for Istio's gateway (use_remote_address: true): appends the client's address to
 * `x-forwarded-for`. A request from an external address (not loopback or RFC 1918 / ULA: Envoy's default
 * internal_address_config) also gets `x-forwarded-proto` set to the downstream scheme, `x-envoy-external-address`,
 * and a new `x-request-id` (its own is not trusted: preserve_external_request_id is off); an internal one keeps
 * its `x-forwarded-proto` and `x-request-id` (set when absent).
 * A virtual host of an HTTP server with `tls.httpsRedirect` answers 301 to https (Envoy's require_tls), to the
 * gateway's HTTPS port: on a cluster that is the Service's 443, so Envoy drops the port; here the HTTPS
 * listener has a port of its own (8443), so the Location names it.
 */
import type { IncomingMessage } from 'node:http';
import type { StreamInfo } from '../stream-info';
import { Flags } from '../response-flags';
import { setFlat, type FilterResult, type HttpFilter } from '../filters/chain';
import { stripPort, type GatewayRouteTable } from './route-table';
import { newRequestId } from '../tracing';

export class GatewayEdgeFilter implements HttpFilter {
  constructor(
    private readonly scheme: 'http' | 'https',
    private readonly table: () => GatewayRouteTable | undefined,
    private readonly httpsPort: () => number | undefined,
  ) {}

  decodeHeaders(req: IncomingMessage, info: StreamInfo, headers: string[]): FilterResult {
    const vhost = this.table()?.virtualHost(info.authority);
    if (vhost?.requireTls && this.scheme === 'http') {
      const port = this.httpsPort();
      const host = stripPort(info.authority);
      info.responseCodeDetails = 'https_redirect';
      return { status: 301, flag: Flags.NONE, body: '', headers: { location: `https://${host}${port && port !== 443 ? `:${port}` : ''}${req.url ?? '/'}` } };
    }
    const remote = req.socket.remoteAddress ?? '';
    const xff = req.headers['x-forwarded-for'];
    setFlat(req, headers, 'x-forwarded-for', xff ? `${Array.isArray(xff) ? xff.join(',') : xff},${remote}` : remote);
    if (isInternal(remote)) {
      if (req.headers['x-forwarded-proto'] === undefined) setFlat(req, headers, 'x-forwarded-proto', this.scheme);
      return undefined;
    }
    setFlat(req, headers, 'x-forwarded-proto', this.scheme);
    setFlat(req, headers, 'x-envoy-external-address', remote);
    info.requestId = newRequestId();
    setFlat(req, headers, 'x-request-id', info.requestId);
    return undefined;
  }
}

/** Envoy's default internal addresses: loopback, RFC 1918, IPv6 ULA (fc00::/7) and link-local-free loopback ::1. */
export function isInternal(address: string): boolean {
  const a = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (a === '::1' || /^f[cd][0-9a-f]{2}:/i.test(a)) return true;
  const m = /^(\d+)\.(\d+)\./.exec(a);
  if (!m) return false;
  const [x, y] = [Number(m[1]), Number(m[2])];
  return x === 127 || x === 10 || (x === 172 && y >= 16 && y <= 31) || (x === 192 && y === 168);
}
