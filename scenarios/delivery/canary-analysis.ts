import type { WorldState } from '../../world/state';

/**
 * An automated canary like Flagger's analysis (fluxcd.io/flagger/usage/metrics): every interval it
 * reads the canary's metrics from the mesh — request success rate (non-5xx %) and request duration
 * p99 (ms), both from the canary's own sidecars (`reporter="destination"`) — and, while both are
 * within their thresholds, moves the canary to the next weight (stepWeights, the last = promotion).
 * A failed check holds the weight; `threshold` failed checks roll the canary back to weight 0. An
 * interval without any canary request is a failed check, as in Flagger ("no values found"). A
 * passing check does not reset the failed-check count (the count is per analysis run).
 */
export interface CanaryAnalysisSpec {
  /** Canary weights in order, e.g. [5, 10, 25, 50, 100]; reaching the last one promotes. */
  stepWeights: number[];
  intervalMs: number;
  /** Failed checks before the rollback. */
  threshold: number;
  /** request-success-rate thresholdRange.min, percent. */
  minSuccessRate: number;
  /** request-duration thresholdRange.max, ms (p99). */
  maxP99Ms: number;
}

export const DEFAULT_ANALYSIS: CanaryAnalysisSpec = { stepWeights: [5, 10, 25, 50, 100], intervalMs: 10_000, threshold: 2, minSuccessRate: 99, maxP99Ms: 500 };

export interface CanaryDecision {
  /** Wall-clock time of the decision. */
  at: number;
  weight: number;
  requests: number;
  successRate: number;
  p99Ms: number;
  failedChecks: number;
  action: 'start' | 'advance' | 'hold' | 'promote' | 'rollback';
  reason: string;
}

/** What the analysis needs of a world: the weights it sets and the canary's metrics it reads. */
export interface CanaryTarget {
  setWeight(canaryWeight: number): Promise<void>;
  /** Cumulative counters of the canary's requests, summed over its instances. */
  read(): Promise<VersionCounters>;
  sleep(ms: number): Promise<void>;
}

export interface VersionCounters {
  total: number;
  errors: number;
  /** Cumulative histogram: upper bound (ms, Infinity for +Inf) → count. */
  buckets: Map<number, number>;
}

export function validateAnalysis(a: CanaryAnalysisSpec): string[] {
  const errors: string[] = [];
  if (a.stepWeights.length === 0) errors.push('stepWeights must list at least one weight');
  a.stepWeights.forEach((w, i) => {
    if (!Number.isInteger(w) || w < 1 || w > 100) errors.push(`stepWeights[${i}] must be an integer from 1 to 100, got ${w}`);
    else if (i > 0 && w <= a.stepWeights[i - 1]) errors.push(`stepWeights must increase: ${a.stepWeights[i - 1]} then ${w}`);
  });
  if (!(a.intervalMs >= 100)) errors.push(`interval must be at least 100ms, got ${a.intervalMs} ms`);
  if (!(Number.isInteger(a.threshold) && a.threshold >= 1)) errors.push(`threshold must be an integer ≥ 1, got ${a.threshold}`);
  if (!(a.minSuccessRate >= 0 && a.minSuccessRate <= 100)) errors.push(`min success rate must be 0–100 %, got ${a.minSuccessRate}`);
  if (!(a.maxP99Ms > 0)) errors.push(`max p99 must be > 0 ms, got ${a.maxP99Ms}`);
  return errors;
}

