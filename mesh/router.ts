import type { IncomingMessage, ServerResponse, IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { UpstreamAttempt, DiscardHandler, type AttemptOwner } from './forward';
import { backoffMs, type AttemptOutcome } from './retry-policy';
import { Flags, LocalReplies } from './response-flags';
import { applyToObject } from './header-ops';
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
  private readonly cluster: Cluster;
  private readonly baseHeaders: number;

  constructor(
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly info: StreamInfo,
    private readonly route: RouteResult,
    private readonly headers: string[],
    private readonly body: RequestBody,
    private readonly localReply: LocalReply,
    private readonly rng: Rng,
  ) {
    this.cluster = route.cluster;
    this.baseHeaders = headers.length;
    this.hashKey = this.cluster.hashKey ? this.cluster.hashKeyOf(req) : undefined;
  }

  start(): void {
    const { policy } = this.route;
    if (policy.timeoutMs > 0) this.globalTimer = setTimeout(this.onGlobalTimeout, policy.timeoutMs);
    this.res.once('close', this.onDownstreamClose);
    if (policy.mirror && (this.body === null || Buffer.isBuffer(this.body)) && this.rng() * 100 < policy.mirror.percent) this.shadow(policy.mirror.cluster);
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
    const host = this.cluster.pick({ tried: this.tried, hashKey: this.hashKey });
    if (!host) {
      this.releaseSlot();
      return this.finishLocal(503, Flags.UH, LocalReplies.noHealthyUpstream);
    }
    (this.tried ??= new Set()).add(host);
    const n = this.retries + 1;
    // The first attempt appends to the request's own list; retries copy its original part.
    const headers = n === 1 ? this.headers : this.headers.slice(0, this.baseHeaders);
    headers.push('x-envoy-attempt-count', String(n));
    const perTry = this.route.policy.retry.perTryTimeoutMs;
    const attempt = UpstreamAttempt.send(this.req.url ?? '/', this.req.method ?? 'GET', this.res, host, headers, this.body, this.info, this);
    this.attempt = attempt;
    if (perTry > 0 && !attempt.finished) {
      this.perTryTimer = setTimeout(() => {
        attempt.timedOut = true;
        attempt.abort(new Error('per-try timeout'));
      }, perTry);
    }
  };

  // ----- AttemptOwner -----

  retryStatus(status: number, host: UpstreamHost): boolean {
    this.cluster.recordResult(host, status);
    if (this.done || !this.canRetry() || !this.route.policy.retry.retriableStatus(status)) return false;
    return this.reserveRetry();
  }

  onCommit(_status: number, headers: IncomingHttpHeaders): void {
    this.committed = true;
    clearTimeout(this.perTryTimer);
    const ops = this.route.policy.responseOps;
    if (ops) applyToObject(headers, ops);
    if (this.retries > 0 && this.route.policy.retry.retriableStatus(_status)) this.info.flag(Flags.URX);
  }

  onAttemptDone(attempt: UpstreamAttempt, outcome: AttemptOutcome | null): void {
    if (attempt !== this.attempt) return;
    this.attempt = undefined;
    clearTimeout(this.perTryTimer);
    this.releaseSlot();
    if (outcome === null) return this.finish();
    // Aborted by us (client gone, route timeout): not the host's fault.
    if (this.done) return;
    if (outcome.kind !== 'status') this.cluster.recordResult(attempt.host, outcome.kind === 'timeout' ? 504 : 503);
    const retry = outcome.kind === 'status' ? this.retryReserved : this.canRetry() && this.route.policy.retry.retriable(outcome) && this.reserveRetry();
    if (retry) {
      this.retries++;
      this.backoffTimer = setTimeout(this.afterBackoff, backoffMs(this.retries, this.rng));
      return;
    }
    const exhausted = this.retries > 0 && this.route.policy.retry.retriable(outcome);
    if (exhausted) this.info.flag(Flags.URX);
    switch (outcome.kind) {
      case 'connect-failure':
        return this.finishLocal(503, Flags.UF, LocalReplies.connectFailure);
      case 'timeout':
        return this.finishLocal(504, Flags.UT, LocalReplies.timeout);
      default:
        return this.finishLocal(503, Flags.UC, LocalReplies.reset);
    }
  }

  private reserveRetry(): boolean {
    if (!this.cluster.breaker.tryRetry()) return false;
    this.retryReserved = true;
    this.cluster.observer.onRetry?.(this.cluster.name);
    return true;
  }

  private readonly afterBackoff = (): void => {
    this.backoffTimer = undefined;
    if (this.retryReserved) {
      this.retryReserved = false;
      this.cluster.breaker.releaseRetry();
    }
    this.dispatch();
  };

  // ----- endings -----

  private readonly onGlobalTimeout = (): void => {
    if (this.done) return;
    this.info.flag(Flags.UT);
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
    clearTimeout(this.globalTimer);
    clearTimeout(this.perTryTimer);
    clearTimeout(this.backoffTimer);
    this.res.off('close', this.onDownstreamClose);
    this.ticket?.cancel();
    this.ticket = undefined;
    const attempt = this.attempt;
    if (attempt && !attempt.finished) attempt.abort(new Error('request finished'));
    if (this.retryReserved) {
      this.retryReserved = false;
      this.cluster.breaker.releaseRetry();
    }
    // The slot of a live attempt is released when the attempt reports in.
    if (!attempt || attempt.finished) this.releaseSlot();
  }

  private releaseSlot(): void {
    if (!this.holdingSlot) return;
    this.holdingSlot = false;
    this.cluster.breaker.release();
  }

  /** Envoy's request mirroring: a copy to the shadow cluster with Host "<host>-shadow"; nobody waits for it. */
  private shadow(cluster: Cluster): void {
    const host = cluster.pick({ hashKey: this.hashKey });
    if (!host) return;
    const headers: string[] = [];
    for (let i = 0; i < this.headers.length; i += 2) {
      if (this.headers[i] === 'host') headers.push('host', `${this.headers[i + 1]}-shadow`);
      else headers.push(this.headers[i], this.headers[i + 1]);
    }
    try {
      host.pool.dispatch({ path: this.req.url ?? '/', method: (this.req.method ?? 'GET') as Dispatcher.HttpMethod, headers, body: this.body as Buffer | null }, new DiscardHandler(host));
    } catch {
      /* shadow traffic never affects the real request */
    }
  }
}
