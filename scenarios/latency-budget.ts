import path from 'node:path';
import os from 'node:os';
import { GeneratorClient } from '../bench/generator-client';
import { planPinning } from '../bench/pin';
import type { OpenLoopResult } from '../bench/generator';
import { defineScenario } from './runner/scenario';
import { paymentsVirtualService } from './runner/fixtures';

const DIST = path.resolve(__dirname, '..');
const us = (v: number): string => `${(v / 1000).toFixed(3)} ms`;

/** The mesh's price: per-hop overhead at a fixed rate, measured in microseconds against the product's budget. */
export default defineScenario({
  name: 'latency-budget',
  benchmark: true,
  title: "per-hop overhead at a fixed rate (open loop, µs histograms) against the bench's goals: 60 µs p50, 0.5 ms p99 per hop",
  teaches: [
    'Every sidecar hop costs time: parsing, routing, a second connection. Measured open loop from the intended send',
    'time (no coordinated omission) with µs resolution, direct to payments vs through its sidecar vs the full mesh path.',
    "The budget is the bench's per-hop goal (p50 ≤ 60 µs, p99 ≤ 0.5 ms); a benchmark lab: CI checks only that it measured.",
  ],
  control: {
    removes: 'a 2 ms fault delay on every payments call from orders (a hop that costs what no sidecar may)',
    shows: 'a 2 ms injected delay on the path blows the per-hop p50 budget: the budget check can fail',
    fails: ['mesh path: added p50 per proxy hop'],
  },
  async run(ctx) {
    if (ctx.control) {
      await ctx.apply(paymentsVirtualService(`- fault:
    delay:
      fixedDelay: 2ms
      percentage: {value: 100}
  route:
  - destination: {host: payments}`), 'control arm: 2 ms delay on every payments call');
    }
    const state = ctx.world.state();
    const payments = state.instances.find((i) => i.id === 'payments-v1-0');
    const orders = state.instances.find((i) => i.id === 'orders-v1-0');
    if (!payments || !orders) throw new Error('needs payments-v1-0 and orders-v1-0');
    const rate = ctx.pick(500, 300);
    const durationMs = ctx.pick(5000, 2000);
    const gen = new GeneratorClient(DIST, path.join(os.tmpdir(), `meshlab-latency-budget-${process.pid}.log`));
    await gen.start(planPinning(/* disabled: the world's processes share both cores */ true));
    try {
      const measure = async (name: string, port: number, hostHeader: string): Promise<OpenLoopResult> => {
        const base = { host: state.host, port, path: '/api/payments/validate?amount=1', hostHeader, rate, concurrency: 16 };
        await gen.openLoop({ ...base, durationMs: 500 }); // warm-up: JIT, connections
        const r = await gen.openLoop({ ...base, durationMs });
        ctx.mark(`${name}: p50 ${us(r.latency.p50)}, p99 ${us(r.latency.p99)} (${r.completed} requests, ${r.errors} errors)`);
        return r;
      };
      // (A sidecar's inbound port is not measured alone: payments' AuthorizationPolicy refuses callers without a mesh identity.)
      const direct = await measure('direct to the payments app', payments.app.ports.http, 'payments');
      const mesh = await measure('orders sidecar → chaos edge → payments sidecar (2 sidecar hops, mTLS)', orders.sidecar.ports.outbound, 'payments');
      const perHop = (r: OpenLoopResult, hops: number, p: 'p50' | 'p99'): number => (r.latency[p] - direct.latency[p]) / hops;
      ctx.mark(`direct p50 / p99: ${us(direct.latency.p50)} / ${us(direct.latency.p99)} (the reference the hops are measured against)`);
      ctx.expectEqual('errors in both runs', direct.errors + mesh.errors, 0);
      // Three proxies on the path: the orders sidecar, the chaos edge (a TCP proxy) and the payments sidecar.
      ctx.expectAtMost('mesh path: added p50 per proxy hop (3 hops: 2 sidecars + the chaos edge)', perHop(mesh, 3, 'p50') / 1000, 0.06, ' ms');
      ctx.expectAtMost('mesh path: added p99 per proxy hop', perHop(mesh, 3, 'p99') / 1000, 0.5, ' ms');
    } finally {
      await gen.stop();
    }
  },
});
