import { RetryPolicy, backoffMs, RetryConfigError } from '../../mesh/retry-policy';
import { effectiveRetry } from '../../mesh/config/effective';
import { DEFAULT_RETRY_POLICY } from '../../mesh/route-table';
import { seededRandom } from '../../lib/random';

describe('retry policy', () => {
  test('retryOn parsing: tokens, plain status numbers, unknown token is a config error naming the valid ones', () => {
    const p = RetryPolicy.fromEffective(effectiveRetry({ attempts: 3, retryOn: 'gateway-error,409,retriable-4xx' }), false);
    expect(p.numRetries).toBe(3);
    expect([502, 503, 504, 500, 409, 404].map((s) => p.retriableStatus(s))).toEqual([true, true, true, false, true, false]);
    const codes = RetryPolicy.fromEffective(effectiveRetry({ attempts: 1, retryOn: '418' }), false);
    expect([418, 503].map((s) => codes.retriableStatus(s))).toEqual([true, false]);
    expect(() => RetryPolicy.fromEffective(effectiveRetry({ attempts: 1, retryOn: '5xx,bogus' }), false)).toThrow(RetryConfigError);
    expect(() => RetryPolicy.fromEffective(effectiveRetry({ attempts: 1, retryOn: 'bogus' }), false)).toThrow(/unknown retryOn token "bogus".*gateway-error/);
  });

  test('5xx retries every 5xx, resets, connect failures and per-try timeouts', () => {
    const p = new RetryPolicy(['5xx'], [], 2);
    expect([500, 503, 599, 499].map((s) => p.retriableStatus(s))).toEqual([true, true, true, false]);
    expect(p.retriable({ kind: 'connect-failure' })).toBe(true);
    expect(p.retriable({ kind: 'reset' })).toBe(true);
    expect(p.retriable({ kind: 'timeout' })).toBe(true);
  });

  test('Istio ≥ 1.24 default: 2 retries on connect-failure only for HTTP/1.1; 503 is not retried', () => {
    expect(DEFAULT_RETRY_POLICY.numRetries).toBe(2);
    expect(DEFAULT_RETRY_POLICY.retriableStatus(503)).toBe(false);
    expect(DEFAULT_RETRY_POLICY.retriable({ kind: 'connect-failure' })).toBe(true);
    expect(DEFAULT_RETRY_POLICY.retriable({ kind: 'reset' })).toBe(false);
    expect(DEFAULT_RETRY_POLICY.retriable({ kind: 'timeout' })).toBe(false);
    // A route without `retries` compiles to the same (no status codes).
    const p = RetryPolicy.fromEffective(effectiveRetry(undefined), true);
    expect(p.retriableStatus(503)).toBe(false);
    expect(p.numRetries).toBe(2);
  });

  test('attempts 0 disables retries; without perTryTimeout there is none (Istio emits no per_try_timeout: the route timeout bounds every attempt)', () => {
    const off = RetryPolicy.fromEffective(effectiveRetry({ attempts: 0, retryOn: '5xx' }), false);
    expect(off.retriableStatus(503)).toBe(false);
    expect(RetryPolicy.fromEffective(effectiveRetry({ attempts: 2, retryOn: '5xx' }), false).perTryTimeoutMs).toBe(0);
    expect(RetryPolicy.fromEffective(effectiveRetry({ attempts: 2, retryOn: '5xx', perTryTimeout: '200ms' }), false).perTryTimeoutMs).toBe(200);
  });

  test('back-off as Envoy\'s JitteredExponentialBackOffStrategy: retry n waits uniform in [0, 25·2^(n−1)) ms, the interval capped at 250 ms', () => {
    const rng = seededRandom(11);
    for (const [n, ceiling] of [
      [1, 25],
      [2, 50],
      [3, 100],
      [4, 200],
      [5, 250],
      [10, 250],
    ] as const) {
      let max = 0;
      let sum = 0;
      for (let i = 0; i < 4000; i++) {
        const d = backoffMs(n, rng);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThan(ceiling);
        max = Math.max(max, d);
        sum += d;
      }
      expect(max).toBeGreaterThanOrEqual(ceiling * 0.95 - 1);
      expect(sum / 4000).toBeGreaterThan(ceiling * 0.45 - 1);
      expect(sum / 4000).toBeLessThan(ceiling * 0.55);
    }
    expect(backoffMs(1, () => 0.999999)).toBe(24);
  });

  test('retries.backoff sets the base interval (max 10× it) and retryIgnorePreviousHosts is carried (default on)', () => {
    const p = RetryPolicy.fromEffective(effectiveRetry({ attempts: 3, retryOn: '5xx', backoff: '100ms', retryIgnorePreviousHosts: false }), false);
    expect([p.backoffBaseMs, p.ignorePreviousHosts]).toEqual([100, false]);
    expect(RetryPolicy.fromEffective(effectiveRetry({ attempts: 3 }), false).ignorePreviousHosts).toBe(true);
    expect([1, 2, 3, 4, 5].map((n) => backoffMs(n, () => 0.999999, 100))).toEqual([99, 199, 399, 799, 999]);
    expect(backoffMs(6, () => 0.999999, 100)).toBe(999);
  });
});
