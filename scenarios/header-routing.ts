import { defineScenario } from './runner/scenario';
import { paymentsVirtualService } from './runner/fixtures';

/** A/B routing by request header, as in Bookinfo's reviews-test-v2. */
export default defineScenario({
  name: 'header-routing',
  title: 'end-user: jason → payments v2 always, everyone else → v1 (A/B by header)',
  teaches: [
    'VirtualService rules are tried in order and the first match wins: a header match sends a user to a subset,',
    'and a rule without match catches everyone else.',
  ],
  control: {
    removes: 'no VirtualService (payments load-balanced over every instance)',
    shows: 'without the header match jason lands on v1 and others on v2 in proportion to the instances',
    fails: ["jason's requests answered by v2", "other users' requests answered by v1"],
  },
  async run(ctx) {
    await ctx.applyPolicy(
      paymentsVirtualService(`- match:
  - headers:
      end-user:
        exact: jason
  route:
  - destination: {host: payments, subset: v2}
- route:
  - destination: {host: payments, subset: v1}`),
      'end-user: jason → v2, else v1',
    );
    const n = ctx.pick(1000, 400);
    const samples = await ctx.load('A/B', { path: '/api/payments/validate?amount=5', rps: 200, count: n, concurrency: 16, headers: (i) => (i % 2 === 0 ? { 'end-user': 'jason' } : { 'end-user': 'alice' }) });
    const jason = samples.filter((_, i) => i % 2 === 0);
    // Samples are sorted by intended time, which preserves the send order used by the header function.
    const others = samples.filter((_, i) => i % 2 === 1);
    ctx.expectEqual(`jason's requests answered by v2 (of ${jason.length})`, jason.filter((s) => s.version === 'v2').length, jason.length);
    ctx.expectEqual(`other users' requests answered by v1 (of ${others.length})`, others.filter((s) => s.version === 'v1').length, others.length);
  },
});
