/** `npm run soak -- --minutes N --seed S [--rate R] [--bus memory|kafka|rabbitmq] [--json FILE]`: runs the chaos soak (soak/soak.ts) and prints its report; exit 0 = every invariant held. */
import fs from 'node:fs';
import { runSoak, type SoakReport } from './soak';
import { table } from '../lib/table';

function arg(name: string, fallback?: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

function number(name: string, fallback: number): number {
  const raw = arg(name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, got "${raw}"`);
  return n;
}

export function printReport(r: SoakReport): void {
  console.log(`\nchaos soak: ${r.minutes} min, seed ${r.seed}, ${r.bus} bus\n\nfault schedule`);
  console.log(table(['at', 'fault', 'target', 'what', 'healed', 'error'], r.schedule.map((f) => [`${(f.atMs / 1000).toFixed(1)} s`, f.kind, f.target, f.detail, f.healedAtMs === undefined ? '-' : `${(f.healedAtMs / 1000).toFixed(1)} s`, f.error ?? ''])));
  console.log(`\nconfig changes: ${r.configChanges.applied} applied, ${r.configChanges.skipped} skipped while the control plane was down, ${r.configChanges.failed.length} failed`);
  console.log('\nwhat clients saw (POST /orders through the gateway)');
  console.log(table(['outcome', 'requests'], Object.entries(r.clients).sort(([a], [b]) => a.localeCompare(b))));
  console.log(`\norders at the end: ${JSON.stringify(r.orders)}\n\ninvariants`);
  console.log(table(['check', 'expected', 'measured', 'verdict'], r.invariants.map((e) => [e.name, e.expected, e.measured, e.pass ? 'PASS' : 'FAIL'])));
  console.log(`\n${r.pass ? 'PASS' : 'FAIL'}`);
  if (r.diagnosis?.length) console.log(`\ndiagnosis (the event pipeline at the end)\n${r.diagnosis.join('\n')}`);
  if (r.logsKept) console.log(`the world's process logs are kept in ${r.logsKept}`);
}

async function main(): Promise<void> {
  const bus = arg('bus', 'memory');
  if (bus !== 'memory' && bus !== 'kafka' && bus !== 'rabbitmq') throw new Error(`--bus must be memory, kafka or rabbitmq, got "${bus}"`);
  const report = await runSoak({ minutes: number('minutes', 2), seed: number('seed', 21), rate: number('rate', 5), bus });
  printReport(report);
  const json = arg('json');
  if (json) fs.writeFileSync(json, JSON.stringify(report, null, 2));
  process.exitCode = report.pass ? 0 : 1;
}

if (require.main === module) {
  main().catch((err) => {
    console.error(`soak failed: ${(err as Error).stack}`);
    process.exit(2);
  });
}
