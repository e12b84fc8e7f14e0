/**
 * The median of paired differences with a distribution-free confidence interval (the sign test's: order statistics of
 * the differences, no assumption about their spread), and a goal judged only where the interval lies wholly on one side.
 * For the A/B benches that interleave rounds of two arms: pairing each round's arms cancels slow drift in the machine's
 * load, and the interval says how far the rounds' spread leaves the figure from the goal.
 */

export interface PairedEstimate {
  /** Median of b[i] − a[i]. */
  median: number;
  /** Lower and upper bound of the interval, and its coverage (≥ the confidence asked for; 0 when the rounds are too few for any interval). */
  low: number;
  high: number;
  coverage: number;
}

/** P(X ≤ k) for X ~ Binomial(n, 1/2). */
function binomialCdfHalf(n: number, k: number): number {
  let term = 1; // C(n, 0)
  let sum = 0;
  for (let i = 0; i <= k; i++) {
    sum += term;
    term = (term * (n - i)) / (i + 1);
  }
  return sum / 2 ** n;
}

export function pairedMedian(a: readonly number[], b: readonly number[], confidence = 0.9): PairedEstimate {
  if (a.length !== b.length || a.length === 0) throw new Error(`pairedMedian: needs two arms of the same non-zero length, got ${a.length} and ${b.length}`);
  const s = b.map((x, i) => x - a[i]).sort((x, y) => x - y);
  const n = s.length;
  const median = n % 2 === 1 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
  // [s(k), s(n−k+1)] (1-based) covers the median with probability 1 − 2·P(X ≤ k − 1); take the narrowest that reaches `confidence`.
  let k = 0;
  for (let j = Math.floor(n / 2); j >= 1; j--) {
    if (1 - 2 * binomialCdfHalf(n, j - 1) >= confidence) {
      k = j;
      break;
    }
  }
  if (k === 0) return { median, low: -Infinity, high: Infinity, coverage: 0 };
  return { median, low: s[k - 1], high: s[n - k], coverage: 1 - 2 * binomialCdfHalf(n, k - 1) };
}

/** At most `goal`: pass when the whole interval is, fail when none of it is, else inconclusive (the rounds' spread straddles the goal). */
export function judgeAtMost(e: PairedEstimate, goal: number): 'PASS' | 'FAIL' | 'INCONCLUSIVE' {
  if (e.high <= goal) return 'PASS';
  if (e.low > goal) return 'FAIL';
  return 'INCONCLUSIVE';
}
