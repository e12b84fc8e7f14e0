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
  /** The control arm's account: which expectations the lab said the policy is responsible for, and how they ended. */
  control?: ControlOutcome;
}

export interface ControlOutcome {
  removes: string;
  /** Expectation name prefixes that must fail without the policy. */
  predicted: string[];
  /** Of those, the expectations that failed (full names). */
  failed: string[];
  /** Predicted prefixes that held anyway, or that no expectation matched. */
  held: string[];
  /** Every predicted expectation failed: the lab's verdict depends on its policy. */
  proved: boolean;
}

/** Judges a control arm: each predicted prefix must name at least one expectation, and all it names must fail. */
export function judgeControl(removes: string, predicted: string[], expectations: readonly Expectation[]): ControlOutcome {
  const failed: string[] = [];
  const held: string[] = [];
  for (const prefix of predicted) {
    const matched = expectations.filter((e) => e.name.startsWith(prefix));
    if (matched.length === 0 || matched.some((e) => e.pass)) held.push(matched.length === 0 ? `${prefix} (not measured)` : prefix);
    else failed.push(...matched.map((e) => e.name));
  }
  return { removes, predicted, failed, held, proved: held.length === 0 };
}

const color = (ok: boolean, s: string): string => (process.stdout.isTTY && !process.env.NO_COLOR ? `\x1b[${ok ? 32 : 31}m${s}\x1b[0m` : s);

/** The verdict table: each expectation, expected vs measured, PASS/FAIL. */
export function renderVerdict(report: ScenarioReport): string {
  const rows = [...report.expectations, ...report.invariants].map((e) => [color(e.pass, e.pass ? 'PASS' : 'FAIL'), e.name, e.expected, e.measured]);
  const verdict = report.passed ? color(true, `PASS  ${report.scenario}: every expectation held`) : color(false, `FAIL  ${report.scenario}: ${[...report.expectations, ...report.invariants].filter((e) => !e.pass).length} expectation(s) failed${report.error ? ` (${report.error})` : ''}`);
  const c = report.control;
  const control = !c
    ? ''
    : c.proved
      ? `\n${color(true, `control arm (${c.removes}): it failed where the policy is responsible, as predicted — ${c.failed.join('; ')}`)}`
      : `\n${color(false, `control arm (${c.removes}): these held without the policy, so they do not measure it — ${c.held.join('; ')}`)}`;
  return `${table(['', 'EXPECTATION', 'EXPECTED', 'MEASURED'], rows)}\n\n${verdict}  (${(report.durationMs / 1000).toFixed(1)} s, seed ${report.seed}${report.quick ? ', quick' : ''}${c ? ', control arm' : ''})${control}`;
}
