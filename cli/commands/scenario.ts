import { table } from '../../lib/table';
import { SCENARIOS, findScenario } from '../../scenarios';
import { runScenario } from '../../scenarios/runner/run';
import { flag, parseArgs } from '../args';
import { SCENARIO_TARGETS } from '../target';
import { AttachedWorld } from '../../world/attached';
import type { ScenarioWorld } from '../../scenarios/runner/context';

export const SCENARIO_HELP = `meshlab scenario NAME [--quick] [--seed N] [--json FILE] [--target embedded|running|compose|kubernetes --context CTX]
  Runs a lab and prints its verdict (exit 0 = PASS). embedded (default): a fresh world of its own;
  running: the world \`npm start\` runs; compose: the \`docker compose up\` world.
  meshlab scenario --list   Lists the labs.`;

export async function scenarioCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ['quick', 'list']);
  if (flag(args, 'list') || args.positionals.length === 0) {
    console.log(table(['SCENARIO', 'WHAT IT SHOWS'], SCENARIOS.map((s) => [s.name, s.title])));
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
  const scenarios = names.map(findScenario);
  let world: ScenarioWorld | undefined;
  if (target !== 'embedded') {
    const custom = scenarios.filter((s) => s.topology || s.bus);
    if (custom.length) throw new Error(`${custom.map((s) => s.name).join(', ')} need a world of their own (a different topology or bus); run without --target`);
    if (target === 'kubernetes') world = await (await import('../../world/kubernetes-target')).attachKubernetes({ context: flag(args, 'context'), namespace: flag(args, 'namespace') });
    else world = target === 'running' ? AttachedWorld.attach() : await (await import('../../world/compose-target')).ComposeWorld.attach({ projectDir: process.cwd() });
  }
  let failed = 0;
  for (const scenario of scenarios) {
    const report = await runScenario(scenario, { quick: flag(args, 'quick') === 'true', seed, jsonFile: flag(args, 'json'), world });
    if (!report.passed) failed++;
  }
  return failed === 0 ? 0 : 1;
}
