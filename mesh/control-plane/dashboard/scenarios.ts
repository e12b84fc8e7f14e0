import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

/** A verdict row as the runner checks it (same shape as scenarios/runner/report.ts' Expectation). */
export interface VerdictRow {
  name: string;
  expected: string;
  measured: string;
  pass: boolean;
}

/** Cumulative counts of one load series at time t (ms since the scenario started). */
export interface ProgressPoint {
  t: number;
  series: string;
  done: number;
  ok: number;
  failed: number;
  total?: number;
  /** Cumulative count per outcome ("ok", "500", "503 UO", "error"), optional. */
  outcomes?: Record<string, number>;
}

/**
 * What the scenario runner POSTs to /v1/scenarios/events, one JSON object per call (or an array):
 * - start: a run begins (`run` optional; the answer carries the id to use afterwards)
 * - event: a timeline mark ("payments-v2-0 sick", "config applied")
 * - progress: cumulative counts of a load series
 * - expectation: one verdict row as soon as it is checked
 * - report: the final ScenarioReport; ends the run and is kept on disk
 */
export type ScenarioEvent =
  | { type: 'start'; run?: string; scenario: string; title?: string; teaches?: string[]; seed?: number; quick?: boolean; startedAt?: string }
  | { type: 'event'; run: string; t: number; label: string }
  | ({ type: 'progress'; run: string } & ProgressPoint)
  | ({ type: 'expectation'; run: string } & VerdictRow)
  | { type: 'report'; run: string; report: FinalReport };

/** The runner's final report (scenarios/runner/report.ts' ScenarioReport); only these fields are read. */
export interface FinalReport {
  scenario: string;
  title?: string;
  passed: boolean;
  durationMs?: number;
  startedAt?: string;
  expectations?: VerdictRow[];
  invariants?: VerdictRow[];
  events?: { t: number; label: string }[];
  error?: string;
  [k: string]: unknown;
}

export interface ScenarioRun {
  run: string;
  scenario: string;
  title: string;
  teaches: string[];
  seed?: number;
  quick?: boolean;
  startedAt: string;
  state: 'running' | 'passed' | 'failed';
  events: { t: number; label: string }[];
  progress: ProgressPoint[];
  verdict: VerdictRow[];
  report?: FinalReport;
  updatedAt: number;
}

const MAX_PROGRESS = 2000;
const MAX_RUNS = 50;
const RUN_ID = /^[A-Za-z0-9._-]{1,80}$/;

export class ScenarioEventError extends Error {
  statusCode = 400;
}

/**
 * Scenario runs as the dashboard shows them: live while the runner posts events, then the final
 * report. Kept in memory (the newest MAX_RUNS) and, when the control plane has a data dir, one JSON
 * file per finished run under <dataDir>/scenario-reports/, read back on start.
 */
export class ScenarioStore {
  private readonly runs = new Map<string, ScenarioRun>();
  private readonly dir?: string;
  version = 0;

  constructor(dataDir?: string) {
    this.dir = dataDir ? path.join(dataDir, 'scenario-reports') : undefined;
    if (this.dir && fs.existsSync(this.dir)) {
      for (const f of fs.readdirSync(this.dir).filter((n) => n.endsWith('.json')).sort()) {
        try {
          const run = JSON.parse(fs.readFileSync(path.join(this.dir, f), 'utf8')) as ScenarioRun;
          if (run.run && run.scenario) this.runs.set(run.run, run);
        } catch {
          // a half-written or foreign file: not a run
        }
      }
    }
  }

