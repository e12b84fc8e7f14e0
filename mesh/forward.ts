import type { ServerResponse, IncomingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';
import { downstreamHeaders } from './headers';
import type { UpstreamHost } from './upstream-host';
import type { StreamInfo } from './stream-info';
import type { AttemptOutcome } from './retry-policy';
import { resetDetails, resetFlag, type ResetReason } from './response-flags';

/** How one attempt ended before any response byte reached the client (kept for callers of the spine API). */
export interface AttemptFailure {
  kind: 'connect-failure' | 'reset';
  error: Error;
}

/** The router's side of an attempt: it decides, before anything is written, whether a response is final. */
export interface AttemptOwner {
  /** A final status arrived: true = discard this response (the router retries), false = relay it. */
  retryStatus(status: number, host: UpstreamHost): boolean;
  /** The response is final and its head is about to be written: last chance to edit headers. */
  onCommit(status: number, headers: IncomingHttpHeaders, host: UpstreamHost): void;
  /** The attempt is over: null = relayed (or failed mid-body, already signalled to the client); otherwise why it produced nothing. */
  onAttemptDone(attempt: UpstreamAttempt, outcome: AttemptOutcome | null): void;
}

const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET_BEFORE_CONNECT', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT', 'ENOTFOUND', 'EADDRNOTAVAIL']);

/** Envoy's transport failure reason for a failed connect: "delayed connect error: " + strerror (Linux's words). */
const CONNECT_ERROR_TEXT: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'Connection refused',
  EHOSTUNREACH: 'No route to host',
  ENETUNREACH: 'Network is unreachable',
  EADDRNOTAVAIL: 'Cannot assign requested address',
  ETIMEDOUT: 'Connection timed out',
};

