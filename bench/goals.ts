import type { BenchResults, Cell, GoalCheck } from './results';
import { fmtUs } from './format';

/** The team's targets for one sidecar hop (see /work/shared/reference/proxy-overhead.md). */
export const GOALS = {
  rate: 1000,
  perHopP50Us: 100,
  perHopP99Us: 500,
  maxTimesHaproxy: 4,
  /** The product's promised budget for the whole mesh path (two sidecars), at p99. */
  meshBudgetUs: { low: 1000, high: 2000 },
  /** Below this, HAProxy's measured overhead is noise and "4×" of it means nothing; it is floored here. */
  haproxyNoiseFloorUs: 10,
};

/** The rate the goals are judged at: 1,000 rps when measured, else the closest measured rate. */
export function goalRate(rates: readonly number[]): number {
  return rates.reduce((best, r) => (Math.abs(r - GOALS.rate) < Math.abs(best - GOALS.rate) ? r : best), rates[0]);
}

export function checkGoals(cells: readonly Cell[], rates: readonly number[], sidecarTopologies: readonly string[]): GoalCheck[] {
  const rate = goalRate(rates);
  const at = (t: string): Cell | undefined => cells.find((c) => c.topology === t && c.rate === rate);
  const checks: GoalCheck[] = [];
  const haproxy = at('haproxy')?.perHopOverheadUs;
  for (const t of sidecarTopologies) {
    const o = at(t)?.perHopOverheadUs;
    if (!o) continue;
    checks.push({ goal: `per-hop p50 ≤ ${fmtUs(GOALS.perHopP50Us)}`, topology: t, rate, measured: fmtUs(o.p50), verdict: o.p50 <= GOALS.perHopP50Us ? 'pass' : 'fail' });
    checks.push({ goal: `per-hop p99 ≤ ${fmtUs(GOALS.perHopP99Us)}`, topology: t, rate, measured: fmtUs(o.p99), verdict: o.p99 <= GOALS.perHopP99Us ? 'pass' : 'fail' });
    for (const p of ['p50', 'p99'] as const) {
      if (!haproxy) {
        checks.push({ goal: `per-hop ${p} ≤ ${GOALS.maxTimesHaproxy}× HAProxy`, topology: t, rate, measured: 'HAProxy not measured in this run', verdict: 'n/a' });
        continue;
      }
      const ref = Math.max(haproxy[p], GOALS.haproxyNoiseFloorUs);
      const ratio = o[p] / ref;
      checks.push({
        goal: `per-hop ${p} ≤ ${GOALS.maxTimesHaproxy}× HAProxy`,
        topology: t,
        rate,
        measured: `${ratio.toFixed(1)}× (${fmtUs(o[p])} vs ${fmtUs(haproxy[p])}${haproxy[p] < GOALS.haproxyNoiseFloorUs ? `, floored to ${fmtUs(ref)}` : ''})`,
        verdict: ratio <= GOALS.maxTimesHaproxy ? 'pass' : 'fail',
      });
    }
  }
  const mesh = at('sidecar2');
  if (mesh?.perHopOverheadUs) {
    const added = mesh.perHopOverheadUs.p99 * mesh.hops;
    checks.push({
      goal: `mesh path (2 sidecars) adds ≤ ${fmtUs(GOALS.meshBudgetUs.low)}–${fmtUs(GOALS.meshBudgetUs.high)} at p99`,
      topology: 'sidecar2',
      rate,
      measured: fmtUs(added),
      verdict: added <= GOALS.meshBudgetUs.high ? 'pass' : 'fail',
    });
  }
  return checks;
}

/** The one-line summary the bench ends with. */
export function summaryLine(r: Pick<BenchResults, 'cells' | 'goals' | 'throughput' | 'meta'>): string {
  const rate = goalRate(r.meta.rates);
  const hop = (t: string) => r.cells.find((c) => c.topology === t && c.rate === rate)?.perHopOverheadUs;
  const parts: string[] = [];
  const s1 = hop('sidecar1') ?? hop('sidecar2');
  if (s1) parts.push(`sidecar hop +${fmtUs(s1.p50)} p50 / +${fmtUs(s1.p99)} p99 at ${rate} rps`);
  const h = hop('haproxy');
  if (h) parts.push(`HAProxy +${fmtUs(h.p50)} / +${fmtUs(h.p99)}`);
  const tp = r.throughput.find((t) => t.topology === 'sidecar1');
  if (tp) parts.push(`max ${tp.rps} rps through 1 sidecar`);
  const pass = r.goals.filter((g) => g.verdict === 'pass').length;
  const fail = r.goals.filter((g) => g.verdict === 'fail').length;
  parts.push(`goals: ${pass} pass, ${fail} fail`);
  const errors = r.cells.reduce((n, c) => n + c.errors, 0);
  parts.push(`${errors} errors`);
  return `bench: ${parts.join('; ')}`;
}
