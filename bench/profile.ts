import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseDuration } from './args';
import { GeneratorClient } from './generator-client';
import { planPinning } from './pin';
import { startUpstream, TOPOLOGIES, type BenchContext } from './topologies';
import { fmtUs } from './format';

/**
 * `node dist/bench/profile.js [--topology sidecar1] [--rate 1000] [--duration 10s]`: runs the
 * sidecars of one topology under `--cpu-prof` at a constant rate, then prints where their CPU went
 * (self time by function and by module, in µs per request). The .cpuprofile files are kept for
 * Chrome DevTools. (--cpu-prof itself is refused in NODE_OPTIONS, so bench/cpu-prof-hook.ts does the sampling.)
 */

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  name: string;
  us: number;
}

/** Self time (µs) per function and per module (file, or node:internal area) of a V8 CPU profile. */
export function selfTimes(profile: CpuProfile): { byFunction: SelfTime[]; byModule: SelfTime[]; totalUs: number } {
  const nodeById = new Map(profile.nodes.map((n) => [n.id, n]));
  const fn = new Map<string, number>();
  const mod = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i + 1] ?? 0; // a sample's delta is the time until the next one
    const node = nodeById.get(id);
    if (!node) return;
    const { functionName, url, lineNumber } = node.callFrame;
    const file = url.replace(/^file:\/\//, '').replace(/^.*\/node_modules\//, 'node_modules/').replace(/^.*\/dist\//, 'dist/');
    const key = `${functionName || '(anonymous)'} ${file ? `${file}:${lineNumber + 1}` : ''}`.trim();
    fn.set(key, (fn.get(key) ?? 0) + dt);
    const m = moduleOf(file, functionName);
    mod.set(m, (mod.get(m) ?? 0) + dt);
    total += dt;
  });
  const sorted = (m: Map<string, number>) => [...m.entries()].map(([name, us]) => ({ name, us })).sort((a, b) => b.us - a.us);
  return { byFunction: sorted(fn), byModule: sorted(mod), totalUs: total };
}

function moduleOf(file: string, functionName: string): string {
  if (!file) return functionName.startsWith('(') ? functionName : '(native)';
  const nm = /^node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
  if (nm) return nm[1];
  if (file.startsWith('node:')) return file.split('/').slice(0, 3).join('/');
  return file;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const get = (flag: string, dflt: string): string => {
    const i = argv.indexOf(flag);
    return i >= 0 && argv[i + 1] ? argv[i + 1] : dflt;
  };
  const topology = get('--topology', 'sidecar1');
  const rate = Number(get('--rate', '1000'));
  const durationMs = parseDuration('--duration', get('--duration', '10s'));
  const def = TOPOLOGIES.find((t) => t.name === topology && t.kind === 'sidecar');
  if (!def) throw new Error(`--topology must be a sidecar topology (${TOPOLOGIES.filter((t) => t.kind === 'sidecar').map((t) => t.name).join(', ')}), got "${topology}"`);
  const distDir = path.resolve(__dirname, '..');
  const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshlab-profile-'));
  const profDir = path.resolve(get('--out', path.join(tmpDir, 'profiles')));
  fs.mkdirSync(profDir, { recursive: true });
  const pin = planPinning(argv.includes('--no-pin'));
  const ctx: BenchContext = { distDir, tmpDir, upstreamPort: 0, pin, cleanups: [], sidecarEntry: argv.includes('--sidecar-entry') ? path.resolve(get('--sidecar-entry', '')) : undefined, sidecarEnv: { NODE_OPTIONS: `--require ${path.join(distDir, 'bench/cpu-prof-hook.js')}`, BENCH_CPU_PROF_DIR: profDir } };
  const generator = new GeneratorClient(distDir, path.join(tmpDir, 'generator.log'));
  let completed = 0;
  try {
    const upstream = await startUpstream(distDir, tmpDir, pin);
    ctx.cleanups.push(() => upstream.stop());
    ctx.upstreamPort = upstream.ports.http;
    await generator.start(pin);
    ctx.cleanups.push(() => generator.stop());
    const t = await def.start(ctx);
    await generator.openLoop({ ...t.target, rate, durationMs: 1000 });
    const r = await generator.openLoop({ ...t.target, rate, durationMs });
    completed = r.completed + Math.floor(rate); // the warm-up's requests are in the profile too
    process.stdout.write(`${topology} at ${rate} rps for ${durationMs / 1000} s: p50 ${fmtUs(r.latency.p50)} p99 ${fmtUs(r.latency.p99)}, ${r.errors} errors\n`);
  } finally {
    for (const c of ctx.cleanups.splice(0).reverse()) await c().catch(() => undefined);
  }
  const files = fs.readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile'));
  for (const f of files) {
    const prof = JSON.parse(fs.readFileSync(path.join(profDir, f), 'utf8')) as CpuProfile;
    const { byFunction, byModule, totalUs } = selfTimes(prof);
    const per = (us: number) => `${(us / completed).toFixed(1)}µs/req`;
    process.stdout.write(`\n${path.join(profDir, f)}: ${(totalUs / 1e6).toFixed(2)} s sampled, ${per(totalUs)} (idle included)\n  by module:\n`);
    for (const m of byModule.slice(0, 15)) process.stdout.write(`    ${((m.us / totalUs) * 100).toFixed(1).padStart(5)}%  ${per(m.us).padStart(12)}  ${m.name}\n`);
    process.stdout.write('  by function (self):\n');
    for (const m of byFunction.slice(0, 30)) process.stdout.write(`    ${((m.us / totalUs) * 100).toFixed(1).padStart(5)}%  ${per(m.us).padStart(12)}  ${m.name}\n`);
  }
}

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`profile failed: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
