import { table } from '../../lib/table';
import { SCENARIOS, findScenario } from '../../scenarios';
import { runScenario } from '../../scenarios/runner/run';
import { flag, parseArgs } from '../args';

export const SCENARIO_HELP = `meshlab scenario NAME [--quick] [--seed N] [--json FILE]   Runs a lab and prints its verdict (exit 0 = PASS).
  meshlab scenario --list                                   Lists the labs.`;

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
  let failed = 0;
  for (const name of names) {
    const report = await runScenario(findScenario(name), { quick: flag(args, 'quick') === 'true', seed, jsonFile: flag(args, 'json') });
    if (!report.passed) failed++;
  }
  return failed === 0 ? 0 : 1;
}
