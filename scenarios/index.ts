import type { Scenario } from './runner/scenario';
import baseline from './baseline';
import circuitBreaker from './circuit-breaker';

/** Every scenario, in the order `--list` shows them. */
export const SCENARIOS: Scenario[] = [baseline, circuitBreaker];

export function findScenario(name: string): Scenario {
  const s = SCENARIOS.find((x) => x.name === name);
  if (!s) throw new Error(`no scenario "${name}"; run \`npm run scenario -- --list\` to see them: ${SCENARIOS.map((x) => x.name).join(', ')}`);
  return s;
}
