import { defineScenario } from './runner/scenario';
import { paymentsVirtualService } from './runner/fixtures';

/** The mesh's own fault injection: delays and aborts at given percentages, on the client side. */
export default defineScenario({
  name: 'fault-injection',
  title: 'VirtualService fault: 100 ms delay on 50% and HTTP 503 abort on 10% of payments calls, measured',
  teaches: [
    "Fault injection happens in the caller's sidecar before routing: a delayed request still reaches payments, an",
    'aborted one never does (flag FI) and is never retried. Each request rolls its own dice.',
  ],
  async run(ctx) {
    await ctx.apply(
      paymentsVirtualService(`- fault:
    delay:
      fixedDelay: 100ms
      percentage: {value: 50}
    abort:
      httpStatus: 503
      percentage: {value: 10}
  route:
  - destination: {host: payments}`),
    );
    const n = 1000;
    const samples = await ctx.load('faults', { path: '/api/payments/validate?amount=5', rps: 250, count: n, concurrency: 64 });
    const aborted = samples.filter((s) => s.status === 503).length;
    const answered = samples.filter((s) => s.status === 200);
    const delayed = answered.filter((s) => s.latencyMs >= 100).length;
    ctx.expectNear(`aborted share over ${n} requests`, (100 * aborted) / n, 10, 3, '%');
    ctx.expectNear(`delayed (≥ 100 ms) share of the ${answered.length} answered`, (100 * delayed) / answered.length, 50, 5, '%');
    ctx.expectEqual('responses other than 200 or the injected 503', samples.length - aborted - answered.length, 0);
  },
});
