import { defineScenario } from './runner/scenario';
import { ORDER, PAYMENTS, paymentsDestinationRule, paymentsVirtualService } from './runner/fixtures';

/** A hanging dependency, with and without the policies that stop a cascade. */
export default defineScenario({
  name: 'cascade',
  title: 'payments hangs: without policies orders collapses; with a timeout + breaker it fails fast. Side by side.',
  teaches: [
    'A dependency that hangs is worse than one that fails: callers pile up waiting. A route timeout bounds each wait,',
    'and a connection-pool limit caps how many callers can be stuck at once, so orders answers fast 503s and recovers',
    'the moment payments does.',
  ],
  async run(ctx) {
    const phaseMs = ctx.pick(5000, 3000);
    const load = { path: '/orders', body: ORDER, rps: 20, durationMs: phaseMs, concurrency: 200 };

    for (const id of PAYMENTS) await ctx.lab(id).sick({ hang: true });
    const stop = { stopped: false };
    const without = ctx.load('without policies', load, stop);
    await new Promise((r) => setTimeout(r, phaseMs + 1000));
    // Hung requests stay hung until payments comes back: release them so the run can end.
    for (const id of PAYMENTS) await ctx.lab(id).heal();
    const a = await without;

    await ctx.apply(paymentsDestinationRule(`connectionPool:
  tcp:
    maxConnections: 10
  http:
    http1MaxPendingRequests: 5`));
    await ctx.apply(paymentsVirtualService(`- route:
  - destination: {host: payments}
  timeout: 300ms
  retries:
    attempts: 0`));
    for (const id of PAYMENTS) await ctx.lab(id).sick({ hang: true });
    const b = await ctx.load('with timeout + breaker', load);
    for (const id of PAYMENTS) await ctx.lab(id).heal();

    const answeredWithin = (s: typeof a, ms: number): number => (100 * s.filter((x) => x.status > 0 && x.latencyMs <= ms).length) / s.length;
    ctx.expectAtLeast(`without policies: p50 latency (${a.length} orders) — collapsed`, ctx.latency(a, 50), 1000, ' ms');
    ctx.expectAtMost(`with policies: p99 latency (${b.length} orders)`, ctx.latency(b, 99), 500, ' ms');
    ctx.expectEqual('with policies: share answered within 1 s', answeredWithin(b, 1000), 100);
    ctx.check('side by side: p99 without vs with', 'with ≪ without', `${Math.round(ctx.latency(a, 99))} ms vs ${Math.round(ctx.latency(b, 99))} ms`, ctx.latency(b, 99) * 3 < ctx.latency(a, 99));
  },
});
