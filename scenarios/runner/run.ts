import fs from 'node:fs';
import path from 'node:path';
import { World, tempWorldDir } from '../../world/world';
import { ScenarioContext, type ScenarioWorld } from './context';
import { checkInvariants, invariantBaseline } from './invariants';
import { judgeControl, renderVerdict, type ScenarioReport } from './report';
import type { Scenario } from './scenario';
import { renderTimeline } from './timeline';
import { percentile } from './load';
import { LiveSink } from './live-sink';
import { startOwnBroker, type OwnBroker } from './own-broker';

export interface RunOptions {
  quick?: boolean;
  seed?: number;
  /** Use this world instead of starting one (tests share one, or a compose project); it is reset before the scenario. */
  world?: ScenarioWorld;
  /** Write the full report here. */
  jsonFile?: string;
  /** The control arm: the same fault and load without the lab's policy (the lab must declare one). */
  control?: boolean;
  /** Where report lines go (default stdout). */
  log?: (line: string) => void;
}

/**
 * Runs one scenario: a fresh world (or the one given, reset), the lab sheet's steps, the invariant
 * check, and the report: teaching lines, YAML applied, progress, timeline, verdict table.
 */
export async function runScenario(scenario: Scenario, opts: RunOptions = {}): Promise<ScenarioReport> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const quick = opts.quick ?? false;
  const seed = opts.seed ?? 42;
  const started = new Date();
  const t0 = performance.now();
  const control = opts.control ?? false;
  if (control && !scenario.control) throw new Error(`${scenario.name} has no control arm`);
  log(`\n━━ scenario ${scenario.name}${control ? ' (control arm)' : ''}: ${scenario.title}`);
  for (const line of scenario.teaches) log(`   ${line}`);
  if (control) log(`   control arm: ${scenario.control!.removes}; predicted to FAIL: ${scenario.control!.fails.join('; ')}`);
  log('');

  let world: ScenarioWorld | undefined = opts.world;
  let dir: string | undefined;
  const report: ScenarioReport = {
    scenario: scenario.name,
    title: scenario.title,
    teaches: scenario.teaches,
    seed,
    quick,
    startedAt: started.toISOString(),
    durationMs: 0,
    config: [],
    expectations: [],
    invariants: [],
    events: [],
    series: {},
    passed: false,
  };
  let ctx: ScenarioContext | undefined;
  let sink: LiveSink | undefined;
  let broker: OwnBroker | undefined;
  try {
    if (scenario.ownBroker && world) throw new Error(`${scenario.name} stops its broker, so it runs on a world of its own with a broker of its own: run it without --target`);
    if (scenario.ownBroker) broker = await startOwnBroker(scenario.ownBroker, log);
    if (!world) {
      dir = tempWorldDir('meshlab-scenario-');
      log('  starting the world …');
      const embedded = await World.start({ dataDir: path.join(dir, 'data'), logDir: path.join(dir, 'logs'), topology: scenario.topology, bus: broker ? { kind: broker.kind, url: broker.url } : scenario.bus, env: { MESH_SEED: String(seed) }, tracing: { sampling: 100 }, ...(scenario.observability ? { observability: {} } : {}), ...(scenario.externals ? { externals: true } : {}), ...scenario.world?.(control) });
      world = embedded;
      log(`  world ready in ${(embedded.readyMs / 1000).toFixed(1)} s (logs: ${path.join(dir, 'logs')})`);
    }
    sink = new LiveSink(world.controlPlaneUrl);
    sink.start({ scenario: scenario.name, title: scenario.title, teaches: scenario.teaches, seed, quick });
    ctx = new ScenarioContext(world, { quick, seed, log, live: !!process.stdout.isTTY && !opts.log, sink, control, broker });
    if (opts.world) {
      await ctx.healAll();
      await ctx.resetConfig();
    }
    const baseline = await invariantBaseline(() => world!.state());
    await scenario.run(ctx);
    // Heal first: the invariant check reads the services' own APIs, which a sick instance would fail.
    await ctx.healAll();
    report.invariants = await checkInvariants(() => world!.state(), undefined, undefined, baseline);
    for (const e of report.invariants) sink.expectation(e);
  } catch (err) {
    report.error = (err as Error).message;
    log(`  scenario error: ${(err as Error).stack ?? err}`);
  } finally {
    if (ctx) {
      await ctx.healAll().catch(() => undefined);
      report.config = ctx.config;
      report.expectations = ctx.expectations;
      report.events = ctx.events;
      for (const [name, samples] of ctx.series) {
        const lat = samples.map((s) => s.latencyMs);
        report.series[name] = { count: samples.length, ok: samples.filter((s) => s.status > 0 && s.status < 400).length, p50Ms: percentile(lat, 50), p99Ms: percentile(lat, 99) };
        log(`\n  timeline — ${name}`);
        log(renderTimeline(samples, ctx.events, scenario.bucketMs ?? (quick ? 500 : 1000)).replace(/^/gm, '  '));
      }
    }
    if (control) {
      report.control = judgeControl(scenario.control!.removes, scenario.control!.fails, [...report.expectations, ...report.invariants]);
      if (report.error) Object.assign(report.control, { proved: false, held: [...report.control.held, `the run ended in an error: ${report.error}`] });
    }
    report.passed = !report.error && report.expectations.length > 0 && report.invariants.length > 0 && [...report.expectations, ...report.invariants].every((e) => e.pass);
    report.durationMs = performance.now() - t0;
    await sink?.report(report);
    if (!opts.world && world) await world.stop();
    await broker?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  }
  log('');
  log(renderVerdict(report));
  if (opts.jsonFile) {
    fs.mkdirSync(path.dirname(path.resolve(opts.jsonFile)), { recursive: true });
    fs.writeFileSync(opts.jsonFile, JSON.stringify(report, null, 2));
    log(`  report written to ${opts.jsonFile}`);
  }
  return report;
}
