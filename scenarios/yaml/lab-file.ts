import fs from 'node:fs';
import path from 'node:path';
import { isMap, LineCounter, parseDocument } from 'yaml';
import { collectPositions, joinPath } from '../../mesh/config/positions';
import { parseDuration } from '../../mesh/config/duration';
import { defineScenario, type Scenario } from '../runner/scenario';
import type { ScenarioContext } from '../runner/context';
import type { Sample } from '../runner/load';
import { hasFlag } from '../runner/flags';
import { ORDER } from '../runner/fixtures';

/**
 * A lab written in YAML instead of TypeScript: the Istio YAML it applies, the faults it injects,
 * the load it drives and the expectations it checks on the load's samples, the sidecars' access
 * logs and their metrics — run with `npm run scenario -- ./my-lab.yaml`. Every field is checked
 * before anything runs; a mistake is reported as file:line:column with what would be right.
 * See scenarios/labs/*.yaml for examples and the README's "Labs in YAML".
 */

type Where = { status?: number | number[]; not_status?: number[]; overloaded?: boolean; version?: string; header_index?: number };
type Compare = { equal?: number | string; min?: number; max?: number; near?: number; tolerance?: number };

type Step =
  | { apply: string; policy: boolean; label?: string }
  | { delete: { kind: string; name: string }[]; policy: boolean }
  | { sick: Record<string, unknown>; instances: string[] }
  | { heal: string[] | 'all' }
  | { wait: number }
  | { load: LoadStep };

interface LoadStep {
  name: string;
  path: string;
  method?: 'GET' | 'POST';
  body?: unknown;
  rps: number;
  durationMs?: number;
  count?: number;
  quick?: { durationMs?: number; count?: number; rps?: number };
  concurrency: number;
  headers?: Record<string, string>;
  headers_cycle?: Record<string, string>[];
}

type Measure =
  | { share: Where }
  | { count: Where }
  | { latency: number }
  | { access_log: { instance: string; flag?: string; status?: number; direction?: 'inbound' | 'outbound'; path_prefix?: string } }
  | { metric: { instances: string[]; name: string; labels: Record<string, string> } };

interface Expect {
  name: string;
  of: string;
  measure: Measure;
  compare: Compare;
  unit: string;
}

export interface YamlLab {
  file: string;
  scenario: Scenario;
}

export class LabFileError extends Error {}

const STEP_KINDS = ['apply', 'delete', 'sick', 'heal', 'wait', 'load'];
const MEASURES = ['share', 'count', 'latency', 'access_log', 'metric'];

/** Reads and validates a lab file; throws LabFileError listing every problem as file:line:column. */
export function loadYamlLab(file: string): YamlLab {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new LabFileError(`${file}: cannot read the lab file (${(err as Error).message})`);
  }
  return parseYamlLab(text, file);
}

