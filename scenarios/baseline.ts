import { defineScenario } from './runner/scenario';
import { ORDER } from './runner/fixtures';

/** The world with no policy at all: the reference every other lab is compared with. */
export default defineScenario({
  name: 'baseline',
  title: 'steady orders through the mesh with no policy: all confirmed, spread over every payments instance',
  teaches: [
    'Every request crosses the gateway, the orders sidecar and a payments sidecar; with no DestinationRule',
    'load balancing is round robin over every ready endpoint, both versions included.',
  ],
  async run(ctx) {
    const samples = await ctx.load('orders', { path: '/orders', body: ORDER, rps: 50, durationMs: ctx.pick(6000, 2000), concurrency: 16 });
    const ok = samples.filter((s) => s.status === 201).length;
    ctx.expectEqual(`orders confirmed (of ${samples.length})`, ok, samples.length);
    const byVersion = (v: string): number => (100 * samples.filter((s) => s.version === v).length) / samples.length;
    // Round robin over 3 endpoints (2 × v1, 1 × v2) gives v2 one third of the orders.
    ctx.expectNear(`share charged by v2 over ${samples.length} orders`, byVersion('v2'), 33.3, 5, '%');
  },
});
