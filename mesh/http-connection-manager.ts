import type { IncomingMessage, ServerResponse } from 'node:http';
import { PEER_HEADER, serviceFromHost, upstreamHeaders } from './headers';
import { Flags, LocalReplies } from './response-flags';
import { StreamInfo } from './stream-info';
import { UpstreamAttempt, type AttemptFailure } from './forward';
import type { RouteTable } from './route-table';
import type { MeshStats } from './stats';
import type { AccessLog } from './access-log';

export interface HcmOptions {
  direction: 'inbound' | 'outbound';
  /** This workload: who we are, for the peer header and the metrics. */
  workload: { service: string; version: string };
  routes: () => RouteTable;
  stats: MeshStats;
  accessLog: AccessLog;
}

/**
 * Envoy's HTTP connection manager for one listener: for each request, find the route, pick a host
 * from the route's cluster, relay the exchange, and report it (metrics + access log) when done.
 */
export class HttpConnectionManager {
  private readonly peerValue: string;
  inFlight = 0;

  constructor(private readonly opts: HcmOptions) {
    this.peerValue = `${opts.workload.service};${opts.workload.version}`;
  }

  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    const { direction } = this.opts;
    const info = new StreamInfo(direction);
    info.method = req.method ?? 'GET';
    info.path = req.url ?? '/';
    info.authority = req.headers.host ?? '';
    info.bytesReceived = Number(req.headers['content-length'] ?? 0) || 0;
    this.inFlight++;
    res.once('close', () => this.complete(info, res));

    const built = upstreamHeaders(req.rawHeaders, req.headers.connection, direction === 'inbound' ? PEER_HEADER : undefined);
    const headers = built.headers;
    info.requestId = built.requestId;
    if (direction === 'outbound') {
      info.destinationService = serviceFromHost(info.authority);
      headers.push(PEER_HEADER, this.peerValue);
    } else {
      info.destinationService = this.opts.workload.service;
      const peer = req.headers[PEER_HEADER];
      if (typeof peer === 'string') {
        const sep = peer.indexOf(';');
        info.sourceWorkload = `${peer.slice(0, sep)}-${peer.slice(sep + 1)}`;
        info.sourceVersion = peer.slice(sep + 1);
      }
    }

    const route = this.opts.routes().route(req, info);
    if (!route) return this.localReply(res, info, 404, Flags.NR, '');
    info.routeName = route.name;
    info.cluster = route.cluster.name;
    const host = route.cluster.pick({});
    if (!host) return this.localReply(res, info, 503, Flags.UH, LocalReplies.noHealthyUpstream);

    const hasBody = req.headers['content-length'] !== undefined ? info.bytesReceived > 0 : req.headers['transfer-encoding'] !== undefined;
    const attempt = UpstreamAttempt.send(req, res, host, headers, hasBody ? req : null, info, (failure) => {
      if (failure) this.failed(res, info, failure);
    });
    res.once('close', () => {
      if (!attempt.finished) {
        info.flag(Flags.DC);
        attempt.abort(new Error('downstream connection closed'));
      }
    });
  };

  private failed(res: ServerResponse, info: StreamInfo, failure: AttemptFailure): void {
    if (failure.kind === 'connect-failure') this.localReply(res, info, 503, Flags.UF, LocalReplies.connectFailure);
    else this.localReply(res, info, 503, Flags.UC, LocalReplies.reset);
  }

  /** An answer the proxy makes itself, with Envoy's status, flag and body. */
  localReply(res: ServerResponse, info: StreamInfo, status: number, flag: string, body: string, extra?: Record<string, string>): void {
    info.status = status;
    info.flag(flag);
    if (res.headersSent || res.destroyed) return;
    info.bytesSent = Buffer.byteLength(body);
    res.writeHead(status, { 'content-type': 'text/plain', 'content-length': info.bytesSent, 'x-request-id': info.requestId, ...extra });
    res.end(body);
  }

  private complete(info: StreamInfo, res: ServerResponse): void {
    this.inFlight--;
    if (!res.writableFinished && !info.flags.includes(Flags.DC) && !info.flags.includes(Flags.UC)) info.flag(Flags.DC);
    if (info.status === 0) info.status = res.writableFinished ? res.statusCode : 0;
    info.finish();
    this.opts.stats.record(info);
    this.opts.accessLog.log(info);
  }
}
