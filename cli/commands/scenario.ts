import path from 'node:path';
import { table } from '../../lib/table';
import { isLabFile, loadYamlLab } from '../../scenarios/yaml/lab-file';
import { SCENARIOS, findScenario } from '../../scenarios';
import { runScenario } from '../../scenarios/runner/run';
import { flag, parseArgs } from '../args';
import { SCENARIO_TARGETS } from '../target';
import { AttachedWorld } from '../../world/attached';
import type { ScenarioWorld } from '../../scenarios/runner/context';

export const SCENARIO_HELP = `meshlab scenario NAME|FILE.yaml [--quick] [--control] [--seed N] [--json FILE] [--target embedded|running|compose|kubernetes --context CTX]
  Runs a lab and prints its verdict (exit 0 = PASS). embedded (default): a fresh world of its own;
  running: the world \`npm start\` runs; compose: the \`docker compose up\` world. FILE.yaml is a lab written in
  YAML (see scenarios/labs/), validated before it runs.
  --control runs the lab's control arm: the same fault and load without its policy. Its verdict is FAIL,
  naming the expectations the policy is responsible for; exit 0 when every one of them failed as predicted.
  meshlab scenario --list   Lists the labs.`;

export async function scenarioCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ['quick', 'list', 'control']);
  if (flag(args, 'list') || args.positionals.length === 0) {
    console.log(table(['SCENARIO', 'WHAT IT SHOWS', 'CONTROL ARM (--control)'], SCENARIOS.map((s) => [s.name, s.title, s.control?.shows ?? '-'])));
    if (!flag(args, 'list')) {
      console.log('\nusage: npm run scenario <name> [-- --quick --seed N --json FILE]');
      return 2;
    }
    return 0;
  }
  const names = args.positionals;
  const seedRaw = flag(args, 'seed', '42')!;
  const seed = Number(seedRaw);
  if (!Number.isInteger(seed)) throw new Error(`--seed must be an integer, got "${seedRaw}"`);
  const target = flag(args, 'target', 'embedded')!;
  if (!(SCENARIO_TARGETS as readonly string[]).includes(target)) throw new Error(`--target must be one of ${SCENARIO_TARGETS.join(', ')}, got "${target}"`);
  // A lab file is found from where the user typed the command (npm run changes the directory to the project's).
  const cwd = process.env.INIT_CWD ?? process.cwd();
  const scenarios = names.map((n) => (isLabFile(n) ? loadYamlLab(path.resolve(cwd, n)).scenario : findScenario(n)));
  const control = flag(args, 'control') === 'true';
  const noControl = control ? scenarios.filter((s) => !s.control) : [];
  if (noControl.length) throw new Error(`${noControl.map((s) => s.name).join(', ')} ha${noControl.length > 1 ? 've' : 's'} no control arm; labs with one: ${SCENARIOS.filter((s) => s.control).map((s) => s.name).join(', ')}`);
  let world: ScenarioWorld | undefined;
  if (target !== 'embedded') {
    const custom = scenarios.filter((s) => s.topology || s.bus || s.ownBroker);
    if (custom.length) throw new Error(`${custom.map((s) => s.name).join(', ')} need a world of their own (a different topology, bus or a broker of their own); run without --target`);
    if (target === 'kubernetes') world = await (await import('../../world/kubernetes-target')).attachKubernetes({ context: flag(args, 'context'), namespace: flag(args, 'namespace') });
    else world = target === 'running' ? AttachedWorld.attach() : await (await import('../../world/compose-target')).ComposeWorld.attach({ projectDir: process.cwd() });
  }
  let failed = 0;
  for (const scenario of scenarios) {
    const report = await runScenario(scenario, { quick: flag(args, 'quick') === 'true', control, seed, jsonFile: flag(args, 'json'), world });
    if (control ? !report.control?.proved : !report.passed) failed++;
  }
  return failed === 0 ? 0 : 1;
}
