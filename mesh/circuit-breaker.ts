import type { EffectiveConnectionPool } from './config/effective';

/** A request waiting for a connection slot; `cancel` when its client goes away first. */
export interface PendingTicket {
  cancel(): void;
}

/**
 * Envoy's per-cluster circuit breakers for HTTP/1.1: one request in flight per connection, so at
 * most maxConnections requests are active; beyond that up to http1MaxPendingRequests wait in FIFO
 * order; beyond that the request overflows (503 UO). http2MaxRequests is Envoy's max_requests, checked
 * before any queueing (conn_pool_base.cc newStreamImpl): with that many active, a request overflows at once.
 * maxRetries bounds retries in flight across the cluster. Istio leaves all of them effectively
 * unlimited (2^32−1) unless the DestinationRule sets them.
 */
export class CircuitBreaker {
  active = 0;
  retriesActive = 0;
  private readonly queue: { grant: () => void; live: boolean }[] = [];
  private queued = 0;
  readonly maxActive: number;
  readonly maxRequests: number;
  readonly maxPending: number;
  readonly maxRetries: number;

  constructor(limits: Pick<EffectiveConnectionPool, 'maxConnections' | 'http2MaxRequests' | 'http1MaxPendingRequests' | 'maxRetries'>) {
    this.maxActive = limits.maxConnections;
    this.maxRequests = limits.http2MaxRequests;
    this.maxPending = limits.http1MaxPendingRequests;
    this.maxRetries = limits.maxRetries;
  }

  get pending(): number {
    return this.queued;
  }

  /**
   * Asks for a slot. Calls `grant` now (returns null) or later (returns a ticket), or returns
   * 'overflow' when both the active and pending limits are full. Every grant must be `release`d.
   */
  acquire(grant: () => void): PendingTicket | null | 'overflow' {
    if (this.active >= this.maxRequests) return 'overflow';
    if (this.active < this.maxActive) {
      this.active++;
      grant();
      return null;
    }
    if (this.queued >= this.maxPending) return 'overflow';
    const entry = { grant, live: true };
    this.queue.push(entry);
    this.queued++;
    return {
      cancel: () => {
        if (!entry.live) return;
        entry.live = false;
        this.queued--;
      },
    };
  }

  release(): void {
    this.active--;
    while (this.queue.length > 0) {
      const next = this.queue.shift()!;
      if (!next.live) continue;
      next.live = false;
      this.queued--;
      this.active++;
      next.grant();
      return;
    }
  }

  /** Reserves a retry against maxRetries; false = retry budget exhausted (Envoy's upstream_rq_retry_overflow). */
  tryRetry(): boolean {
    if (this.retriesActive >= this.maxRetries) return false;
    this.retriesActive++;
    return true;
  }

  releaseRetry(): void {
    this.retriesActive--;
  }
}
