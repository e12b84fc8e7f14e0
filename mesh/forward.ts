import type { IncomingMessage, ServerResponse, IncomingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';
import { downstreamHeaders } from './headers';
import type { UpstreamHost } from './upstream-host';
import type { StreamInfo } from './stream-info';

/** How one attempt ended before any response byte reached the client (so the router may retry or answer locally). */
export interface AttemptFailure {
  kind: 'connect-failure' | 'reset';
  error: Error;
}

export type AttemptDone = (failure: AttemptFailure | null) => void;

const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET_BEFORE_CONNECT', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT', 'ENOTFOUND', 'EADDRNOTAVAIL']);

/**
 * One upstream attempt: sends the request to `host` and streams the response back to the client as
 * it arrives (no buffering; backpressure both ways). `done(null)` once the response was relayed,
 * `done(failure)` if the attempt failed before response headers, leaving the client untouched.
 */
export class UpstreamAttempt implements Dispatcher.DispatchHandler {
  private controller?: Dispatcher.DispatchController;
  private started = false;
  finished = false;

  constructor(
    private readonly res: ServerResponse,
    private readonly info: StreamInfo,
    private readonly host: UpstreamHost,
    private readonly done: AttemptDone,
  ) {}

  static send(req: IncomingMessage, res: ServerResponse, host: UpstreamHost, headers: string[], body: Dispatcher.DispatchOptions['body'], info: StreamInfo, done: AttemptDone): UpstreamAttempt {
    const attempt = new UpstreamAttempt(res, info, host, done);
    host.activeRequests++;
    info.upstream = host;
    info.attempts++;
    host.pool.dispatch({ path: req.url ?? '/', method: req.method as Dispatcher.HttpMethod, headers, body }, attempt);
    return attempt;
  }

  /** The client went away: abandon the upstream request. */
  abort(reason: Error): void {
    if (!this.finished) this.controller?.abort(reason);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    if (statusCode < 200) return; // 1xx: wait for the final response
    this.started = true;
    this.info.status = statusCode;
    const res = this.res;
    if (res.destroyed) {
      controller.abort(new Error('downstream closed'));
      return;
    }
    res.writeHead(statusCode, downstreamHeaders(headers));
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.info.bytesSent += chunk.length;
    if (!this.res.write(chunk)) {
      controller.pause();
      this.res.once('drain', () => controller.resume());
    }
  }

  onResponseEnd(): void {
    this.end();
    this.res.end();
    this.done(null);
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.end();
    if (this.started) {
      // Mid-body failure: the client already has the status; the only honest signal left is a reset.
      this.info.flag('UC');
      this.res.destroy(error);
      this.done(null);
      return;
    }
    const code = (error as NodeJS.ErrnoException).code ?? '';
    this.done({ kind: CONNECT_ERRORS.has(code) ? 'connect-failure' : 'reset', error });
  }

  private end(): void {
    if (this.finished) return;
    this.finished = true;
    this.host.activeRequests--;
  }
}
