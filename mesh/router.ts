import type { IncomingMessage, ServerResponse, IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { UpstreamAttempt, DiscardHandler, type AttemptOwner } from './forward';
import { generateCookie } from './lb/hash-key';
import { backoffMs, type AttemptOutcome } from './retry-policy';
import { Details, Flags, LocalReplies, resetBody, resetDetails, resetFlag, resetStatus } from './response-flags';
import { applyToObject } from './header-ops';
import { RETRY_SHADOW_BUFFER_BYTES, teeForMirror } from './shadow';
import { readAhead } from './read-ahead';
import type { RouteResult } from './route-table';
import type { Cluster } from './cluster';
import type { UpstreamHost } from './upstream-host';
import type { StreamInfo } from './stream-info';
import type { PendingTicket } from './circuit-breaker';
import type { Rng } from './rng';

export type LocalReply = (res: ServerResponse, info: StreamInfo, status: number, flag: string, body: string, extra?: Record<string, string>) => void;

/** A request body as the router holds it: replayable bytes, a one-shot stream, or none. */
export type RequestBody = Buffer | Readable | null;

const OVERLOADED = { 'x-envoy-overloaded': 'true' };

/**
 * Envoy's router filter for one request: circuit breaker admission, host choice, attempts with
 * per-try timeouts, retries with jittered back-off to other hosts, the route's overall timeout,
 * outlier-detection reporting, and the local reply when nothing upstream answered. Callbacks and
 * timers only — no promise per request.
 */
export class Router implements AttemptOwner {
  private done = false;
  private committed = false;
  private attempt?: UpstreamAttempt;
  private ticket?: PendingTicket;
  private holdingSlot = false;
  private retryReserved = false;
  private retries = 0;
  private tried?: Set<UpstreamHost>;
  private globalTimer?: NodeJS.Timeout;
  private perTryTimer?: NodeJS.Timeout;
  private backoffTimer?: NodeJS.Timeout;
  private readonly hashKey?: string;
  /** Set-Cookie for a generated consistent-hash cookie (httpCookie with ttl, request without it). */
  private readonly setCookie?: string;
  private readonly cluster: Cluster;
  private readonly baseHeaders: number;

  constructor(
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly info: StreamInfo,
    private readonly route: RouteResult,
    private readonly headers: string[],
    /** Replaced by the primary's half of the tee when a streamed body is mirrored. */
    private body: RequestBody,
    private readonly localReply: LocalReply,
    private readonly rng: Rng,
  ) {
    this.cluster = route.cluster;
    this.baseHeaders = headers.length;
    let hashKey = this.cluster.hashKey ? this.cluster.hashKeyOf(req) : undefined;
    const gen = this.cluster.generatedCookie;
    if (gen && hashKey === undefined) {
      const cookie = generateCookie(req, gen);
      hashKey = cookie.value;
      this.setCookie = cookie.setCookie;
    }
    this.hashKey = hashKey;
  }

  start(): void {
    const { policy } = this.route;
    if (policy.timeoutMs > 0) {
      // Envoy arms the route timeout once the downstream request is complete (onRequestComplete): a body still
      // streaming in from the client does not count against the upstream.
      if (this.streamingBody()) this.whenRequestComplete(this.armGlobalTimeout);
      else this.armGlobalTimeout();
    }
    this.res.once('close', this.onDownstreamClose);
    // A body still streaming in is read ahead, so the request completes, and its timeouts start, when the client has
    // sent it, whether or not an attempt is reading it yet.
    if (this.streamingBody() && (policy.timeoutMs > 0 || policy.retry.perTryTimeoutMs > 0)) this.body = readAhead(this.body as Readable, RETRY_SHADOW_BUFFER_BYTES);
    if (policy.mirror && this.rng() * 100 < policy.mirror.percent) this.shadow(policy.mirror.cluster);
    this.dispatch();
  }

  /** Whether another try is possible at all: retries left and a body we can send again. */
  private canRetry(): boolean {
    return this.retries < this.route.policy.retry.numRetries && (this.body === null || Buffer.isBuffer(this.body));
  }

  private dispatch(): void {
    if (this.done) return;
    const admitted = this.cluster.breaker.acquire(this.granted);
    if (admitted === 'overflow') {
      this.cluster.observer.onOverflow?.(this.cluster.name);
      return this.finishLocal(503, Flags.UO, LocalReplies.overflow, OVERLOADED);
    }
    if (admitted) this.ticket = admitted;
  }

  private readonly granted = (): void => {
    this.ticket = undefined;
    this.holdingSlot = true;
    if (this.done) return this.releaseSlot();
    const host = this.cluster.pick({ tried: this.route.policy.retry.ignorePreviousHosts ? this.tried : undefined, hashKey: this.hashKey });
    if (!host) {
      this.releaseSlot();
      return this.finishLocal(503, Flags.UH, LocalReplies.noHealthyUpstream);
    }
    (this.tried ??= new Set()).add(host);
    const n = this.retries + 1;
    // The first attempt appends to the request's own list; retries copy its original part. Only the outbound
    // side counts attempts (Istio sets include_request_attempt_count on outbound routes); inbound passes the caller's.
    let headers = this.headers;
    if (this.info.direction === 'outbound') {
      headers = n === 1 ? this.headers : this.headers.slice(0, this.baseHeaders);
      headers.push('x-envoy-attempt-count', String(n));
    }
    const perTry = this.route.policy.retry.perTryTimeoutMs;
    const attempt = UpstreamAttempt.send(this.req.url ?? '/', this.req.method ?? 'GET', this.res, host, headers, this.body, this.info, this);
    this.attempt = attempt;
    if (perTry > 0 && !attempt.finished) {
      const arm = (): void => {
        if (this.attempt !== attempt || attempt.finished) return;
        this.perTryTimer = setTimeout(() => {
          attempt.timedOut = true;
          attempt.abort(new Error('per-try timeout'));
        }, perTry);
      };
      // As the route timeout, from the end of the downstream request (Envoy's setupPerTryTimeout on request complete).
      if (this.streamingBody()) this.whenRequestComplete(arm);
      else arm();
    }
  };

  /** The body is still streaming in from the client (not buffered, not yet complete). */
  private streamingBody(): boolean {
    return this.body !== null && !Buffer.isBuffer(this.body) && !this.req.complete;
  }

  private readonly completeWaiters: (() => void)[] = [];
  private readonly onRequestComplete = (): void => {
    for (const fn of this.completeWaiters.splice(0)) fn();
  };

  /** Runs `fn` once the downstream request has been received whole (at once if it already has). */
  private whenRequestComplete(fn: () => void): void {
    if (this.req.complete) return fn();
    if (this.completeWaiters.push(fn) === 1) this.req.once('end', this.onRequestComplete);
  }

  // ----- AttemptOwner -----

  retryStatus(status: number, host: UpstreamHost): boolean {
    this.cluster.recordResult(host, status);
    // Envoy's shouldRetry first gives back the retry slot the previous decision held (resetRetry).
    this.releaseRetryHold();
    if (this.done || !this.canRetry() || !this.route.policy.retry.retriableStatus(status)) return false;
    return this.reserveRetry();
  }

  onCommit(_status: number, headers: IncomingHttpHeaders): void {
    this.committed = true;
    clearTimeout(this.perTryTimer);
    const ops = this.route.policy.responseOps;
    if (ops) applyToObject(headers, ops);
    if (this.setCookie) {
      const prev = headers['set-cookie'];
      headers['set-cookie'] = prev === undefined ? [this.setCookie] : [...(Array.isArray(prev) ? prev : [prev]), this.setCookie];
    }
    // URX only when the retries ran out (a retry refused by the maxRetries breaker is UO instead).
    if (this.retries > 0 && this.retries >= this.route.policy.retry.numRetries && this.route.policy.retry.retriableStatus(_status)) this.info.flag(Flags.URX);
  }

  onAttemptDone(attempt: UpstreamAttempt, outcome: AttemptOutcome | null): void {
    if (attempt !== this.attempt) return;
    this.attempt = undefined;
    clearTimeout(this.perTryTimer);
    this.releaseSlot();
    if (outcome === null) return this.finish();
    // Aborted by us (client gone, route timeout): not the host's fault.
    if (this.done) return;
    let retry = outcome.kind === 'status'; // retryStatus already decided (and holds the retry slot)
    if (!retry) {
      this.cluster.recordLocalOrigin(attempt.host, outcome.kind === 'timeout' ? 'timeout' : 'connect-failed');
      this.releaseRetryHold();
      retry = this.canRetry() && this.route.policy.retry.retriable(outcome) && this.reserveRetry();
    }
    if (retry) {
      this.retries++;
      this.backoffTimer = setTimeout(this.afterBackoff, backoffMs(this.retries, this.rng, this.route.policy.retry.backoffBaseMs));
      return;
    }
    const exhausted = this.retries > 0 && this.retries >= this.route.policy.retry.numRetries && this.route.policy.retry.retriable(outcome);
    if (exhausted) this.info.flag(Flags.URX);
    if (outcome.kind === 'timeout') {
      this.info.responseCodeDetails = Details.perTryTimeout;
      return this.finishLocal(504, Flags.UT, LocalReplies.timeout);
    }
    if (outcome.kind === 'status') return; // not reached: a discarded status is always being retried
    // Envoy's onUpstreamReset: flag, status, details and body all follow from the reset reason.
    const connectFailure = outcome.kind === 'connect-failure';
    const reason = outcome.reason ?? (connectFailure ? 'remote connection failure' : 'connection termination');
    const transportFailure = connectFailure ? (outcome.transportFailure ?? '') : '';
    this.info.upstreamTransportFailureReason = transportFailure;
    this.info.responseCodeDetails = resetDetails(reason, transportFailure, false);
    return this.finishLocal(resetStatus(reason), resetFlag(reason), resetBody(reason, transportFailure, this.retries > 0));
  }

  /**
   * Takes a slot of the cluster's maxRetries breaker for this retry. Full: Envoy's upstream_rq_retry_overflow, the
   * answer at hand goes to the client flagged UO. The slot is held through the back-off and the retried attempt,
   * until the next retry decision or the end of the request (Envoy's RetryStateImpl).
   */
  private reserveRetry(): boolean {
    if (!this.cluster.breaker.tryRetry()) {
      this.info.flag(Flags.UO);
      this.cluster.observer.onRetryOverflow?.(this.cluster.name);
      return false;
    }
    this.retryReserved = true;
    this.cluster.observer.onRetry?.(this.cluster.name);
    return true;
  }

  private releaseRetryHold(): void {
    if (!this.retryReserved) return;
    this.retryReserved = false;
    this.cluster.breaker.releaseRetry();
  }

  private readonly afterBackoff = (): void => {
    this.backoffTimer = undefined;
    this.dispatch();
  };

  // ----- endings -----

  private readonly armGlobalTimeout = (): void => {
    if (!this.done) this.globalTimer = setTimeout(this.onGlobalTimeout, this.route.policy.timeoutMs);
  };

  private readonly onGlobalTimeout = (): void => {
    if (this.done) return;
    this.info.flag(Flags.UT);
    // Envoy's onResponseTimeout: an attempt still awaiting headers is reported as a local-origin timeout (504).
    const a = this.attempt;
    if (a && !a.finished && !this.committed) this.cluster.recordLocalOrigin(a.host, 'timeout');
    if (this.committed) {
      // The response already started: all Envoy can do is reset the stream.
      this.done = true;
      this.attempt?.abort(new Error('route timeout'));
      this.res.destroy();
      return this.cleanup();
    }
    this.finishLocal(504, Flags.UT, LocalReplies.timeout);
  };

  private readonly onDownstreamClose = (): void => {
    if (this.done) return;
    this.info.flag(Flags.DC);
    this.done = true;
    this.cleanup();
  };

  private finishLocal(status: number, flag: string, body: string, extra?: Record<string, string>): void {
    if (this.done) return;
    this.done = true;
    this.cleanup();
    this.localReply(this.res, this.info, status, flag, body, extra);
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.cleanup();
  }

  private cleanup(): void {
    this.req.off('end', this.onRequestComplete);
    this.completeWaiters.length = 0;
    clearTimeout(this.globalTimer);
    clearTimeout(this.perTryTimer);
    clearTimeout(this.backoffTimer);
    this.res.off('close', this.onDownstreamClose);
    this.ticket?.cancel();
    this.ticket = undefined;
    const attempt = this.attempt;
    if (attempt && !attempt.finished) attempt.abort(new Error('request finished'));
    this.releaseRetryHold();
    // The slot of a live attempt is released when the attempt reports in.
    if (!attempt || attempt.finished) this.releaseSlot();
  }

  private releaseSlot(): void {
    if (!this.holdingSlot) return;
    this.holdingSlot = false;
    this.cluster.breaker.release();
  }

  /**
   * Envoy's request mirroring: a copy to the mirror cluster; nobody waits for it. The Host stays as it is: Istio
   * sets disable_shadow_host_suffix_append (DISABLE_SHADOW_HOST_SUFFIX, default true), so no "-shadow" suffix.
   * A buffered body is sent again whole; a streamed one (over the 1 MiB buffer) is teed, the mirror's copy
   * streamed beside the primary's (Envoy's streaming shadow).
   */
  private shadow(cluster: Cluster): void {
    const host = cluster.pick({ hashKey: this.hashKey });
    if (!host) return;
    const headers = this.headers.slice(0, this.baseHeaders);
    let body: Dispatcher.DispatchOptions['body'] = this.body;
    if (this.body !== null && !Buffer.isBuffer(this.body)) {
      const teed = teeForMirror(this.body);
      this.body = teed.primary;
      body = teed.mirror;
    }
    try {
      host.pool.dispatch({ path: this.req.url ?? '/', method: (this.req.method ?? 'GET') as Dispatcher.HttpMethod, headers, body }, new DiscardHandler(host, this.route.policy.timeoutMs));
    } catch {
      /* shadow traffic never affects the real request */
    }
  }
}
