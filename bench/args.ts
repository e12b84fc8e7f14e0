import { TOPOLOGY_NAMES as NAMES } from './topology-names';

const TOPOLOGY_NAMES: readonly string[] = NAMES;

/** The bench's command line: `npm run bench -- [--quick] [--rates 500,1000] [--duration 10s] …`. */
export interface BenchArgs {
  quick: boolean;
  rates: number[];
  /** Measured time per topology and rate (split into interleaved slices). */
  durationMs: number;
  /** Warm-up per topology and rate, not recorded. */
  warmupMs: number;
  /** Length of one interleaved slice. */
  sliceMs: number;
  concurrency: number;
  topologies: string[];
  /** Closed-loop max-throughput run (autocannon) per topology in `throughputTopologies`. */
  throughputMs: number;
  throughputTopologies: string[];
  jsonFile?: string;
  svgFile?: string;
  pin: boolean;
  /** A different compiled sidecar entry (to compare a patched build); default dist/mesh/sidecar/main.js. */
  sidecarEntry?: string;
  /** A patched sidecar build measured as topology sidecar1-alt, interleaved with sidecar1. */
  altSidecarEntry?: string;
  /** Node flags for sidecar1-alt instead of the sidecar's own (mesh/sidecar/node-flags.ts): A/B a flag. */
  altSidecarFlags?: string[];
}

export const USAGE = `usage: npm run bench -- [options]
  --quick                 short run (1,000 rps only, 1 s warm-up and 2 s per topology): about a minute with the build
  --rates 500,1000,2000   request rates, requests per second
  --duration 10s          measured time per topology and rate (ms, s suffixes)
  --warmup 2s             unrecorded warm-up per topology and rate
  --slice 2s              interleaving slice: topologies take turns for this long
  --concurrency 16        most keep-alive connections (in-flight requests) of the generator
  --topologies a,b        subset of: ${TOPOLOGY_NAMES.join(', ')}
  --throughput 5s         closed-loop max-throughput run per topology (0 to skip)
  --json FILE             results JSON (default bench/results/bench-<time>.json)
  --svg FILE              chart SVG (default next to the JSON)
  --no-pin                do not pin generator and proxies to separate CPUs
  --sidecar-entry FILE    run this compiled sidecar main.js instead
  --alt-sidecar-entry F   also measure this sidecar build as sidecar1-alt, interleaved with sidecar1 (A/B a fix)
  --alt-sidecar-flags "…" run sidecar1-alt with these Node flags instead of the sidecar's own ("" for none; A/B a flag)`;

export function parseDuration(flag: string, raw: string | undefined): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(raw ?? '');
  if (!m) throw new Error(`${flag} needs a duration like 500ms or 10s, got ${raw === undefined ? 'nothing' : `"${raw}"`}`);
  return Math.round(Number(m[1]) * (m[2] === 'ms' ? 1 : 1000));
}

export function parseArgs(argv: readonly string[]): BenchArgs {
  const quick = argv.includes('--quick');
  const a: BenchArgs = {
    quick,
    rates: quick ? [1000] : [500, 1000, 2000],
    durationMs: quick ? 2000 : 10_000,
    warmupMs: quick ? 1000 : 2000, // a Node sidecar needs ~1 s of traffic for its hot path to be optimized (after 0.3 s it was still several times slower)
    sliceMs: quick ? 1000 : 2000,
    concurrency: 16,
    topologies: TOPOLOGY_NAMES.filter((t) => t !== 'sidecar1-alt'),
    throughputMs: quick ? 1000 : 5000,
    throughputTopologies: ['direct', 'sidecar1', 'haproxy'],
    pin: true,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new Error(`${flag} needs a value\n${USAGE}`);
      return v;
    };
    switch (flag) {
      case '--quick':
        break;
      case '--no-pin':
        a.pin = false;
        break;
      case '--rates': {
        const raw = value();
        a.rates = raw.split(',').map((s) => Number(s.trim()));
        if (a.rates.some((r) => !Number.isFinite(r) || r <= 0)) throw new Error(`--rates needs positive numbers separated by commas (500,1000), got "${raw}"`);
        break;
      }
      case '--duration':
        a.durationMs = parseDuration(flag, value());
        break;
      case '--warmup':
        a.warmupMs = parseDuration(flag, value());
        break;
      case '--slice':
        a.sliceMs = parseDuration(flag, value());
        break;
      case '--throughput':
        a.throughputMs = parseDuration(flag, value());
        break;
      case '--concurrency': {
        const raw = value();
        a.concurrency = Number(raw);
        if (!Number.isInteger(a.concurrency) || a.concurrency < 1) throw new Error(`--concurrency needs a positive integer, got "${raw}"`);
        break;
      }
      case '--topologies': {
        const raw = value();
        a.topologies = raw.split(',').map((s) => s.trim());
        const unknown = a.topologies.filter((t) => !TOPOLOGY_NAMES.includes(t));
        if (unknown.length) throw new Error(`--topologies: unknown ${unknown.join(', ')}; known: ${TOPOLOGY_NAMES.join(', ')}`);
        if (!a.topologies.includes('direct')) a.topologies.unshift('direct'); // overhead is measured against it
        break;
      }
      case '--sidecar-entry':
        a.sidecarEntry = value();
        break;
      case '--alt-sidecar-entry':
        a.altSidecarEntry = value();
        break;
      case '--alt-sidecar-flags': {
        const v = argv[++i];
        if (v === undefined) throw new Error(`--alt-sidecar-flags needs a value (quoted, "" for none)\n${USAGE}`);
        a.altSidecarFlags = v.split(/\s+/).filter(Boolean);
        break;
      }
      case '--json':
        a.jsonFile = value();
        break;
      case '--svg':
        a.svgFile = value();
        break;
      case '--help':
      case '-h':
        throw new Error(USAGE);
      default:
        throw new Error(`unknown option "${flag}"\n${USAGE}`);
    }
  }
  if (a.sliceMs > a.durationMs) a.sliceMs = a.durationMs;
  if ((a.altSidecarEntry || a.altSidecarFlags) && !a.topologies.includes('sidecar1-alt')) a.topologies.push('sidecar1-alt');
  return a;
}
