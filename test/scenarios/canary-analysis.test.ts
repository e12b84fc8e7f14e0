import { histogramQuantile, runCanaryAnalysis, validateAnalysis, type CanaryAnalysisSpec, type VersionCounters } from '../../scenarios/delivery/canary-analysis';

const SPEC: CanaryAnalysisSpec = { stepWeights: [5, 10, 25, 50, 100], intervalMs: 100, threshold: 2, minSuccessRate: 99, maxP99Ms: 500 };

/** A canary whose every interval serves `perInterval(i)` = [requests, errors, latency ms of each]. */
function fakeTarget(perInterval: (i: number) => [number, number, number]) {
  const weights: number[] = [];
  const c: VersionCounters = { total: 0, errors: 0, buckets: new Map([[10, 0], [100, 0], [1000, 0], [Infinity, 0]]) };
  let i = 0;
  return {
    weights,
    target: {
      setWeight: async (w: number) => void weights.push(w),
      read: async (): Promise<VersionCounters> => ({ total: c.total, errors: c.errors, buckets: new Map(c.buckets) }),
      sleep: async () => {
        const [n, errors, ms] = perInterval(i++);
        c.total += n;
        c.errors += errors;
        for (const le of c.buckets.keys()) if (ms <= le) c.buckets.set(le, c.buckets.get(le)! + n);
      },
    },
  };
}

describe('canary analysis (Flagger-style)', () => {
  test('a healthy canary goes 5→10→25→50→100 in 5 intervals and is promoted', async () => {
    const { weights, target } = fakeTarget(() => [100, 0, 5]);
    const r = await runCanaryAnalysis(target, SPEC, () => undefined);
    expect(r.outcome).toBe('promoted');
    expect(weights).toEqual([5, 10, 25, 50, 100]);
    expect(r.decisions.map((d) => d.action)).toEqual(['start', 'advance', 'advance', 'advance', 'advance', 'promote']);
  });

  test('a canary at 2% errors fails each check and is rolled back to 0 after exactly 2 failed checks, at 5%', async () => {
    const { weights, target } = fakeTarget(() => [100, 2, 5]);
    const r = await runCanaryAnalysis(target, SPEC, () => undefined);
    expect(r.outcome).toBe('rolled back');
    expect(weights).toEqual([5, 0]);
    expect(r.decisions.map((d) => [d.action, d.failedChecks])).toEqual([['start', 0], ['hold', 1], ['rollback', 2]]);
    expect(r.decisions[1].successRate).toBeCloseTo(98, 5);
  });

  test('a slow canary (p99 over 500 ms) is held then rolled back; a pass between failures does not reset the failed-check count', async () => {
    const script: [number, number, number][] = [[100, 0, 5], [100, 0, 900], [100, 0, 5], [100, 0, 900]];
    const { weights, target } = fakeTarget((i) => script[i]);
    const r = await runCanaryAnalysis(target, SPEC, () => undefined);
    expect(r.outcome).toBe('rolled back');
    expect(weights).toEqual([5, 10, 25, 0]);
    expect(r.decisions[2].p99Ms).toBeGreaterThan(500);
  });

  test('an interval without canary requests is a failed check', async () => {
    const { target } = fakeTarget(() => [0, 0, 0]);
    const r = await runCanaryAnalysis(target, SPEC, () => undefined);
    expect(r.outcome).toBe('rolled back');
    expect(r.decisions[1].reason).toMatch(/no canary requests/);
  });

  test("histogramQuantile interpolates inside the bucket like Prometheus' histogram_quantile", () => {
    // 100 requests: 50 ≤ 10 ms, 40 in (10, 100], 10 in (100, 1000]: rank 99 is the 9th of 10 in the last bucket.
    const b = new Map([[10, 50], [100, 90], [1000, 100], [Infinity, 100]]);
    expect(histogramQuantile(0.99, b, 100)).toBeCloseTo(100 + (900 * 9) / 10, 5);
    expect(histogramQuantile(0.5, b, 100)).toBeCloseTo(10, 5);
    expect(histogramQuantile(0.99, new Map([[10, 0], [Infinity, 5]]), 5)).toBe(10);
  });

  test('bad analysis settings are refused with every problem named', () => {
    expect(validateAnalysis({ ...SPEC, stepWeights: [10, 5, 101], threshold: 0, intervalMs: 5 })).toEqual([
      'stepWeights must increase: 10 then 5',
      'stepWeights[2] must be an integer from 1 to 100, got 101',
      'interval must be at least 100ms, got 5 ms',
      'threshold must be an integer ≥ 1, got 0',
    ]);
  });
});