  /** Applies one event; returns the run it touched. Throws ScenarioEventError (400) with what was wrong. */
  apply(ev: ScenarioEvent): ScenarioRun {
    if (!ev || typeof ev !== 'object') throw new ScenarioEventError('event must be a JSON object with a "type": start, event, progress, expectation or report');
    if (ev.type === 'start') {
      if (typeof ev.scenario !== 'string' || !ev.scenario) throw new ScenarioEventError('start: "scenario" (its name) is required');
      const run = ev.run ?? `${new Date().toISOString().replace(/[:.]/g, '-')}-${ev.scenario}-${randomBytes(3).toString('hex')}`;
      if (!RUN_ID.test(run)) throw new ScenarioEventError(`start: "run" must match ${RUN_ID} (letters, digits, . _ -), got ${JSON.stringify(run)}`);
      const r: ScenarioRun = { run, scenario: ev.scenario, title: ev.title ?? '', teaches: ev.teaches ?? [], seed: ev.seed, quick: ev.quick, startedAt: ev.startedAt ?? new Date().toISOString(), state: 'running', events: [], progress: [], verdict: [], updatedAt: Date.now() };
      this.runs.delete(run);
      this.runs.set(run, r);
      this.trim();
      return this.touch(r);
    }
    const r = this.runs.get((ev as { run?: string }).run ?? '');
    if (!r) throw new ScenarioEventError(`${String((ev as { type?: unknown }).type)}: unknown run ${JSON.stringify((ev as { run?: string }).run)}; send {"type":"start","scenario":"<name>"} first and use the "run" it returns`);
    switch (ev.type) {
      case 'event':
        if (typeof ev.t !== 'number' || typeof ev.label !== 'string') throw new ScenarioEventError('event: "t" (ms since start, number) and "label" (string) are required');
        r.events.push({ t: ev.t, label: ev.label });
        break;
      case 'progress':
        if (typeof ev.t !== 'number' || typeof ev.series !== 'string' || typeof ev.done !== 'number') throw new ScenarioEventError('progress: "t", "series", "done", "ok", "failed" are required');
        r.progress.push({ t: ev.t, series: ev.series, done: ev.done, ok: ev.ok ?? 0, failed: ev.failed ?? 0, total: ev.total, outcomes: ev.outcomes });
        if (r.progress.length > MAX_PROGRESS) r.progress.splice(0, r.progress.length - MAX_PROGRESS);
        break;
      case 'expectation':
        if (typeof ev.name !== 'string' || typeof ev.pass !== 'boolean') throw new ScenarioEventError('expectation: "name", "expected", "measured" and "pass" (boolean) are required');
        r.verdict.push({ name: ev.name, expected: String(ev.expected ?? ''), measured: String(ev.measured ?? ''), pass: ev.pass });
        break;
      case 'report': {
        const rep = ev.report;
        if (!rep || typeof rep.passed !== 'boolean') throw new ScenarioEventError('report: "report" must be the runner\'s ScenarioReport (with "passed")');
        r.report = rep;
        r.state = rep.passed ? 'passed' : 'failed';
        if (rep.expectations || rep.invariants) r.verdict = [...(rep.expectations ?? []), ...(rep.invariants ?? [])];
        if (rep.events?.length) r.events = rep.events;
        this.persist(r);
        break;
      }
      default:
        throw new ScenarioEventError(`unknown event type ${JSON.stringify((ev as { type?: unknown }).type)}; use start, event, progress, expectation or report`);
    }
    return this.touch(r);
  }

  get(run: string): ScenarioRun | undefined {
    return this.runs.get(run);
  }

  /** Newest first, without the bulky progress points. */
  summaries(): Omit<ScenarioRun, 'progress' | 'report' | 'teaches'>[] {
    return [...this.runs.values()].reverse().map(({ progress: _p, report: _r, teaches: _t, ...rest }) => rest);
  }

  /** The run the dashboard shows live: the newest still running, else the newest. */
  current(): ScenarioRun | undefined {
    const all = [...this.runs.values()].reverse();
    return all.find((r) => r.state === 'running') ?? all[0];
  }

  private touch(r: ScenarioRun): ScenarioRun {
    r.updatedAt = Date.now();
    this.version++;
    return r;
  }

  private trim(): void {
    while (this.runs.size > MAX_RUNS) this.runs.delete(this.runs.keys().next().value as string);
  }

  private persist(r: ScenarioRun): void {
    if (!this.dir) return;
    fs.mkdirSync(this.dir, { recursive: true });
    const file = path.join(this.dir, `${r.run}.json`);
    fs.writeFileSync(`${file}.tmp`, JSON.stringify(r));
    fs.renameSync(`${file}.tmp`, file);
  }
}
