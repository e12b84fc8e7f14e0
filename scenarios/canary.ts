import { defineScenario } from './runner/scenario';
import { paymentsSplit } from './runner/fixtures';

const STEPS: [number, number][] = [
  [90, 10],
  [50, 50],
  [0, 100],
];

/** Shifting traffic between versions by weight, under live traffic, measured at each step. */
export default defineScenario({
  name: 'canary',
  title: 'payments v1→v2 canary under live traffic: 90/10, 50/50 within ±3 points, then 0/100 exactly, 0 errors across the shifts',
  teaches: [
    'A VirtualService splits traffic by weight between DestinationRule subsets; each request picks independently, so',
    'a share is exact only on average (±3 points over 2,000 requests) — but weight 0 is exact: not one request. Shifting',
    'weights is a config push to every sidecar while traffic flows: no request fails across a shift.',
  ],
  control: {
    removes: 'no VirtualService (every shift left out: payments load-balanced over all three instances)',
    shows: 'without the weighted VirtualService v2 gets its instances\' share (≈ 1/3) at every step, v1 still serves at "0/100"',
    fails: ['v2 share at 90/10', 'v2 share at 50/50', 'requests answered by v1 at 0/100'],
  },
  async run(ctx) {
    const perStep = 2000;
    // A rate this machine sustains with the world on it: a backlog would move requests' routing past their window.
    const rps = 250;
    const stepMs = (perStep / rps) * 1000;
    const stop = { stopped: false };
    // One load for the whole lab; the weights change underneath it.
    const load = ctx.load('canary', { path: '/api/payments/validate?amount=5', rps, durationMs: STEPS.length * stepMs + 60_000, concurrency: 32 }, stop);
    const steps: { v1: number; v2: number; routed: Map<string, number> }[] = [];
    try {
      for (const [v1, v2] of STEPS) {
        // Once every sidecar ACKed the push, the gateway routes by it: count what it routed from then to the next push.
        await ctx.applyPolicy(paymentsSplit(v1, v2), `weights v1 ${v1} / v2 ${v2}`);
        const from = Date.now();
        await new Promise((r) => setTimeout(r, stepMs));
        const to = Date.now();
        // Requests the gateway started before `to` are logged once they complete.
        await new Promise((r) => setTimeout(r, 500));
        steps.push({ v1, v2, routed: await ctx.routedVersions('/api/payments/validate', from, to) });
      }
    } finally {
      stop.stopped = true;
    }
    const samples = await load;
    for (const { v1, v2, routed } of steps) {
      const total = [...routed.values()].reduce((a, b) => a + b, 0);
      const v2Share = (100 * (routed.get('v2') ?? 0)) / Math.max(1, total);
      if (v1 === 0) ctx.expectEqual(`requests answered by v1 at 0/100 (weight 0 is exact; of ${total} the gateway routed)`, routed.get('v1') ?? 0, 0);
      else ctx.expectNear(`v2 share at ${v1}/${v2} over ${total} requests the gateway routed`, v2Share, v2, 3, '%');
      ctx.expectAtLeast(`requests measured at ${v1}/${v2}`, total, Math.floor(perStep / 2));
    }
    ctx.expectEqual(`errors across the whole run, shifts included (of ${samples.length})`, samples.filter((s) => s.status !== 200).length, 0);
  },
});
