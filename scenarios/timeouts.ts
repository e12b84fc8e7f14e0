import { defineScenario } from './runner/scenario';
import { hasFlag } from './runner/flags';
import { ORDER, PAYMENTS, paymentsVirtualService } from './runner/fixtures';

/** A route timeout bounds how long a caller waits for a slow dependency. */
export default defineScenario({
  name: 'timeouts',
  title: 'slow payments (2 s) behind a 500 ms route timeout: orders answers in 500 ms ± 10%, nothing charged twice',
  teaches: [
    'A VirtualService timeout covers all tries; when it expires the caller gets 504 UT and the upstream request is',
    'abandoned. The order stays PENDING; once payments recovers, the reconciler retries it with the same idempotency',
    'key, so the charge the slow request did make is not repeated.',
  ],
  control: {
    removes: 'no route timeout (Istio\'s default: none)',
    shows: 'without the route timeout every order waits the full 2 s for payments: no 504 UT, p50 ≈ 2 s',
    fails: ['orders answered 503', 'payments calls ended by the route timeout', 'p50 latency of orders'],
  },
  async run(ctx) {
    await ctx.applyPolicy(
      paymentsVirtualService(`- route:
  - destination: {host: payments}
  timeout: 500ms`),
      'route timeout 500ms',
    );
    for (const id of PAYMENTS) await ctx.lab(id).sick({ latency_ms: 2000 });
    const since = Date.now();
    const samples = await ctx.load('orders', { path: '/orders', body: ORDER, rps: 10, count: ctx.pick(40, 20), concurrency: 32, keepBodies: true });
    for (const id of PAYMENTS) await ctx.lab(id).heal();

    ctx.expectEqual(`orders answered 503 (payments timed out), of ${samples.length}`, samples.filter((s) => s.status === 503).length, samples.length);
    // The mesh's own record: the orders sidecar gave up on each payments call at the route timeout (flag UT).
    const calls = (await ctx.accessLog('orders-v1-0')).filter((e) => e.direction === 'outbound' && e.authority === 'payments' && Date.parse(e.start_time) >= since);
    const ut = calls.filter((e) => e.response_code === 504 && hasFlag(e, 'UT'));
    // (≥: the orders reconciler may also retry an older PENDING order meanwhile, and time out the same way.)
    ctx.expectAtLeast('payments calls ended by the route timeout (504 UT), one per order at least', ut.length, samples.length);
    ctx.expectEqual('UT calls outside 500 ms ± 10%', ut.filter((e) => Math.abs(e.duration_ms - 500) > 50).length, 0);
    ctx.expectNear('p50 latency of orders, end to end', ctx.latency(samples, 50), 500, 50, ' ms');
    const body = samples[0].body as { error?: string; order?: { status: string } };
    ctx.check('orders says why', 'payments unavailable (status 504: upstream request timeout)', String(body.error ?? '').slice(0, 60), /status 504: upstream request timeout/.test(String(body.error)));
    ctx.expectEqual('orders left PENDING by the timeout', samples.filter((s) => (s.body as { order?: { status: string } }).order?.status === 'PENDING').length, samples.length);
    // After recovery the reconciler charges them again with the same key: each ends CONFIRMED, charged once.
    // (A 503 carries the order in `order`; a 201 — the control arm, no timeout — is the order itself.)
    const ids = samples.map((s) => { const b = s.body as { id?: string; order?: { id: string } }; return b.order?.id ?? b.id ?? ''; });
    const settled = await ctx.waitFor(async () => {
      const states = await Promise.all(ids.map(async (id) => ((await (await fetch(`${ctx.world.gatewayUrl}/orders/${id}`)).json()) as { status: string }).status));
      return states.every((s) => s === 'CONFIRMED') ? states : undefined;
    }, 20000);
    ctx.expectEqual('of those, CONFIRMED after payments recovered (reconciler, same idempotency key)', settled?.length ?? 0, ids.length);
    ctx.mark('stuck orders confirmed by the reconciler');
  },
});
