import { defineScenario } from './runner/scenario';
import { paymentsSplit } from './runner/fixtures';

/** Shifting traffic between versions by weight, measured at each step. */
export default defineScenario({
  name: 'canary',
  title: 'payments v1→v2 canary: 90/10, 50/50, then 0/100 (blue-green), each share within ±3 points, 0 errors',
  teaches: [
    'A VirtualService splits traffic by weight between DestinationRule subsets; each request picks independently, so',
    'a share is exact only on average (±3 points over 2,000 requests). Shifting weights is a config push: no request fails.',
  ],
  async run(ctx) {
    const n = 2000;
    for (const [v1, v2] of [
      [90, 10],
      [50, 50],
      [0, 100],
    ]) {
      await ctx.apply(paymentsSplit(v1, v2), `weights v1 ${v1} / v2 ${v2}`);
      const samples = await ctx.load(`v1 ${v1} / v2 ${v2}`, { path: '/api/payments/validate?amount=5', rps: ctx.pick(400, 500), count: n, concurrency: 32 });
      const v2Share = (100 * samples.filter((s) => s.version === 'v2').length) / samples.length;
      ctx.expectNear(`v2 share at ${v1}/${v2} over ${n} requests`, v2Share, v2, 3, '%');
      ctx.expectEqual(`errors during the ${v1}/${v2} step`, samples.filter((s) => s.status !== 200).length, 0);
    }
  },
});