export function parseYamlLab(text: string, file: string): YamlLab {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const problems: string[] = [];
  for (const e of doc.errors) {
    const p = lc.linePos(e.pos[0]);
    problems.push(`${file}:${p.line}:${p.col}: ${e.message.split('\n')[0]}`);
  }
  if (problems.length) throw new LabFileError(problems.join('\n'));
  if (!isMap(doc.contents)) throw new LabFileError(`${file}:1:1: a lab file is a YAML map with name, title, steps and expect`);
  const positions = collectPositions(doc.contents, lc);
  const root = doc.toJS() as Record<string, unknown>;
  const at = (p: string): string => {
    let q = p;
    for (;;) {
      const pos = positions[q];
      if (pos) return `${file}:${pos.line}:${pos.column}`;
      const cut = Math.max(q.lastIndexOf('.'), q.lastIndexOf('['));
      if (cut <= 0) return `${file}:1:1`;
      q = q.slice(0, cut);
    }
  };
  const err = (p: string, msg: string): void => void problems.push(`${at(p)}: ${p ? `${p}: ` : ''}${msg}`);
  const keys = (obj: Record<string, unknown>, p: string, allowed: string[]): void => {
    for (const k of Object.keys(obj)) if (!allowed.includes(k)) err(joinPath(p, k), `unknown field; expected one of ${allowed.join(', ')}`);
  };
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  const str = (v: unknown, p: string, required = true): string | undefined => {
    if (v === undefined && !required) return undefined;
    if (typeof v !== 'string' || v === '') err(p, `must be a non-empty string, got ${JSON.stringify(v)}`);
    return typeof v === 'string' ? v : undefined;
  };
  const num = (v: unknown, p: string, min = 0): number | undefined => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min) {
      err(p, `must be a number ≥ ${min}, got ${JSON.stringify(v)}`);
      return undefined;
    }
    return v;
  };
  const dur = (v: unknown, p: string): number | undefined => {
    try {
      return parseDuration(String(v));
    } catch {
      err(p, `must be a duration like 2s or 500ms, got ${JSON.stringify(v)}`);
      return undefined;
    }
  };
  const instances = (v: unknown, p: string): string[] => {
    const list = typeof v === 'string' ? [v] : v;
    if (!Array.isArray(list) || list.length === 0 || list.some((x) => typeof x !== 'string')) {
      err(p, `must be an instance name or a list of them (e.g. payments-v1-0), got ${JSON.stringify(v)}`);
      return [];
    }
    return list as string[];
  };

  keys(root, '', ['name', 'title', 'teaches', 'control', 'steps', 'expect']);
  const name = str(root.name, 'name') ?? 'yaml-lab';
  if (root.name !== undefined && typeof root.name === 'string' && !/^[a-z0-9][a-z0-9-]*$/.test(root.name)) err('name', `must be lowercase letters, digits and dashes, got "${root.name}"`);
  const title = str(root.title, 'title') ?? '';
  const teaches = root.teaches === undefined ? [] : Array.isArray(root.teaches) && root.teaches.every((t) => typeof t === 'string') ? (root.teaches as string[]) : (err('teaches', 'must be a list of lines'), []);

  // steps
  const steps: Step[] = [];
  const loads = new Set<string>();
  if (!Array.isArray(root.steps) || root.steps.length === 0) err('steps', 'must be a non-empty list of steps (apply, delete, sick, heal, wait, load)');
  else
    root.steps.forEach((raw: unknown, i: number) => {
      const p = joinPath('steps', i);
      if (!isObj(raw)) return err(p, 'each step is a map with one of: ' + STEP_KINDS.join(', '));
      const kind = STEP_KINDS.filter((k) => k in raw);
      if (kind.length !== 1) return err(p, `a step has exactly one of ${STEP_KINDS.join(', ')}; found ${kind.length ? kind.join(', ') : 'none'}`);
      const k = kind[0];
      const policy = raw.policy === undefined ? false : raw.policy;
      if (typeof policy !== 'boolean') err(joinPath(p, 'policy'), 'must be true or false (true: the control arm leaves this step out)');
      if (k === 'apply') {
        keys(raw, p, ['apply', 'policy', 'label']);
        const yamlText = str(raw.apply, joinPath(p, 'apply'));
        steps.push({ apply: yamlText ?? '', policy: policy === true, label: str(raw.label, joinPath(p, 'label'), false) });
      } else if (k === 'delete') {
        keys(raw, p, ['delete', 'policy']);
        const list = Array.isArray(raw.delete) ? raw.delete : [];
        if (!Array.isArray(raw.delete) || list.length === 0) err(joinPath(p, 'delete'), 'must be a list of {kind, name}');
        const refs = list.map((r: unknown, j: number) => {
          const q = joinPath(joinPath(p, 'delete'), j);
          if (!isObj(r)) return (err(q, 'must be {kind, name}'), { kind: '', name: '' });
          keys(r, q, ['kind', 'name']);
          return { kind: str(r.kind, joinPath(q, 'kind')) ?? '', name: str(r.name, joinPath(q, 'name')) ?? '' };
        });
        steps.push({ delete: refs, policy: policy === true });
      } else if (k === 'sick') {
        keys(raw, p, ['sick', 'instances', 'policy']);
        const q = joinPath(p, 'sick');
        if (!isObj(raw.sick)) err(q, 'must be a map of lab-control fields (error_rate, status, latency_ms, hang, after, seed, ack_failure_rate, idempotency)');
        else keys(raw.sick, q, ['error_rate', 'status', 'latency_ms', 'hang', 'after', 'seed', 'ack_failure_rate', 'idempotency']);
        steps.push({ sick: isObj(raw.sick) ? raw.sick : {}, instances: instances(raw.instances, joinPath(p, 'instances')) });
      } else if (k === 'heal') {
        keys(raw, p, ['heal']);
        steps.push({ heal: raw.heal === 'all' ? 'all' : instances(raw.heal, joinPath(p, 'heal')) });
      } else if (k === 'wait') {
        keys(raw, p, ['wait']);
        steps.push({ wait: dur(raw.wait, joinPath(p, 'wait')) ?? 0 });
      } else {
        keys(raw, p, ['load']);
        const q = joinPath(p, 'load');
        const l = raw.load;
        if (!isObj(l)) return err(q, 'must be a map: name, path, rps, duration or count, …');
        keys(l, q, ['name', 'path', 'method', 'body', 'rps', 'duration', 'count', 'quick', 'concurrency', 'headers', 'headers_cycle']);
        const lname = str(l.name, joinPath(q, 'name')) ?? '';
        if (loads.has(lname)) err(joinPath(q, 'name'), `a load named "${lname}" comes earlier; names must differ`);
        loads.add(lname);
        const lpath = str(l.path, joinPath(q, 'path')) ?? '/';
        if (!lpath.startsWith('/')) err(joinPath(q, 'path'), `must start with /, got "${lpath}"`);
        if (l.method !== undefined && l.method !== 'GET' && l.method !== 'POST') err(joinPath(q, 'method'), `must be GET or POST, got ${JSON.stringify(l.method)}`);
        if ((l.duration === undefined) === (l.count === undefined)) err(q, 'needs exactly one of duration or count');
        const quick = l.quick;
        let quickSpec: LoadStep['quick'];
        if (quick !== undefined) {
          if (!isObj(quick)) err(joinPath(q, 'quick'), 'must be a map of duration, count or rps used under --quick');
          else {
            keys(quick, joinPath(q, 'quick'), ['duration', 'count', 'rps']);
            quickSpec = {
              durationMs: quick.duration === undefined ? undefined : dur(quick.duration, joinPath(joinPath(q, 'quick'), 'duration')),
              count: quick.count === undefined ? undefined : num(quick.count, joinPath(joinPath(q, 'quick'), 'count'), 1),
              rps: quick.rps === undefined ? undefined : num(quick.rps, joinPath(joinPath(q, 'quick'), 'rps'), 0.1),
            };
          }
        }
        const headerMap = (v: unknown, hp: string): Record<string, string> | undefined => {
          if (!isObj(v) || Object.values(v).some((x) => typeof x !== 'string')) return (err(hp, 'must be a map of header name to string value'), undefined);
          return v as Record<string, string>;
        };
        steps.push({
          load: {
            name: lname,
            path: lpath,
            method: l.method as 'GET' | 'POST' | undefined,
            body: l.body,
            rps: num(l.rps, joinPath(q, 'rps'), 0.1) ?? 1,
            durationMs: l.duration === undefined ? undefined : dur(l.duration, joinPath(q, 'duration')),
            count: l.count === undefined ? undefined : num(l.count, joinPath(q, 'count'), 1),
            quick: quickSpec,
            concurrency: l.concurrency === undefined ? 16 : (num(l.concurrency, joinPath(q, 'concurrency'), 1) ?? 16),
            headers: l.headers === undefined ? undefined : headerMap(l.headers, joinPath(q, 'headers')),
            headers_cycle: l.headers_cycle === undefined ? undefined : Array.isArray(l.headers_cycle) && l.headers_cycle.length > 0 ? l.headers_cycle.map((h: unknown, j: number) => headerMap(h, joinPath(joinPath(q, 'headers_cycle'), j)) ?? {}) : (err(joinPath(q, 'headers_cycle'), 'must be a non-empty list of header maps, used in turn'), undefined),
          },
        });
      }
    });

  // expectations
  const expects: Expect[] = [];
  const where = (v: unknown, p: string): Where => {
    if (!isObj(v)) return (err(p, 'must be a map: status, not_status, overloaded, version, header_index ({} = every sample)'), {});
    keys(v, p, ['status', 'not_status', 'overloaded', 'version', 'header_index']);
    if (v.status !== undefined && !(typeof v.status === 'number' || (Array.isArray(v.status) && v.status.every((x) => typeof x === 'number')))) err(joinPath(p, 'status'), 'must be a status or a list of them');
    if (v.not_status !== undefined && !(Array.isArray(v.not_status) && v.not_status.every((x) => typeof x === 'number'))) err(joinPath(p, 'not_status'), 'must be a list of statuses');
    if (v.overloaded !== undefined && typeof v.overloaded !== 'boolean') err(joinPath(p, 'overloaded'), 'must be true or false (x-envoy-overloaded)');
    if (v.version !== undefined) str(v.version, joinPath(p, 'version'));
    if (v.header_index !== undefined) num(v.header_index, joinPath(p, 'header_index'));
    return v as Where;
  };
  if (!Array.isArray(root.expect) || root.expect.length === 0) err('expect', 'must be a non-empty list of expectations');
  else
    root.expect.forEach((raw: unknown, i: number) => {
      const p = joinPath('expect', i);
      if (!isObj(raw)) return err(p, 'each expectation is a map: name, of, one measure, and a comparison');
      keys(raw, p, ['name', 'of', ...MEASURES, 'equal', 'min', 'max', 'near', 'tolerance', 'unit']);
      const ename = str(raw.name, joinPath(p, 'name')) ?? '';
      const of = str(raw.of, joinPath(p, 'of')) ?? '';
      if (of && !loads.has(of)) err(joinPath(p, 'of'), `names no load step; loads: ${[...loads].join(', ') || 'none'}`);
      const ms = MEASURES.filter((m) => m in raw);
      if (ms.length !== 1) return err(p, `needs exactly one measure of ${MEASURES.join(', ')}; found ${ms.length ? ms.join(', ') : 'none'}`);
      const m = ms[0];
      const mp = joinPath(p, m);
      let measure: Measure;
      if (m === 'share') measure = { share: where(raw.share, mp) };
      else if (m === 'count') measure = { count: where(raw.count, mp) };
      else if (m === 'latency') {
        const v = raw.latency;
        if (!isObj(v) || typeof v.p !== 'number' || v.p <= 0 || v.p > 100) err(mp, 'must be {p: percentile 0–100}');
        else keys(v, mp, ['p']);
        measure = { latency: isObj(v) && typeof v.p === 'number' ? v.p : 50 };
      } else if (m === 'access_log') {
        const v = raw.access_log;
        if (!isObj(v)) {
          err(mp, 'must be {instance, flag?, status?, direction?, path_prefix?}');
          measure = { access_log: { instance: '' } };
        } else {
          keys(v, mp, ['instance', 'flag', 'status', 'direction', 'path_prefix']);
          if (v.direction !== undefined && v.direction !== 'inbound' && v.direction !== 'outbound') err(joinPath(mp, 'direction'), 'must be inbound or outbound');
          measure = { access_log: { instance: str(v.instance, joinPath(mp, 'instance')) ?? '', flag: str(v.flag, joinPath(mp, 'flag'), false), status: v.status === undefined ? undefined : num(v.status, joinPath(mp, 'status'), 100), direction: v.direction as 'inbound' | 'outbound' | undefined, path_prefix: str(v.path_prefix, joinPath(mp, 'path_prefix'), false) } };
        }
      } else {
        const v = raw.metric;
        if (!isObj(v)) {
          err(mp, 'must be {instances, name, labels?}');
          measure = { metric: { instances: [], name: '', labels: {} } };
        } else {
          keys(v, mp, ['instances', 'name', 'labels']);
          const labels = v.labels === undefined ? {} : isObj(v.labels) && Object.values(v.labels).every((x) => typeof x === 'string') ? (v.labels as Record<string, string>) : (err(joinPath(mp, 'labels'), 'must be a map of label to string value'), {});
          measure = { metric: { instances: instances(v.instances, joinPath(mp, 'instances')), name: str(v.name, joinPath(mp, 'name')) ?? '', labels } };
        }
      }
      const compare: Compare = {};
      for (const c of ['equal', 'min', 'max', 'near', 'tolerance'] as const) {
        if (raw[c] === undefined) continue;
        if (c === 'equal' && typeof raw[c] === 'string') compare.equal = raw[c] as string;
        else compare[c] = num(raw[c], joinPath(p, c), -Infinity) as number;
      }
      const n = ['equal', 'min', 'max', 'near'].filter((c) => c in compare).length;
      if (n === 0) err(p, 'needs a comparison: equal, min, max, or near with tolerance');
      if ('near' in compare !== 'tolerance' in compare) err(p, 'near and tolerance go together');
      if ('equal' in compare && n > 1) err(joinPath(p, 'equal'), 'equal cannot be combined with min, max or near');
      expects.push({ name: ename, of, measure, compare, unit: typeof raw.unit === 'string' ? raw.unit : m === 'share' ? '%' : m === 'latency' ? ' ms' : '' });
    });

  // control arm
  let control: Scenario['control'];
  if (root.control !== undefined) {
    const c = root.control;
    if (!isObj(c)) err('control', 'must be {removes, shows, fails}');
    else {
      keys(c, 'control', ['removes', 'shows', 'fails']);
      const fails = Array.isArray(c.fails) && c.fails.length > 0 && c.fails.every((f) => typeof f === 'string') ? (c.fails as string[]) : (err('control.fails', 'must be a non-empty list of expectation names (prefixes) the policy is responsible for'), []);
      fails.forEach((f, i) => {
        if (!expects.some((e) => e.name.startsWith(f))) err(joinPath('control.fails', i), `names no expectation; expectations: ${expects.map((e) => e.name).join('; ')}`);
      });
      if (!steps.some((s) => 'policy' in s && s.policy)) err('control', 'a control arm needs at least one step with policy: true (the steps it leaves out)');
      control = { removes: str(c.removes, 'control.removes') ?? '', shows: str(c.shows, 'control.shows') ?? '', fails };
    }
  }
  if (problems.length) throw new LabFileError(problems.join('\n'));
  return { file, scenario: defineScenario({ name, title, teaches, control, run: (ctx) => runYamlLab(ctx, steps, expects) }) };
}

