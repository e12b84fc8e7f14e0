import { defineScenario } from './runner/scenario';
import { ORDER, paymentsDestinationRule } from './runner/fixtures';

const PAYMENTS_CLUSTER = 'outbound|80||payments.default.svc.cluster.local';
const SICK = 'payments-v1-0';

/** One call to the sick instance, ms on one clock: dispatched (its logged start, whole ms) and answered. */
export interface SickCall {
  dispatched: number;
  answered: number;
  code: number;
}

/**
 * The ejection as the calls show it. The detector ejects inline on the threshold-th consecutive 5xx answer, so
 * the ejection instant is that 5xx in answer order. Calls dispatched before it and answered after were in
 * flight when it landed: Envoy lets requests already routed to a host finish, so they add 5xx (6–7 on a loaded
 * machine) without a late ejection. A call dispatched after it (a start logged ≥ 1 ms later: starts are whole
 * ms, floored) means the host was still in the pool. Counted up to the host's return: its first success
 * dispatched after the ejection. undefined when fewer 5xx than the threshold were answered.
 */
export function ejectionOf(calls: readonly SickCall[], threshold: number): { ejectedAt: number; errors: number; inFlight: number; dispatchedWhileEjected: number; back?: number } | undefined {
  const byAnswer = [...calls].sort((a, b) => a.answered - b.answered);
  const nth = byAnswer.filter((c) => c.code >= 500)[threshold - 1];
  if (!nth) return undefined;
  const ejectedAt = nth.answered;
  const after = (c: SickCall): boolean => c.dispatched >= ejectedAt + 1;
  const back = byAnswer.filter((c) => after(c) && c.code < 500).sort((a, b) => a.dispatched - b.dispatched)[0]?.dispatched;
  const untilBack = byAnswer.filter((c) => back === undefined || c.dispatched < back);
  return {
    ejectedAt,
    errors: untilBack.filter((c) => c.code >= 500).length,
    inFlight: untilBack.filter((c) => c.code >= 500 && !after(c) && c.answered > ejectedAt).length,
    dispatchedWhileEjected: untilBack.filter(after).length,
    back,
  };
}

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
    fails: ['5xx answered by the sick instance until its ejection', 'requests dispatched to the ejected instance while ejected', 'orders success rate after the ejection'],
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

    // Orders' sidecar log: each call to the sick instance as dispatched (start_time, whole ms) and answered.
    const calls = (await ctx.accessLog('orders-v1-0'))
      .filter((e) => e.direction === 'outbound' && e.upstream_cluster === PAYMENTS_CLUSTER && e.upstream_instance === SICK)
      .map((e) => ({ dispatched: ctx.at(e.start_time), answered: ctx.at(e.start_time) + e.duration_ms, code: e.response_code }))
      .filter((c) => c.answered >= sickAt);
    const ej = ejectionOf(calls, 5);
    if (!ej) {
      ctx.expectEqual('5xx answered by the sick instance until its ejection, beside calls already in flight', calls.filter((c) => c.code >= 500).length, 5);
      return;
    }
    const { ejectedAt, back } = ej;
    ctx.mark(ctx.control ? `${SICK}'s 5th consecutive 5xx (control arm: no outlierDetection to eject it)` : `${SICK} ejected at its 5th consecutive 5xx; ${ej.inFlight} more call(s) were in flight to it then (dispatched before, answered after: Envoy lets them finish)`, ejectedAt);
    ctx.expectEqual(`5xx answered by the sick instance until its ejection, beside calls already in flight (${ej.errors} 5xx, ${ej.inFlight} in flight)`, ej.errors - ej.inFlight, 5);
    ctx.expectEqual('requests dispatched to the ejected instance while ejected', ej.dispatchedWhileEjected, 0);
    if (back !== undefined) {
      const returnMs = back - ejectedAt;
      ctx.mark(`${SICK} back in the pool`, back);
      ctx.check('returns at the first sweep after baseEjectionTime', `${baseMs}–${baseMs + intervalMs + 250} ms after ejection`, `${Math.round(returnMs)} ms`, returnMs >= baseMs - 50 && returnMs <= baseMs + intervalMs + 250);
    } else {
      ctx.check('returns at the first sweep after baseEjectionTime', `within ${baseMs + intervalMs + 250} ms`, 'never came back during the run', false);
    }
    const after = samples.filter((s) => s.t > ejectedAt + 5);
    const okAfter = (100 * after.filter((s) => s.status === 201).length) / Math.max(1, after.length);
    ctx.expectAtLeast(`orders success rate after the ejection (${after.length} orders)`, okAfter, 99, '%');
  },
});