/** Runs the analysis to its end: promoted (weight = last step) or rolled back (weight 0). */
export async function runCanaryAnalysis(target: CanaryTarget, spec: CanaryAnalysisSpec, onDecision: (d: CanaryDecision) => void): Promise<{ outcome: 'promoted' | 'rolled back'; decisions: CanaryDecision[] }> {
  const problems = validateAnalysis(spec);
  if (problems.length) throw new Error(`invalid canary analysis: ${problems.join('; ')}`);
  const decisions: CanaryDecision[] = [];
  const decide = (d: Omit<CanaryDecision, 'at'>): void => {
    const full = { at: Date.now(), ...d };
    decisions.push(full);
    onDecision(full);
  };
  let step = 0;
  let failed = 0;
  await target.setWeight(spec.stepWeights[0]);
  decide({ weight: spec.stepWeights[0], requests: 0, successRate: NaN, p99Ms: NaN, failedChecks: 0, action: 'start', reason: `canary at ${spec.stepWeights[0]}%` });
  let before = await target.read();
  for (;;) {
    await target.sleep(spec.intervalMs);
    const now = await target.read();
    const delta = subtract(now, before);
    before = now;
    const weight = spec.stepWeights[step];
    const successRate = delta.total === 0 ? NaN : (100 * (delta.total - delta.errors)) / delta.total;
    const p99Ms = histogramQuantile(0.99, delta.buckets, delta.total);
    const why: string[] = [];
    if (delta.total === 0) why.push('no canary requests in the interval');
    else {
      if (successRate < spec.minSuccessRate) why.push(`success rate ${successRate.toFixed(2)}% < ${spec.minSuccessRate}%`);
      if (p99Ms > spec.maxP99Ms) why.push(`p99 ${p99Ms.toFixed(1)} ms > ${spec.maxP99Ms} ms`);
    }
    const base = { requests: delta.total, successRate, p99Ms };
    if (why.length) {
      failed++;
      if (failed >= spec.threshold) {
        await target.setWeight(0);
        decide({ ...base, weight: 0, failedChecks: failed, action: 'rollback', reason: `${why.join(', ')}; ${failed} failed checks (threshold ${spec.threshold}): rolled back to 0%` });
        return { outcome: 'rolled back', decisions };
      }
      decide({ ...base, weight, failedChecks: failed, action: 'hold', reason: `${why.join(', ')}; failed check ${failed} of ${spec.threshold}: holding at ${weight}%` });
      continue;
    }
    if (step === spec.stepWeights.length - 1) {
      decide({ ...base, weight, failedChecks: failed, action: 'promote', reason: `checks passed at ${weight}%: promoted` });
      return { outcome: 'promoted', decisions };
    }
    step++;
    await target.setWeight(spec.stepWeights[step]);
    const last = step === spec.stepWeights.length - 1;
    decide({ ...base, weight: spec.stepWeights[step], failedChecks: failed, action: 'advance', reason: `checks passed (${successRate.toFixed(2)}%, p99 ${p99Ms.toFixed(1)} ms): ${weight}% → ${spec.stepWeights[step]}%${last ? ' (analysed once more, then promoted)' : ''}` });
  }
}

function subtract(a: VersionCounters, b: VersionCounters): VersionCounters {
  const buckets = new Map<number, number>();
  for (const [le, n] of a.buckets) buckets.set(le, n - (b.buckets.get(le) ?? 0));
  return { total: a.total - b.total, errors: a.errors - b.errors, buckets };
}

/** Prometheus' histogram_quantile: linear interpolation inside the bucket holding the rank; the +Inf bucket gives the highest finite bound. */
export function histogramQuantile(q: number, buckets: Map<number, number>, total: number): number {
  if (total <= 0) return NaN;
  const bounds = [...buckets.keys()].sort((x, y) => x - y);
  const rank = q * total;
  let prevBound = 0;
  let prevCount = 0;
  for (const le of bounds) {
    const count = buckets.get(le)!;
    if (count >= rank) {
      if (le === Infinity) return prevBound;
      return prevBound + ((le - prevBound) * (rank - prevCount)) / Math.max(1, count - prevCount);
    }
    prevBound = le;
    prevCount = count;
  }
  return prevBound;
}

/** Reads one version's counters from its instances' sidecars (`/metrics`, reporter="destination"). */
export async function readVersionCounters(state: WorldState, service: string, version: string): Promise<VersionCounters> {
  const out: VersionCounters = { total: 0, errors: 0, buckets: new Map() };
  for (const inst of state.instances.filter((i) => i.service === service && i.version === version)) {
    const port = inst.sidecar.ports.admin;
    if (!port) continue;
    const text = await (await fetch(`http://${state.host}:${port}/metrics`)).text().catch(() => '');
    for (const line of text.split('\n')) {
      const m = /^(istio_requests_total|istio_request_duration_milliseconds_bucket)\{(.*)\} (\S+)$/.exec(line);
      if (!m) continue;
      const labels: Record<string, string> = {};
      for (const l of m[2].matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
      if (labels.reporter !== 'destination') continue;
      const v = Number(m[3]);
      if (m[1] === 'istio_requests_total') {
        out.total += v;
        if (labels.response_code?.startsWith('5')) out.errors += v;
      } else {
        const le = labels.le === '+Inf' ? Infinity : Number(labels.le);
        out.buckets.set(le, (out.buckets.get(le) ?? 0) + v);
      }
    }
  }
  return out;
}

/** The payments VirtualService that puts `canaryWeight` % on `canary` and the rest on `primary`. */
export function splitYaml(host: string, primary: string, canary: string, canaryWeight: number): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ${host}
spec:
  hosts: [${host}]
  http:
  - route:
    - destination: {host: ${host}, subset: ${primary}}
      weight: ${100 - canaryWeight}
    - destination: {host: ${host}, subset: ${canary}}
      weight: ${canaryWeight}
`;
}
