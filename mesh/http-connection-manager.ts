import { Transform } from 'node:stream';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { PEER_HEADER, readRequestHead, serviceFromHost } from './headers';
import { Details, Flags, LocalReplies, detailsForFlag } from './response-flags';
import { StreamInfo } from './stream-info';
import { Router, type RequestBody } from './router';
import type { RouteResult, RouteTable } from './route-table';
import type { MeshStats } from './stats';
import type { AccessLog } from './access-log';
import { applyToFlat } from './header-ops';
import { applyRewrite } from './rewrite';
import { Tracer } from './telemetry/tracer';
import { meshRandom, type Rng } from './rng';
import { connectionInfo } from './security/mtls';
import type { CompiledAuthorization } from './security/authz';
import { DEFAULT_PATH_NORMALIZATION, normalizePath, type PathNormalization } from './path-normalization';
import { RETRY_SHADOW_BUFFER_BYTES } from './shadow';
import { authnOf, type HttpFilterChain } from './filters/chain';

/** Request limits of a listener (Envoy's defaults where it has one). */
export const REQUEST_LIMITS = {
  /** Envoy's max_request_headers_count default; more → 431. */
  maxHeadersCount: 100,
  /** Largest request body accepted (by Content-Length); larger → 413. */
  maxRequestBodyBytes: 16 * 1024 * 1024,
  /**
   * Bodies up to this size are buffered before the first attempt so a retry or a mirror can send
   * them again: 1 MiB, Envoy's per_connection_buffer_limit_bytes default, which bounds the router's
   * retry/shadow buffer. Chunked bodies are buffered too while they fit; a body that outgrows it
   * (announced or chunked) streams through and is not retried, as in Envoy; a mirror gets it as a
   * streamed copy (Envoy's streaming shadow, mesh/shadow.ts).
   */
  retryBufferBytes: RETRY_SHADOW_BUFFER_BYTES,
};

export interface HcmOptions {
  direction: 'inbound' | 'outbound';
  /** This workload: who we are, for the peer header and the metrics. */
  workload: { service: string; version: string; namespace?: string };
  routes: () => RouteTable;
  stats: MeshStats;
  accessLog: AccessLog;
  /** Trace context, spans and their export (mesh/telemetry); a ring-only tracer when absent. */
  tracer?: Tracer;
  rng?: Rng;
  /** This workload's SPIFFE id when it has a certificate (source/destination_principal). */
  identity?: string;
  /** Inbound only: the AuthorizationPolicy in force, evaluated before routing to the app. */
  authz?: () => CompiledAuthorization | undefined;
  /**
   * Inbound only: true while PeerAuthentication is STRICT. A plaintext keep-alive connection accepted before the switch
   * is cut at its next request (Envoy drains connections of a replaced filter chain), reported through `onRefused`.
   */
  strict?: () => boolean;
  onRefused?: (socket: IncomingMessage['socket']) => void;
  /** Istio's meshConfig.pathNormalization (default BASE), applied before authz, routing and forwarding. */
  pathNormalization?: PathNormalization;
  /** HTTP filters run before RBAC (mesh/filters/chain.ts); undefined = none in force. */
  filters?: () => HttpFilterChain | undefined;
}

const FAULT_ABORT_BODY = 'fault filter abort';

/** Flags of a response the sidecar itself cut short (so not a downstream disconnect). */
const CUT_BY_SIDECAR: ReadonlySet<string> = new Set([Flags.DC, Flags.UT, Flags.UC, Flags.UR, Flags.LR, Flags.UPE]);

/** What a response's one shared 'close' listener needs: set on the response instead of a closure per request. */
const STREAM = Symbol('meshlab.stream');
interface TrackedResponse extends ServerResponse {
  [STREAM]?: { hcm: HttpConnectionManager; info: StreamInfo };
}

/** The single 'close' listener of every response: the request is over, report it. */
function onResponseClose(this: TrackedResponse): void {
  const s = this[STREAM];
  if (s) s.hcm.complete(s.info, this);
}

/** Write errors after the client has gone are expected; 'close' reports the request. */
function ignoreError(): void {}

/**
 * Envoy's HTTP connection manager for one listener: for each request, check limits, find the
 * route, inject faults, hand it to the router (hosts, retries, timeouts, circuit breaking), and
 * report it (metrics, access log, span) when done.
 */
