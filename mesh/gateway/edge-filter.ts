/**
 * What the ingress gateway does to every request before the configured filters, as Envoy at the edge does
 * for Istio's gateway (use_remote_address: true): appends the client's address to `x-forwarded-for`, sets
 * `x-forwarded-proto` to the downstream scheme and `x-envoy-external-address`, and gives the request a new
 * `x-request-id` (an external request's own id is not trusted: Envoy's preserve_external_request_id is off).
 * A virtual host of an HTTP server with `tls.httpsRedirect` answers 301 to https (Envoy's require_tls), to the
 * gateway's HTTPS port: on a cluster that is the Service's 443, so Envoy drops the port; here the HTTPS
 * listener has a port of its own (8443), so the Location names it.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { StreamInfo } from '../stream-info';
import { Flags } from '../response-flags';
import { setFlat, type FilterResult, type HttpFilter } from '../filters/chain';
import { stripPort, type GatewayRouteTable } from './route-table';

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
    setFlat(req, headers, 'x-forwarded-proto', this.scheme);
    setFlat(req, headers, 'x-envoy-external-address', remote);
    info.requestId = randomUUID();
    setFlat(req, headers, 'x-request-id', info.requestId);
    return undefined;
  }
}
