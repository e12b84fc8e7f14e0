import { AttachedWorld } from '../../world/attached';
import { parseDuration } from '../../mesh/config/duration';
import { DEFAULT_ANALYSIS, readVersionCounters, runCanaryAnalysis, splitYaml, validateAnalysis, type CanaryAnalysisSpec } from '../../scenarios/delivery/canary-analysis';
import { flag, parseArgs } from '../args';

export const CANARY_HELP = `meshlab canary [SERVICE] [--primary v1] [--canary v2] [--steps 5,10,25,50,100] [--interval 10s]
               [--threshold 2] [--min-success 99] [--max-p99 500]
  An automated canary on the running world (Flagger's analysis): sets the canary's weight to each step in turn,
  every interval reads its success rate and p99 from its sidecars, advances while both hold, holds on a failed
  check and rolls back to 0 after THRESHOLD failed checks. Drive traffic meanwhile. Exit 0 = promoted, 1 = rolled back.
  SERVICE (default payments) needs a DestinationRule with the two subsets.`;

export async function canaryCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  const service = args.positionals[0] ?? 'payments';
  const primary = flag(args, 'primary', 'v1')!;
  const canary = flag(args, 'canary', 'v2')!;
  const num = (name: string, fallback: number): number => {
    const raw = flag(args, name);
    if (raw === undefined) return fallback;
    const v = Number(raw);
    if (!Number.isFinite(v)) throw new Error(`--${name} must be a number, got "${raw}"`);
    return v;
  };
  const stepsRaw = flag(args, 'steps');
  const intervalRaw = flag(args, 'interval');
  let intervalMs = DEFAULT_ANALYSIS.intervalMs;
  if (intervalRaw !== undefined) {
    try {
      intervalMs = parseDuration(intervalRaw);
    } catch {
      throw new Error(`--interval must be a duration like 10s or 500ms, got "${intervalRaw}"`);
    }
  }
  const spec: CanaryAnalysisSpec = {
    stepWeights: stepsRaw === undefined ? DEFAULT_ANALYSIS.stepWeights : stepsRaw.split(',').map((w) => Number(w.trim())),
    intervalMs,
    threshold: num('threshold', DEFAULT_ANALYSIS.threshold),
    minSuccessRate: num('min-success', DEFAULT_ANALYSIS.minSuccessRate),
    maxP99Ms: num('max-p99', DEFAULT_ANALYSIS.maxP99Ms),
  };
  const problems = validateAnalysis(spec);
  if (problems.length) throw new Error(`invalid canary analysis: ${problems.join('; ')}`);
  const world = AttachedWorld.attach();
  if (!world.state().instances.some((i) => i.service === service && i.version === canary)) throw new Error(`no ${service} instance with version ${canary} in the running world`);
  const result = await runCanaryAnalysis(
    {
      setWeight: async (w) => {
        await world.applyConfig([{ name: `${service}-canary.yaml`, text: splitYaml(service, primary, canary, w) }]);
      },
      read: () => readVersionCounters(world.state(), service, canary),
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    },
    spec,
    (d) => console.log(`${new Date(d.at).toISOString()}  ${d.action.padEnd(8)} ${String(d.weight).padStart(3)}%  ${d.reason}${d.requests ? `  [${d.requests} requests]` : ''}`),
  );
  console.log(`${service} ${canary}: ${result.outcome}`);
  return result.outcome === 'promoted' ? 0 : 1;
}