export class HttpConnectionManager {
  private readonly peerValue: string;
  private readonly rng: Rng;
  private readonly tracer: Tracer;
  inFlight = 0;
  /** Set while the listener drains: responses carry `connection: close`. */
  draining = false;

  constructor(private readonly opts: HcmOptions) {
    // Istio's peer metadata, reduced: app;version, and ;namespace outside "default".
    const ns = opts.workload.namespace ?? 'default';
    this.peerValue = `${opts.workload.service};${opts.workload.version}${ns === 'default' ? '' : `;${ns}`}`;
    this.rng = opts.rng ?? meshRandom(opts.direction === 'inbound' ? 1 : 2);
    this.tracer = opts.tracer ?? new Tracer({ workload: { ...opts.workload, instance: opts.workload.service }, ringCapacity: 1 });
  }

  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    const { direction } = this.opts;
    const conn = direction === 'inbound' ? connectionInfo(req.socket) : undefined;
    if (conn && !conn.mtls && this.opts.strict?.()) {
      this.opts.onRefused?.(req.socket);
      req.socket.destroy();
      return;
    }
    // The peer header is the sidecar's alone: an app's own copy (outbound) or a caller's (inbound) never travels on.
    const head = readRequestHead(req.rawHeaders, true, direction === 'outbound');
    const info = new StreamInfo(direction);
    info.method = req.method ?? 'GET';
    info.path = req.url ?? '/';
    info.authority = head.host ?? '';
    if (head.originalPath !== undefined) info.originalPath = head.originalPath;
    info.userAgent = head.userAgent ?? '';
    info.bytesReceived = Number(head.contentLength ?? 0) || 0;
    this.inFlight++;
    (res as TrackedResponse)[STREAM] = { hcm: this, info };
    res.on('close', onResponseClose);
    res.on('error', ignoreError);
    if (this.draining) res.setHeader('connection', 'close');

    if (req.rawHeaders.length / 2 > REQUEST_LIMITS.maxHeadersCount) {
      info.responseCodeDetails = Details.headersTooLarge;
      return this.rejectRequest(req, res, info, 431, 'too many headers');
    }
    if (info.bytesReceived > REQUEST_LIMITS.maxRequestBodyBytes) {
      info.responseCodeDetails = Details.payloadTooLarge;
      return this.rejectRequest(req, res, info, 413, 'payload too large');
    }
    // Envoy normalizes :path before any filter runs; the normalized target replaces req.url, so the policy, the
    // route and the app judge one and the same path.
    const target = normalizePath(info.path, this.opts.pathNormalization ?? DEFAULT_PATH_NORMALIZATION);
    if (target === null) {
      info.responseCodeDetails = Details.pathNormalizationFailed;
      return this.rejectRequest(req, res, info, 400, 'Bad Request');
    }
    if (target !== info.path) req.url = info.path = target;

    let headers = head.headers;
    info.requestId = head.requestId;
    if (direction === 'outbound') {
      info.destinationService = serviceFromHost(info.authority);
      headers.push(PEER_HEADER, this.peerValue);
    } else {
      info.destinationService = this.opts.workload.service;
      // The peer's identity was verified once, at the handshake; here it is only read off the socket.
      if (conn) {
        info.connectionSecurityPolicy = conn.connectionSecurityPolicy;
        if (conn.mtls) {
          info.sourcePrincipal = conn.peerPrincipal ?? 'unknown';
          info.destinationPrincipal = this.opts.identity ?? 'unknown';
        }
      }
      const peer = head.peer;
      if (peer !== undefined) {
        const sep = peer.indexOf(';');
        const nsSep = peer.indexOf(';', sep + 1);
        info.sourceApp = peer.slice(0, sep);
        info.sourceVersion = nsSep < 0 ? peer.slice(sep + 1) : peer.slice(sep + 1, nsSep);
        info.sourceWorkload = `${info.sourceApp}-${info.sourceVersion}`;
        info.sourceNamespace = nsSep < 0 ? 'default' : peer.slice(nsSep + 1);
      }
    }
    this.tracer.begin(info, head, headers, direction === 'outbound', conn ? `${req.socket.remoteAddress}:${req.socket.remotePort}` : undefined);

