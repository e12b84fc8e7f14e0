import { defineScenario } from './runner/scenario';
import { ORDER, paymentsDestinationRule } from './runner/fixtures';

const SLOW = 'payments-v1-0';
const SLOW_MS = 500;

/** The world with no policy at all: the reference every other lab is compared with, and the default load balancer. */
export default defineScenario({
  name: 'baseline',
  title: 'steady orders with no policy: all confirmed over every payments instance; LEAST_REQUEST steers around a slow one',
  teaches: [
    'Every request crosses the gateway, the orders sidecar and a payments sidecar. With no DestinationRule the load',
    "balancer is Istio's default LEAST_REQUEST (power of two choices: of two random hosts, the one with fewer requests",
    `in flight), not round robin: equal hosts get equal shares, and a host ${SLOW_MS} ms slower gets far less than its third.`,
  ],
  control: {
    removes: 'loadBalancer ROUND_ROBIN instead of the default LEAST_REQUEST',
    shows: 'round robin gives the slow instance its full third whatever its latency',
    fails: ['share of requests the slow instance answered'],
  },
  async run(ctx) {
    if (ctx.control) await ctx.apply(paymentsDestinationRule('loadBalancer:\n  simple: ROUND_ROBIN'), 'control arm: loadBalancer ROUND_ROBIN');
    const samples = await ctx.load('orders', { path: '/orders', body: ORDER, rps: 50, durationMs: ctx.pick(6000, 2000), concurrency: 16 });
    const ok = samples.filter((s) => s.status === 201).length;
    ctx.expectEqual(`orders confirmed (of ${samples.length})`, ok, samples.length);
    const byVersion = (v: string): number => (100 * samples.filter((s) => s.version === v).length) / samples.length;
    // Equal hosts: LEAST_REQUEST (like round robin) gives each of the 3 endpoints (2 × v1, 1 × v2) a third.
    ctx.expectNear(`share charged by v2 over ${samples.length} orders`, byVersion('v2'), 33.3, 5, '%');

    // One instance turns slow: the gateway's picks see its requests pile up and choose the other host of each pair.
    await ctx.lab(SLOW).sick({ latency_ms: SLOW_MS });
    const slow = await ctx.load(`${SLOW} +${SLOW_MS} ms`, { path: '/api/payments/validate?amount=1', rps: 100, durationMs: ctx.pick(4000, 2000), concurrency: 32 });
    await ctx.lab(SLOW).heal();
    ctx.expectEqual(`requests answered while ${SLOW} is slow (of ${slow.length})`, slow.filter((s) => s.status === 200).length, slow.length);
    const slowShare = (100 * slow.filter((s) => s.instance === SLOW).length) / slow.length;
    ctx.expectAtMost(`share of requests the slow instance answered (round robin: 33.3%; ${slow.length} requests)`, slowShare, 25, '%');
  },
});
