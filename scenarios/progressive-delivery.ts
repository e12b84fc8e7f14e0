import { defineScenario } from './runner/scenario';
import { runCanaryAnalysis, readVersionCounters, splitYaml, type CanaryAnalysisSpec, type CanaryDecision } from './delivery/canary-analysis';

const CANARY_INSTANCE = 'payments-v2-0';

/**
 * Progressive delivery (Flagger's canary analysis on the lab): the weight on payments v2 steps
 * 5 → 10 → 25 → 50 → 100 while its success rate and p99 — read from v2's own sidecars — stay within
 * thresholds; a bad v2 is rolled back after `threshold` failed checks.
 */
export default defineScenario({
  name: 'progressive-delivery',
  title: 'automated canary: v2 stepped 5→10→25→50→100 while success ≥ 99% and p99 ≤ 500 ms; a bad v2 rolled back after 2 failed checks',
  teaches: [
    'An analysis loop does what a person watching dashboards would: every interval it reads the canary\'s request success',
    'rate and p99 from the mesh (istio_requests_total, istio_request_duration_milliseconds at v2\'s sidecars), advances the',
    'weight while both hold, holds it on a failed check, and routes everything back to v1 after 2 failed checks (Flagger).',
  ],
  control: {
    removes: 'no analysis: the weight steps on schedule whatever the metrics say',
    shows: 'without the analysis the bad v2 is promoted to 100% and its errors reach users',
    fails: ['bad v2: rolled back', 'bad v2: failed requests'],
  },
  async run(ctx) {
    const spec: CanaryAnalysisSpec = { stepWeights: [5, 10, 25, 50, 100], intervalMs: ctx.pick(2000, 1000), threshold: 2, minSuccessRate: 99, maxP99Ms: 500 };
    const log = (d: CanaryDecision): void => ctx.mark(`canary ${d.action} @ ${d.weight}%: ${d.reason}${d.requests ? ` [${d.requests} req, ${Number.isNaN(d.successRate) ? '-' : d.successRate.toFixed(1)}%, p99 ${Number.isNaN(d.p99Ms) ? '-' : d.p99Ms.toFixed(0)} ms]` : ''}`);
    const target = {
      setWeight: async (w: number) => {
        await ctx.world.applyConfig([{ name: 'canary.yaml', text: splitYaml('payments', 'v1', 'v2', w) }]);
      },
      read: () => readVersionCounters(ctx.world.state(), 'payments', 'v2'),
      sleep: (ms: number) => new Promise<void>((r) => setTimeout(r, ms)),
    };
    // The control arm: the same steps on the same schedule, no checks.
    const schedule = async (): Promise<{ outcome: string; decisions: CanaryDecision[] }> => {
      const decisions: CanaryDecision[] = [];
      for (const w of spec.stepWeights) {
        await target.setWeight(w);
        const d: CanaryDecision = { at: Date.now(), weight: w, requests: 0, successRate: NaN, p99Ms: NaN, failedChecks: 0, action: 'advance', reason: `on schedule to ${w}% (no analysis)` };
        decisions.push(d);
        log(d);
        await target.sleep(spec.intervalMs);
      }
      return { outcome: 'promoted', decisions };
    };
    const deliver = (): Promise<{ outcome: string; decisions: CanaryDecision[] }> => (ctx.control ? schedule() : runCanaryAnalysis(target, spec, log));
    const ok = (s: { status: number }): boolean => s.status === 200;
    const traffic = (series: string, stop: { stopped: boolean }) => ctx.load(series, { path: '/api/payments/validate?amount=5', rps: 100, durationMs: 120_000, concurrency: 16 }, stop);

    // 1. A good v2: promoted step by step, no order failing.
    await target.setWeight(0);
    let stop = { stopped: false };
    let load = traffic('good v2', stop);
    const good = await deliver().finally(() => (stop.stopped = true));
    const goodSamples = await load;
    ctx.expectEqual('good v2: outcome', good.outcome, 'promoted');
    ctx.expectEqual('good v2: weights it went through', good.decisions.filter((d) => d.action !== 'hold' && d.action !== 'rollback').map((d) => d.weight).filter((w, i, a) => a.indexOf(w) === i).join('→'), spec.stepWeights.join('→'));
    ctx.expectEqual(`good v2: failed requests (of ${goodSamples.length})`, goodSamples.filter((s) => !ok(s)).length, 0);

    // 2. A bad v2 (every answer 503): rolled back after 2 failed checks, at the first step.
    await target.setWeight(0);
    await ctx.lab(CANARY_INSTANCE).sick({ error_rate: 1, status: 503 });
    stop = { stopped: false };
    load = traffic('bad v2', stop);
    const bad = await deliver();
    // Traffic goes on after the decision: none of it may reach v2 (its own sidecar's count; 200 ms for calls routed before).
    await new Promise((r) => setTimeout(r, 200));
    const v2Before = (await target.read()).total;
    await new Promise((r) => setTimeout(r, spec.intervalMs));
    const v2After = (await target.read()).total;
    stop.stopped = true;
    const badSamples = await load;
    await ctx.lab(CANARY_INSTANCE).heal();
    const rollback = bad.decisions.find((d) => d.action === 'rollback');
    ctx.expectEqual('bad v2: rolled back (outcome)', bad.outcome, 'rolled back');
    ctx.expectEqual('bad v2: failed checks before the rollback', rollback?.failedChecks ?? 0, spec.threshold);
    ctx.expectEqual('bad v2: highest weight it reached', Math.max(...bad.decisions.map((d) => d.weight)), spec.stepWeights[0]);
    ctx.expectEqual(`bad v2: requests reaching v2 in the ${spec.intervalMs} ms after the rollback`, v2After - v2Before, 0);
    const failed = badSamples.filter((s) => !ok(s)).length;
    // At 5% of traffic for 2 intervals ≈ 2–3% of requests fail before the rollback; promoted to 100% it would be most of them.
    ctx.expectAtMost(`bad v2: failed requests (of ${badSamples.length}; the canary's 5% for 2 intervals)`, (100 * failed) / Math.max(1, badSamples.length), 10, '%');
    await target.setWeight(0);
  },
});
