import { defineScenario } from './runner/scenario';
import { ORDER, paymentsDestinationRule } from './runner/fixtures';

const PAYMENTS_CLUSTER = 'outbound|80||payments.default.svc.cluster.local';
const SICK = 'payments-v1-0';

/**
 * Outlier detection (Envoy's passive health checking): a payments instance starts failing; after
 * exactly 5 consecutive 5xx its callers stop sending it traffic, and it returns at the first sweep
 * after the ejection time.
 */
export default defineScenario({
  name: 'circuit-breaker',
  title: 'one payments instance turns sick: ejected after exactly 5 consecutive 5xx, back after baseEjectionTime',
  teaches: [
    'outlierDetection ejects a host inline at the consecutive5xxErrors threshold; an ejected host returns only at an',
    'interval sweep after baseEjectionTime × (times ejected). maxEjectionPercent 100 lets it eject 1 of 3 hosts;',
    "Istio's default 10% would eject nothing below 10 hosts.",
  ],
  control: {
    removes: 'no outlierDetection (the DestinationRule without it)',
    shows: 'without outlierDetection the sick instance keeps answering 5xx: never ejected, orders keep failing',
    fails: ['5xx answered by the sick instance before its ejection', 'requests reaching the ejected instance while ejected', 'orders success rate after the ejection'],
  },
  async run(ctx) {
    const intervalMs = ctx.pick(1000, 500);
    const baseMs = ctx.pick(5000, 2000);
    await ctx.applyPolicy(
      paymentsDestinationRule(`outlierDetection:
  consecutive5xxErrors: 5
  interval: ${intervalMs}ms
  baseEjectionTime: ${baseMs}ms
  maxEjectionPercent: 100`),
      'outlierDetection: consecutive5xxErrors 5',
    );
    const rps = 50;
    const totalMs = 1000 + 1000 + baseMs + intervalMs + ctx.pick(3000, 1500);
    const load = ctx.load('orders', { path: '/orders', body: ORDER, rps, durationMs: totalMs, concurrency: 16 });

    await new Promise((r) => setTimeout(r, 1000));
    const sickAt = ctx.now();
    await ctx.lab(SICK).sick({ error_rate: 1, status: 500 });
    // Heal it as soon as the orders sidecar has ejected it, so its return can be watched. (The
    // control arm has no ejection to wait for: its sick instance stays sick to the end of the load.)
    const deadline = Date.now() + (ctx.control ? 0 : 5000);
    let ejected = false;
    while (!ejected && Date.now() < deadline) {
      const clusters = await ctx.clusters('orders-v1-0');
      ejected = !!clusters.find((c) => c.name === PAYMENTS_CLUSTER)?.hosts.find((h) => h.instance === SICK)?.ejected;
      if (!ejected) await new Promise((r) => setTimeout(r, 20));
    }
    if (!ctx.control) await ctx.lab(SICK).heal();
    const samples = await load;
    if (ctx.control) await ctx.lab(SICK).heal();

    const log = (await ctx.accessLog('orders-v1-0')).filter((e) => e.direction === 'outbound' && e.upstream_cluster === PAYMENTS_CLUSTER && ctx.at(e.start_time) >= sickAt - 50);
    const toSick = log.filter((e) => e.upstream_instance === SICK).sort((a, b) => Date.parse(a.start_time) - Date.parse(b.start_time));
    const errors = toSick.filter((e) => e.response_code >= 500);
    const fifth = errors[4];
    ctx.expectEqual('5xx answered by the sick instance before its ejection', errors.length, 5);
    if (!fifth) return;
    const ejectedAt = ctx.at(fifth.start_time) + fifth.duration_ms;
    ctx.mark(`${SICK} ejected after its 5th consecutive 5xx`, ejectedAt);
    const back = toSick.find((e) => ctx.at(e.start_time) > ejectedAt + 5 && e.response_code < 500);
    const duringEjection = toSick.filter((e) => ctx.at(e.start_time) > ejectedAt + 5 && (!back || e.start_time < back.start_time));
    ctx.expectEqual('requests reaching the ejected instance while ejected', duringEjection.length, 0);
    if (back) {
      const returnMs = ctx.at(back.start_time) - ejectedAt;
      ctx.mark(`${SICK} back in the pool`, ctx.at(back.start_time));
      ctx.check('returns at the first sweep after baseEjectionTime', `${baseMs}–${baseMs + intervalMs + 250} ms after ejection`, `${Math.round(returnMs)} ms`, returnMs >= baseMs - 50 && returnMs <= baseMs + intervalMs + 250);
    } else {
      ctx.check('returns at the first sweep after baseEjectionTime', `within ${baseMs + intervalMs + 250} ms`, 'never came back during the run', false);
    }
    const after = samples.filter((s) => s.t > ejectedAt + 5);
    const okAfter = (100 * after.filter((s) => s.status === 201).length) / Math.max(1, after.length);
    ctx.expectAtLeast(`orders success rate after the ejection (${after.length} orders)`, okAfter, 99, '%');
  },
});
