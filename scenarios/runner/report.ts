import { table } from '../../lib/table';

/** One checked expectation: what the lab sheet promised, what was measured, and the verdict. */
export interface Expectation {
  name: string;
  expected: string;
  measured: string;
  pass: boolean;
}

export interface ScenarioReport {
  scenario: string;
  title: string;
  teaches: string[];
  seed: number;
  quick: boolean;
  startedAt: string;
  durationMs: number;
  config: string[];
  expectations: Expectation[];
  invariants: Expectation[];
  events: { t: number; label: string }[];
  /** Named sample series (e.g. "without policies", "with policies"). */
  series: Record<string, { count: number; ok: number; p50Ms: number; p99Ms: number }>;
  passed: boolean;
  error?: string;
}

const color = (ok: boolean, s: string): string => (process.stdout.isTTY && !process.env.NO_COLOR ? `\x1b[${ok ? 32 : 31}m${s}\x1b[0m` : s);

/** The verdict table: each expectation, expected vs measured, PASS/FAIL. */
export function renderVerdict(report: ScenarioReport): string {
  const rows = [...report.expectations, ...report.invariants].map((e) => [color(e.pass, e.pass ? 'PASS' : 'FAIL'), e.name, e.expected, e.measured]);
  const verdict = report.passed ? color(true, `PASS  ${report.scenario}: every expectation held`) : color(false, `FAIL  ${report.scenario}: ${[...report.expectations, ...report.invariants].filter((e) => !e.pass).length} expectation(s) failed${report.error ? ` (${report.error})` : ''}`);
  return `${table(['', 'EXPECTATION', 'EXPECTED', 'MEASURED'], rows)}\n\n${verdict}  (${(report.durationMs / 1000).toFixed(1)} s, seed ${report.seed}${report.quick ? ', quick' : ''})`;
}
