import { defineScenario } from './runner/scenario';
import { GATEWAY, PAYMENTS, paymentsDestinationRule } from './runner/fixtures';

/** Istio's circuit-breaking task: a connection pool of one, one pending request, and more concurrent callers than that. */
export default defineScenario({
  name: 'connection-pool',
  title: "Istio's circuit-breaking task: maxConnections 1, http1MaxPendingRequests 1 under concurrency → 503 UO",
  teaches: [
    'connectionPool limits are per client sidecar and cluster: past maxConnections in flight and http1MaxPendingRequests',
    'queued, the caller answers 503 at once with flag UO and x-envoy-overloaded: true; the request never reaches payments.',
  ],
  control: {
    removes: 'no connectionPool limits (the DestinationRule without them)',
    shows: 'without connectionPool limits every request queues and reaches payments: no 503 UO',
    fails: ['share of 503 UO'],
  },
  async run(ctx) {
    await ctx.applyPolicy(
      paymentsDestinationRule(`connectionPool:
  tcp:
    maxConnections: 1
  http:
    http1MaxPendingRequests: 1
    maxRequestsPerConnection: 1`),
      'connectionPool: maxConnections 1, http1MaxPendingRequests 1',
    );
    // Each payments call takes 20 ms, so one connection serves at most ~50/s; 20 callers offer 150/s.
    for (const id of PAYMENTS) await ctx.lab(id).sick({ latency_ms: 20 });
    const servedBefore = await ctx.served(PAYMENTS, GATEWAY);
    const overflowBefore = await ctx.metric('gateway', 'meshlab_upstream_rq_pending_overflow_total');
    const samples = await ctx.load('validate', { path: '/api/payments/validate?amount=10', rps: 150, durationMs: ctx.pick(4000, 2000), concurrency: 20 });
    const servedAfter = await ctx.served(PAYMENTS, GATEWAY);
    const overflowAfter = await ctx.metric('gateway', 'meshlab_upstream_rq_pending_overflow_total');

    const uo = samples.filter((s) => s.status === 503 && s.overloaded).length;
    const ok = samples.filter((s) => s.status === 200).length;
    const other = samples.length - uo - ok;
    ctx.expectAtLeast(`share of 503 UO over ${samples.length} requests`, (100 * uo) / samples.length, 20, '%');
    ctx.expectEqual('responses that were neither 200 nor 503 UO', other, 0);
    ctx.expectEqual('requests from the gateway that reached payments (their sidecars count them) = 200 responses', servedAfter - servedBefore, ok);
    ctx.expectEqual('gateway overflow metric = 503 UO responses', overflowAfter - overflowBefore, uo);
  },
});