function matches(s: Sample, i: number, w: Where, cycle: number): boolean {
  if (w.status !== undefined && !(Array.isArray(w.status) ? w.status.includes(s.status) : s.status === w.status)) return false;
  if (w.not_status && w.not_status.includes(s.status)) return false;
  if (w.overloaded !== undefined && !!s.overloaded !== w.overloaded) return false;
  if (w.version !== undefined && s.version !== w.version) return false;
  if (w.header_index !== undefined && i % cycle !== w.header_index) return false;
  return true;
}

async function runYamlLab(ctx: ScenarioContext, steps: Step[], expects: Expect[]): Promise<void> {
  const results = new Map<string, { samples: Sample[]; since: number; until: number; cycle: number; before: Map<Expect, number>; after: Map<Expect, number> }>();
  const metricOf = async (e: Expect): Promise<number> => {
    if (!('metric' in e.measure)) return 0;
    let sum = 0;
    for (const id of e.measure.metric.instances) sum += await ctx.metric(id, e.measure.metric.name, e.measure.metric.labels);
    return sum;
  };
  for (const step of steps) {
    if ('apply' in step) await (step.policy ? ctx.applyPolicy(step.apply, step.label) : ctx.apply(step.apply, step.label));
    else if ('delete' in step) {
      if (step.policy && ctx.control) ctx.mark(`control arm: not deleted — ${step.delete.map((r) => `${r.kind}/${r.name}`).join(', ')}`);
      else {
        await ctx.world.deleteConfig(step.delete);
        ctx.mark(`deleted ${step.delete.map((r) => `${r.kind}/${r.name}`).join(', ')}`);
      }
    } else if ('sick' in step) for (const id of step.instances) await ctx.lab(id).sick(step.sick);
    else if ('heal' in step) for (const id of step.heal === 'all' ? ctx.world.state().instances.map((i) => i.id) : step.heal) await ctx.lab(id).heal();
    else if ('wait' in step) await new Promise((r) => setTimeout(r, step.wait));
    else {
      const l = step.load;
      const mine = expects.filter((e) => e.of === l.name && 'metric' in e.measure);
      const before = new Map<Expect, number>();
      for (const e of mine) before.set(e, await metricOf(e));
      const cycle = l.headers_cycle?.length ?? 1;
      const since = Date.now();
      const q = ctx.quick ? l.quick : undefined;
      const body = l.body ?? (l.path.startsWith('/orders') && (l.method ?? 'POST') === 'POST' ? ORDER : undefined);
      const samples = await ctx.load(l.name, {
        path: l.path,
        method: l.method,
        body,
        rps: q?.rps ?? l.rps,
        ...(q?.count ?? l.count ? { count: q?.count ?? l.count } : { durationMs: q?.durationMs ?? l.durationMs }),
        concurrency: l.concurrency,
        headers: l.headers_cycle ? (i: number) => ({ ...l.headers, ...l.headers_cycle![i % cycle] }) : l.headers,
        keepBodies: false,
      });
      const after = new Map<Expect, number>();
      for (const e of mine) after.set(e, await metricOf(e));
      results.set(l.name, { samples, since, until: Date.now(), cycle, before, after });
    }
  }
  for (const e of expects) {
    const r = results.get(e.of)!;
    let value: number;
    const m = e.measure;
    if ('share' in m) value = (100 * r.samples.filter((s, i) => matches(s, i, m.share, r.cycle)).length) / Math.max(1, r.samples.length);
    else if ('count' in m) value = r.samples.filter((s, i) => matches(s, i, m.count, r.cycle)).length;
    else if ('latency' in m) value = ctx.latency(r.samples, m.latency);
    else if ('access_log' in m) {
      const a = m.access_log;
      value = (await ctx.accessLog(a.instance)).filter((x) => {
        const t = Date.parse(x.start_time);
        return t >= r.since - 1 && t <= r.until && (!a.direction || x.direction === a.direction) && (!a.flag || hasFlag(x, a.flag)) && (a.status === undefined || x.response_code === a.status) && (!a.path_prefix || x.path.startsWith(a.path_prefix));
      }).length;
    } else value = (r.after.get(e) ?? 0) - (r.before.get(e) ?? 0);
    const c = e.compare;
    if (c.equal !== undefined) ctx.expectEqual(e.name, typeof c.equal === 'string' ? String(value) : value, c.equal);
    else if (c.near !== undefined) ctx.expectNear(e.name, value, c.near, c.tolerance ?? 0, e.unit);
    else if (c.min !== undefined && c.max !== undefined) ctx.check(e.name, `${c.min}–${c.max}${e.unit}`, `${Number.isInteger(value) ? value : value.toFixed(2)}${e.unit}`, value >= c.min && value <= c.max);
    else if (c.min !== undefined) ctx.expectAtLeast(e.name, value, c.min, e.unit);
    else ctx.expectAtMost(e.name, value, c.max!, e.unit);
  }
}

/** A lab named on the command line: a built-in name, or a path to a .yaml/.yml lab file. */
export function isLabFile(arg: string): boolean {
  return /\.ya?ml$/i.test(arg) || arg.includes(path.sep) || arg.startsWith('.');
}
