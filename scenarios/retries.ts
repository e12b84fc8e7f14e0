import { defineScenario } from './runner/scenario';
import { ORDER, paymentsVirtualService } from './runner/fixtures';

const FLAKY = 'payments-v1-0';
const CLUSTER = 'outbound|80||payments.default.svc.cluster.local';

/** Retries mask a flaky instance, and idempotency keys make them safe. */
export default defineScenario({
  name: 'retries',
  title: 'a flaky payments instance (60% 503): masked by retryOn 5xx with attempts 3, never by the default policy',
  teaches: [
    "Istio's default retry policy (2 retries on connect-failure, refused-stream, unavailable, cancelled) does not retry a 503",
    'answered by the app; retryOn: 5xx does, each retry to another host. Payments dedupes by idempotency key, so no retry',
    'can charge twice.',
  ],
  async run(ctx) {
    const n = ctx.pick(600, 300);
    await ctx.lab(FLAKY).sick({ error_rate: 0.6, status: 503, seed: ctx.opts.seed });

    const without = await ctx.load('default retry policy', { path: '/orders', body: ORDER, rps: 60, count: n, concurrency: 16 });
    await ctx.apply(
      paymentsVirtualService(`- route:
  - destination: {host: payments}
  retries:
    attempts: 3
    retryOn: 5xx`),
    );
    const since = Date.now();
    const withRetries = await ctx.load('retryOn 5xx, attempts 3', { path: '/orders', body: ORDER, rps: 60, count: n, concurrency: 16 });

    const rate = (s: typeof without): number => (100 * s.filter((x) => x.status === 201).length) / s.length;
    ctx.expectAtMost(`success without retries (${n} orders; expected ≈ 80%)`, rate(without), 90, '%');
    ctx.expectAtLeast(`success with retries (${n} orders)`, rate(withRetries), 99.5, '%');
    const log = (await ctx.accessLog('orders-v1-0')).filter((e) => e.direction === 'outbound' && e.upstream_cluster === CLUSTER && Date.parse(e.start_time) >= since);
    const retried = log.filter((e) => e.attempts > 1);
    ctx.expectAtLeast('orders calls that needed a retry', retried.length, 1);
    ctx.expectEqual('retried calls whose final attempt went to the flaky host', retried.filter((e) => e.upstream_instance === FLAKY && e.response_code >= 500).length, 0);
    ctx.expectEqual('retried calls answered 2xx', retried.filter((e) => e.response_code < 300).length, retried.length);
  },
});
