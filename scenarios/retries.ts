import { defineScenario } from './runner/scenario';
import { ORDER, paymentsVirtualService } from './runner/fixtures';

const FLAKY = 'payments-v1-0';
const CLUSTER = 'outbound|80||payments.default.svc.cluster.local';

interface PaymentRow {
  order_id: string;
  instance: string;
  replays: number;
}

/** Retries mask a flaky instance, and idempotency keys make them safe. */
export default defineScenario({
  name: 'retries',
  title: 'a flaky payments instance (60% 503 after charging): masked by retryOn 5xx, the retry replays the idempotency key',
  teaches: [
    "Istio's default retry policy (2 retries on connect-failure, refused-stream, unavailable, cancelled) does not retry a 503",
    'answered by the app; retryOn: 5xx does, each retry to another host. The flaky instance fails after it charged, so the',
    'retry carries the same Idempotency-Key to another instance, which replays the stored charge instead of charging twice.',
  ],
  control: {
    removes: 'no retries (the VirtualService without retryOn: 5xx)',
    shows: 'without retryOn 5xx the 503s reach orders (≈ 80% success) and no retry replays a key',
    fails: ['success with retries', 'orders calls that needed a retry'],
  },
  async run(ctx) {
    const n = ctx.pick(600, 300);
    // The flaky instance charges (the payment is committed), then answers 503: only the key makes a retry safe.
    await ctx.lab(FLAKY).sick({ error_rate: 0.6, status: 503, after: true, seed: ctx.opts.seed });

    const without = await ctx.load('default retry policy', { path: '/orders', body: ORDER, rps: 60, count: n, concurrency: 16 });
    await ctx.applyPolicy(
      paymentsVirtualService(`- route:
  - destination: {host: payments}
  retries:
    attempts: 3
    retryOn: 5xx`),
      'retries: attempts 3, retryOn 5xx',
    );
    const since = Date.now();
    const withRetries = await ctx.load('retryOn 5xx, attempts 3', { path: '/orders', body: ORDER, rps: 60, count: n, concurrency: 16, keepBodies: true });

    const rate = (s: typeof without): number => (100 * s.filter((x) => x.status === 201).length) / s.length;
    ctx.expectAtMost(`success without retries (${n} orders; expected ≈ 80%)`, rate(without), 90, '%');
    ctx.expectAtLeast(`success with retries (${n} orders)`, rate(withRetries), 99.5, '%');
    const log = (await ctx.accessLog('orders-v1-0')).filter((e) => e.direction === 'outbound' && e.upstream_cluster === CLUSTER && Date.parse(e.start_time) >= since && e.path === '/payments');
    // Only this phase's orders (orders passes the gateway's request id on), not the reconciler's calls for PENDING orders.
    const phase = new Set((await ctx.accessLog('gateway')).filter((e) => e.path === '/orders' && Date.parse(e.start_time) >= since).map((e) => e.x_request_id));
    const retried = log.filter((e) => e.attempts > 1 && phase.has(e.x_request_id));
    ctx.expectAtLeast('orders calls that needed a retry', retried.length, 1);
    ctx.expectEqual('retried calls whose final attempt went to the flaky host', retried.filter((e) => e.upstream_instance === FLAKY && e.response_code >= 500).length, 0);
    ctx.expectEqual('retried calls answered 2xx', retried.filter((e) => e.response_code < 300).length, retried.length);

    // payments' own record: a retried call's order was charged by the flaky instance, and the retry replayed that charge.
    const state = ctx.world.state();
    const app = state.instances.find((i) => i.id !== FLAKY && i.service === 'payments')!;
    const rows = ((await (await fetch(`http://${state.host}:${app.app.ports.http}/payments?limit=100000`)).json()) as { payments: PaymentRow[] }).payments;
    const byOrder = new Map(rows.map((p) => [p.order_id, p]));
    const ids = withRetries.filter((s) => s.status === 201).map((s) => (s.body as { id: string }).id);
    const replayed = ids.filter((id) => byOrder.get(id)?.instance === FLAKY && (byOrder.get(id)?.replays ?? 0) >= 1).length;
    ctx.expectEqual('retried calls that replayed the charge the flaky instance had made (payments: replays ≥ 1)', replayed, retried.length);
  },
});