/** undici's errors for bytes that are not a valid HTTP/1.1 response: Envoy's codec reports them as a protocol error. */
const PROTOCOL_ERRORS = new Set(['UND_ERR_HEADERS_OVERFLOW', 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH']);

/**
 * The reset reason Envoy's HTTP/1.1 codec client and connection pool report for an upstream error: before the
 * connection was up, a connection failure (ConnectionTimeout for the connect timeout, else RemoteConnectionFailure);
 * after, a protocol error if the response did not parse, otherwise connection termination — a FIN and an RST alike
 * (codec_client.cc: any close of a connected HTTP/1.1 connection).
 */
export function upstreamResetReason(error: Error, connecting: boolean): { reason: ResetReason; transportFailure: string } {
  const code = (error as NodeJS.ErrnoException).code ?? '';
  if (connecting) {
    if (code === 'UND_ERR_CONNECT_TIMEOUT') return { reason: 'connection timeout', transportFailure: '' };
    // A TLS origination handshake that failed (mesh/egress/tls-origination.ts) names its reason itself.
    const tlsFailure = (error as Error & { transportFailure?: string }).transportFailure;
    if (tlsFailure) return { reason: 'remote connection failure', transportFailure: tlsFailure };
    const text = CONNECT_ERROR_TEXT[code];
    return { reason: 'remote connection failure', transportFailure: text ? `delayed connect error: ${text}` : '' };
  }
  if (error.name === 'HTTPParserError' || PROTOCOL_ERRORS.has(code)) return { reason: 'protocol error', transportFailure: '' };
  return { reason: 'connection termination', transportFailure: '' };
}

/**
 * One upstream attempt: sends the request to `host` and streams the response back to the client as
 * it arrives (no buffering; backpressure both ways). Nothing reaches the client until the owner
 * accepts the status, so a retried attempt's response is discarded unseen. Reports an outcome
 * when the attempt failed before committing (connect failure, reset, timeout, retried status).
 */
export class UpstreamAttempt implements Dispatcher.DispatchHandler {
  private controller?: Dispatcher.DispatchController;
  private readonly startNs = process.hrtime.bigint();
  private committed = false;
  private discarded = false;
  /** Set by the router before aborting on a per-try timeout, so the outcome reads "timeout". */
  timedOut = false;
  finished = false;

  constructor(
    private readonly res: ServerResponse,
    private readonly info: StreamInfo,
    readonly host: UpstreamHost,
    private readonly owner: AttemptOwner,
  ) {}

  static send(path: string, method: string, res: ServerResponse, host: UpstreamHost, headers: string[], body: Dispatcher.DispatchOptions['body'], info: StreamInfo, owner: AttemptOwner): UpstreamAttempt {
    const attempt = new UpstreamAttempt(res, info, host, owner);
    host.activeRequests++;
    info.upstream = host;
    info.attempts++;
    try {
      host.pool.dispatch({ path, method: method as Dispatcher.HttpMethod, headers, body }, attempt);
    } catch (err) {
      // A closed pool or invalid request throws synchronously: same as a connection that never opened.
      queueMicrotask(() => attempt.onResponseError(undefined as unknown as Dispatcher.DispatchController, err as Error));
    }
    return attempt;
  }

  /** Abandon the upstream request (client gone, timeout). */
  abort(reason: Error): void {
    if (this.finished) return;
    this.abortedLocally = true;
    if (this.controller) this.controller.abort(reason);
    else this.abortReason = reason;
  }

  private abortReason?: Error;
  /** The router abandoned this attempt: its end is not an upstream reset (Envoy removes its callbacks first). */
  private abortedLocally = false;

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    // Aborted while still queued in the pool: abort as soon as undici hands us the controller.
    if (this.abortReason) controller.abort(this.abortReason);
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    if (statusCode < 200) return; // 1xx: wait for the final response
    if (this.owner.retryStatus(statusCode, this.host)) {
      this.discarded = true;
      this.finish();
      controller.abort(new Error('response discarded for retry'));
      this.owner.onAttemptDone(this, { kind: 'status', status: statusCode });
      return;
    }
    const res = this.res;
    if (res.destroyed || res.headersSent) {
      controller.abort(new Error('downstream closed'));
      return;
    }
    this.committed = true;
    this.info.status = statusCode;
    this.info.responseCodeDetails = 'via_upstream';
    const serviceMs = Math.floor(Number(process.hrtime.bigint() - this.startNs) / 1e6);
    this.info.upstreamServiceTimeMs = serviceMs;
    const out = downstreamHeaders(headers);
    // Envoy's router adds it to every upstream response (Istio's access log reads it back).
    out['x-envoy-upstream-service-time'] = String(serviceMs);
    this.owner.onCommit(statusCode, out, this.host);
    res.writeHead(statusCode, out);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.committed) return;
    this.info.bytesSent += chunk.length;
    if (!this.res.write(chunk)) {
      controller.pause();
      this.res.once('drain', () => controller.resume());
    }
  }

  onResponseEnd(): void {
    if (this.discarded) return;
    this.finish();
    this.res.end();
    this.owner.onAttemptDone(this, null);
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    if (this.discarded || this.finished) return;
    this.finish();
    // undici hands over the controller only once the request is being written on a connected socket: an error
    // before that (refused, unreachable, a TLS handshake cut short) is a connection failure, Envoy's UF, which
    // the default retry policy retries (connect-failure).
    const connecting = !this.controller || CONNECT_ERRORS.has((error as NodeJS.ErrnoException).code ?? '');
    if (this.committed) {
      // Mid-body failure: the client already has the status; the only honest signal left is a reset. Envoy flags the
      // upstream's reset (upstream_reset_after_response_started), not one the router made itself.
      if (!this.abortedLocally) {
        const { reason, transportFailure } = upstreamResetReason(error, false);
        this.info.flag(resetFlag(reason));
        this.info.responseCodeDetails = resetDetails(reason, transportFailure, true);
      }
      this.res.destroy(error);
      this.owner.onAttemptDone(this, null);
      return;
    }
    if (this.timedOut) return this.owner.onAttemptDone(this, { kind: 'timeout' });
    const { reason, transportFailure } = upstreamResetReason(error, connecting);
    this.owner.onAttemptDone(this, connecting ? { kind: 'connect-failure', reason, transportFailure } : { kind: 'reset', reason });
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.host.activeRequests--;
  }
}

/**
 * A handler that drops everything: shadow (mirror) traffic whose answer nobody waits for. As Envoy's shadow request,
 * it is given the route's timeout (`timeoutMs` > 0): a mirror that has not finished by then is aborted.
 */
export class DiscardHandler implements Dispatcher.DispatchHandler {
  private done = false;
  private controller?: Dispatcher.DispatchController;
  private timer?: NodeJS.Timeout;
  private timedOut = false;

  constructor(
    private readonly host: UpstreamHost,
    timeoutMs = 0,
  ) {
    host.activeRequests++;
    if (timeoutMs > 0) {
      this.timer = setTimeout(() => {
        this.timedOut = true;
        this.controller?.abort(new Error('mirror timeout'));
      }, timeoutMs);
    }
  }
  private end(): void {
    if (!this.done) {
      this.done = true;
      clearTimeout(this.timer);
      this.host.activeRequests--;
    }
  }
  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.timedOut) controller.abort(new Error('mirror timeout'));
  }
  onResponseStart(): void {}
  onResponseData(): void {}
  onResponseEnd(): void {
    this.end();
  }
  onResponseError(): void {
    this.end();
  }
}