    // HTTP filters before RBAC (mesh/filters: local rate limit, JWT authn, the gateway's edge filters); they may answer.
    const filters = this.opts.filters?.();
    if (filters) return filters.decodeHeaders(req, info, headers, (reply) => (reply ? this.localReply(res, info, reply.status, reply.flag, reply.body, reply.headers) : res.destroyed ? undefined : this.decodeRoute(req, res, info, head, headers)));
    this.decodeRoute(req, res, info, head, headers);
  };

  /** RBAC, route, fault, router: the request after the HTTP filters let it through. */
  private decodeRoute(req: IncomingMessage, res: ServerResponse, info: StreamInfo, head: ReturnType<typeof readRequestHead>, headers: string[]): void {
    if (this.opts.authz) {
      const authz = this.opts.authz();
      if (authz && authz.applied.length > 0) {
        const decision = authz.evaluate({ principal: info.sourcePrincipal === 'unknown' ? undefined : info.sourcePrincipal, method: info.method, path: info.path, headers: req.headers, authn: authnOf(req) });
        if (!decision.allowed) {
          // Envoy: no flag, the policy in the details (Istio's policy name, or `none` when no ALLOW matched).
          const [ns, name] = (decision.policy ?? '').split('/');
          info.responseCodeDetails = Details.rbacDenied(decision.policy ? `ns[${ns}]-policy[${name}]-rule[${decision.rule ?? 0}]` : 'none');
          return this.localReply(res, info, 403, Flags.NONE, LocalReplies.rbac);
        }
      }
    }

    const route = this.opts.routes().route(req, info);
    if (!route) return this.localReply(res, info, 404, Flags.NR, '');
    info.routeName = route.name;
    info.cluster = route.cluster.name;
    if (route.policy.directResponse) {
      info.responseCodeDetails = Details.directResponse;
      return this.localReply(res, info, route.policy.directResponse.status, Flags.NONE, '');
    }
    if (route.policy.requestOps) headers = applyToFlat(headers, route.policy.requestOps);
    if (route.policy.rewrite) headers = applyRewrite(route.policy.rewrite, req, headers, info);

    const fault = route.policy.fault;
    if (fault) {
      const delay = fault.delay && this.rng() * 100 < fault.delay.percent ? fault.delay.ms : 0;
      const abort = fault.abort && this.rng() * 100 < fault.abort.percent ? fault.abort.httpStatus : 0;
      if (delay > 0) {
        info.flag(Flags.DI);
        // A fixedDelay is a minimum: Node's timers run off a cached loop clock and can fire up to ~1 ms early.
        const due = process.hrtime.bigint() + BigInt(delay) * 1_000_000n;
        const fire = (): void => {
          const left = Number(due - process.hrtime.bigint()) / 1e6;
          if (left > 0) {
            timer = setTimeout(fire, Math.ceil(left));
            return;
          }
          res.off('close', onClose);
          if (res.destroyed) return;
          if (abort) this.localReply(res, info, abort, Flags.FI, FAULT_ABORT_BODY);
          else this.forward(req, res, info, route, headers, head.contentLength !== undefined, head.transferEncoding !== undefined);
        };
        let timer = setTimeout(fire, delay);
        const onClose = (): void => {
          clearTimeout(timer);
          info.flag(Flags.DC);
        };
        res.once('close', onClose);
        return;
      }
      // Aborts are answered here, before the router: never retried.
      if (abort) return this.localReply(res, info, abort, Flags.FI, FAULT_ABORT_BODY);
    }
    this.forward(req, res, info, route, headers, head.contentLength !== undefined, head.transferEncoding !== undefined);
  }

  /** Reads a small body when a retry or mirror may need to send it again, then routes. */
  private forward(req: IncomingMessage, res: ServerResponse, info: StreamInfo, route: RouteResult, headers: string[], hasLength: boolean, chunked: boolean): void {
    const hasBody = hasLength ? info.bytesReceived > 0 : chunked;
    if (!hasBody) return new Router(req, res, info, route, headers, null, this.localReply, this.rng).start();
    const limit = REQUEST_LIMITS.retryBufferBytes;
    const replay = (route.policy.retry.numRetries > 0 || route.policy.mirror !== undefined) && (!hasLength || info.bytesReceived <= limit);
    if (!replay) return new Router(req, res, info, route, headers, hasLength ? req : this.limitChunked(req, res, info, 0), this.localReply, this.rng).start();
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer): void => {
      size += c.length;
      chunks.push(c);
      if (size <= limit) return;
      // A chunked body outgrew the buffer: what was read so far, then the rest, streamed once (no retry, no mirror).
      req.off('data', onData);
      req.off('end', onEnd);
      req.pause();
      // Only a chunked body gets here (a Content-Length over the buffer is not replayed): it stays limited as it streams on.
      const limited = this.limitChunked(req, res, info, size);
      const rest = Readable.from(
        (async function* () {
          yield* chunks;
          for await (const more of limited) yield more as Buffer;
        })(),
        { objectMode: false },
      );
      new Router(req, res, info, route, headers, rest, this.localReply, this.rng).start();
    };
    const onEnd = (): void => {
      if (res.destroyed) return;
      if (!hasLength) info.bytesReceived = size;
      const body: RequestBody = Buffer.concat(chunks, size);
      new Router(req, res, info, route, headers, body, this.localReply, this.rng).start();
    };
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', () => {
      info.flag(Flags.DC);
      res.destroy();
    });
  }

  /**
   * A chunked body has no length to check up front: it is counted as it streams, and past
   * maxRequestBodyBytes the request is answered 413 (as a Content-Length over the limit is) and
   * both sides are cut, so no more than the limit ever reaches the upstream.
   */
  private limitChunked(req: IncomingMessage, res: ServerResponse, info: StreamInfo, alreadyRead: number): Transform {
    let size = alreadyRead;
    const limited = new Transform({
      transform: (chunk: Buffer, _enc, done) => {
        size += chunk.length;
        info.bytesReceived = size;
        if (size <= REQUEST_LIMITS.maxRequestBodyBytes) return done(null, chunk);
        req.unpipe(limited);
        if (res.headersSent) req.destroy();
        else {
          res.setHeader('connection', 'close');
          this.localReply(res, info, 413, Flags.NONE, 'payload too large');
          // Node closes a `connection: close` socket itself once the 413 is flushed. Destroying the request here too
          // reset the connection under a client still sending its body, which then lost the 413 (RST before it read
          // it); the rest of the body is read and dropped until Node closes (Envoy half-closes the same way).
          res.once('finish', () => req.resume());
        }
        done(new Error(`request body over ${REQUEST_LIMITS.maxRequestBodyBytes} bytes`));
      },
    });
    req.once('error', (err) => limited.destroy(err));
    return req.pipe(limited);
  }

  /** A request the listener refuses before routing: answer, then close the connection (its body is not read). */
  private rejectRequest(_req: IncomingMessage, res: ServerResponse, info: StreamInfo, status: number, body: string): void {
    res.setHeader('connection', 'close');
    this.localReply(res, info, status, Flags.NONE, body);
  }

  /** An answer the proxy makes itself, with Envoy's status, flag and body. */
  readonly localReply = (res: ServerResponse, info: StreamInfo, status: number, flag: string, body: string, extra?: Record<string, string>): void => {
    info.status = status;
    if (flag !== Flags.NONE) info.flag(flag);
    if (!info.responseCodeDetails) info.responseCodeDetails = detailsForFlag(flag);
    if (res.headersSent || res.destroyed) return;
    info.bytesSent = Buffer.byteLength(body);
    res.writeHead(status, { 'content-type': 'text/plain', 'content-length': info.bytesSent, 'x-request-id': info.requestId, ...extra });
    res.end(body);
  };

  /** The response closed (sent, or the client went away): account for the request and report it. */
  complete(info: StreamInfo, res: ServerResponse): void {
    this.inFlight--;
    // A response cut short is the client's doing (DC) unless the sidecar cut it for a flagged reason (timeout, upstream reset).
    if (!res.writableFinished && !info.flags.some((f) => CUT_BY_SIDECAR.has(f))) info.flag(Flags.DC);
    // Envoy's HCM, destroying a stream on the client's close, says so whatever was said before.
    if (info.flags.includes(Flags.DC)) info.responseCodeDetails = Details.downstreamDisconnect;
    if (info.status === 0) info.status = res.writableFinished ? res.statusCode : 0;
    const up = info.upstream;
    if (up?.peerPrincipal && this.opts.direction === 'outbound') {
      // The connector verified this host's SPIFFE id on every connection the pool made to it.
      info.sourcePrincipal = this.opts.identity ?? 'unknown';
      info.destinationPrincipal = up.peerPrincipal;
    }
    info.finish();
    this.opts.stats.record(info);
    this.opts.accessLog.log(info);
    this.tracer.end(info);
  }
}
