import { CircuitBreaker } from '../../mesh/circuit-breaker';
import { effectiveConnectionPool } from '../../mesh/config/effective';

describe('circuit breaker (pool limits)', () => {
  test('maxConnections 1 + 1 pending: the 3rd concurrent request overflows; release grants FIFO', () => {
    const cb = new CircuitBreaker(effectiveConnectionPool({ tcp: { maxConnections: 1 }, http: { http1MaxPendingRequests: 1 } }));
    const granted: string[] = [];
    expect(cb.acquire(() => granted.push('a'))).toBeNull();
    const t = cb.acquire(() => granted.push('b'));
    expect(t).not.toBeNull();
    expect(t).not.toBe('overflow');
    expect(cb.acquire(() => granted.push('c'))).toBe('overflow');
    expect(granted).toEqual(['a']);
    expect([cb.active, cb.pending]).toEqual([1, 1]);
    cb.release();
    expect(granted).toEqual(['a', 'b']);
    expect([cb.active, cb.pending]).toEqual([1, 0]);
    cb.release();
    expect([cb.active, cb.pending]).toEqual([0, 0]);
  });

  test('a cancelled pending request frees its place and is never granted', () => {
    const cb = new CircuitBreaker(effectiveConnectionPool({ tcp: { maxConnections: 1 }, http: { http1MaxPendingRequests: 2 } }));
    const granted: string[] = [];
    cb.acquire(() => granted.push('a'));
    const b = cb.acquire(() => granted.push('b'));
    cb.acquire(() => granted.push('c'));
    (b as { cancel(): void }).cancel();
    expect(cb.pending).toBe(1);
    cb.release();
    expect(granted).toEqual(['a', 'c']);
  });

  test('http2MaxRequests 2 (Envoy max_requests): the 3rd concurrent request is refused at once (503 UO), never queued', () => {
    const cb = new CircuitBreaker(effectiveConnectionPool({ http: { http2MaxRequests: 2, http1MaxPendingRequests: 10 } }));
    const granted: string[] = [];
    expect(cb.acquire(() => granted.push('a'))).toBeNull();
    expect(cb.acquire(() => granted.push('b'))).toBeNull();
    expect(cb.acquire(() => granted.push('c'))).toBe('overflow');
    expect([cb.active, cb.pending]).toEqual([2, 0]);
    cb.release();
    expect(cb.acquire(() => granted.push('d'))).toBeNull();
    expect(granted).toEqual(['a', 'b', 'd']);
  });

  test('unset limits are Istio\'s "unlimited"; maxRetries is a budget', () => {
    const open = new CircuitBreaker(effectiveConnectionPool(undefined));
    for (let i = 0; i < 10_000; i++) expect(open.acquire(() => undefined)).toBeNull();
    const cb = new CircuitBreaker(effectiveConnectionPool({ http: { http2MaxRequests: 2, maxRetries: 1 } }));
    expect(cb.maxRequests).toBe(2);
    expect(cb.tryRetry()).toBe(true);
    expect(cb.tryRetry()).toBe(false);
    cb.releaseRetry();
    expect(cb.tryRetry()).toBe(true);
  });
});
