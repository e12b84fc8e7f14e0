import path from 'node:path';
import os from 'node:os';
import { GeneratorClient } from '../bench/generator-client';
import { planPinning } from '../bench/pin';
import type { OpenLoopResult } from '../bench/generator';
import { defineScenario } from './runner/scenario';

const DIST = path.resolve(__dirname, '..');
const us = (v: number): string => `${(v / 1000).toFixed(3)} ms`;

/** The mesh's price: per-hop overhead at a fixed rate, measured in microseconds against the product's budget. */
export default defineScenario({
  name: 'latency-budget',
  benchmark: true,
  title: 'per-hop overhead at a fixed rate (open loop, µs histograms) within the 1–2 ms budget',
  teaches: [
    'Every sidecar hop costs time: parsing, routing, a second connection. Measured open loop from the intended send',
    'time (no coordinated omission) with µs resolution, direct to payments vs through its sidecar vs the full mesh path.',
  ],
  async run(ctx) {
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
      ctx.expectEqual('errors in both runs', direct.errors + mesh.errors, 0);
      ctx.expectAtMost('mesh path: added p50 per sidecar hop', perHop(mesh, 2, 'p50') / 1000, 1, ' ms');
      ctx.expectAtMost('mesh path: added p99 per sidecar hop (the product promises 1–2 ms)', perHop(mesh, 2, 'p99') / 1000, 2, ' ms');
      ctx.check('for the record: direct p50 / p99', 'measured', `${us(direct.latency.p50)} / ${us(direct.latency.p99)}`, true);
    } finally {
      await gen.stop();
    }
  },
});
