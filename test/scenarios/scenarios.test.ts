import fs from 'node:fs';
import path from 'node:path';
import { World, tempWorldDir } from '../../world/world';
import { SCENARIOS } from '../../scenarios';
import { runScenario } from '../../scenarios/runner/run';
import { loadYamlLab } from '../../scenarios/yaml/lab-file';

const YAML_LABS = path.resolve(__dirname, '..', '..', '..', 'scenarios', 'labs');

/**
 * Every lab runs in --quick mode with a fixed seed against one shared world (reset between labs),
 * and must end in PASS: its expectations and the nothing-lost invariants. Right after it, its
 * control arm (the same fault and load without the lab's policy) must end in FAIL on exactly the
 * expectations the lab says its policy is responsible for.
 */
describe('scenarios (--quick, seed 7)', () => {
  const dir = tempWorldDir('meshlab-scenarios-');
  let world: World;
  const lines: string[] = [];

  beforeAll(async () => {
    world = await World.start({ dataDir: `${dir}/data`, logDir: `${dir}/logs`, env: { MESH_SEED: '7' } });
  });
  afterAll(async () => {
    await world?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const scenario of SCENARIOS.filter((s) => !ownWorld(s))) {
    test(`${scenario.name}: ${scenario.title}`, async () => {
      lines.length = 0;
      const report = await runScenario(scenario, { quick: true, seed: 7, world, log: (l) => lines.push(l) });
      verdict(report, lines, scenario.benchmark);
    }, 120_000);
    if (!scenario.control) continue;
    test(`${scenario.name} --control (${scenario.control.removes}) fails on: ${scenario.control.fails.join('; ')}`, async () => {
      lines.length = 0;
      const report = await runScenario(scenario, { quick: true, seed: 7, world, control: true, log: (l) => lines.push(l) });
      if (!report.control?.proved) console.log(lines.join('\n'));
      expect(report.error).toBeUndefined();
      expect(report.control?.held).toEqual([]);
      expect(report.control?.failed.length).toBeGreaterThanOrEqual(scenario.control!.fails.length);
      expect(report.passed).toBe(false);
    }, 120_000);
  }

  // The YAML forms of built-in labs must give the same verdicts: PASS, and FAIL on the same policy in their control arm.
  for (const file of fs.readdirSync(YAML_LABS).filter((f) => f.endsWith('.yaml'))) {
    const lab = loadYamlLab(path.join(YAML_LABS, file)).scenario;
    test(`YAML lab ${file}: PASS like its TypeScript form`, async () => {
      lines.length = 0;
      const report = await runScenario(lab, { quick: true, seed: 7, world, log: (l) => lines.push(l) });
      verdict(report, lines);
    }, 120_000);
    test(`YAML lab ${file} --control: FAIL on ${lab.control!.fails.join('; ')}`, async () => {
      lines.length = 0;
      const report = await runScenario(lab, { quick: true, seed: 7, world, control: true, log: (l) => lines.push(l) });
      if (!report.control?.proved) console.log(lines.join('\n'));
      expect(report.error).toBeUndefined();
      expect(report.control?.held).toEqual([]);
      expect(report.passed).toBe(false);
    }, 120_000);
  }

  test('every lab on the shared world has a control arm', () => {
    expect(SCENARIOS.filter((s) => !ownWorld(s) && !s.control).map((s) => s.name)).toEqual([]);
  });
});

/** Labs that need a world of their own (a real broker of their own as the bus, real Zipkin and Prometheus) start one each, for each arm. */
describe('scenarios on their own world (--quick, seed 7)', () => {
  for (const scenario of SCENARIOS.filter(ownWorld)) {
    test(`${scenario.name}: ${scenario.title}`, async () => {
      const lines: string[] = [];
      const report = await runScenario(scenario, { quick: true, seed: 7, log: (l) => lines.push(l) });
      verdict(report, lines);
    }, 240_000);
    if (!scenario.control) continue;
    test(`${scenario.name} --control (${scenario.control.removes}) fails on: ${scenario.control.fails.join('; ')}`, async () => {
      const lines: string[] = [];
      const report = await runScenario(scenario, { quick: true, seed: 7, control: true, log: (l) => lines.push(l) });
      if (!report.control?.proved) console.log(lines.join('\n'));
      expect(report.error).toBeUndefined();
      expect(report.control?.held).toEqual([]);
      expect(report.control?.failed.length).toBeGreaterThanOrEqual(scenario.control!.fails.length);
      expect(report.passed).toBe(false);
    }, 240_000);
  }

  test('every lab on a world of its own has a control arm', () => {
    expect(SCENARIOS.filter((s) => ownWorld(s) && !s.control).map((s) => s.name)).toEqual([]);
  });
});

/** A lab that starts a world of its own: another topology, bus or broker, the real observability backends, or the external systems. */
function ownWorld(s: (typeof SCENARIOS)[number]): boolean {
  return !!(s.topology || s.bus || s.ownBroker || s.observability || s.externals);
}

function verdict(report: Awaited<ReturnType<typeof runScenario>>, lines: string[], benchmark = false): void {
  if (!report.passed) console.log(lines.join('\n'));
  expect(report.error).toBeUndefined();
  expect(report.expectations.length).toBeGreaterThan(0);
  if (benchmark) {
    // A benchmark lab's figures depend on the machine (CI runs test files side by side): check they were measured.
    expect(report.expectations.filter((e) => /errors/.test(e.name) && !e.pass)).toEqual([]);
    for (const e of report.expectations) expect(e.measured).toMatch(/\d/);
    expect(report.invariants.filter((e) => !e.pass)).toEqual([]);
    return;
  }
  expect([...report.expectations, ...report.invariants].filter((e) => !e.pass)).toEqual([]);
}
