import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BenchResults } from '../../bench/results';
import { findBinary } from '../../bench/ref-proxies';
import { TOPOLOGIES } from '../../bench/topologies';
import { TOPOLOGY_NAMES } from '../../bench/topology-names';

/**
 * A tiny real run of `node dist/bench/run.js`: it must start the topologies, finish, and write a
 * well-formed JSON, SVG and table. No timing is asserted (the bench measures; the suite does not judge).
 */
describe('npm run bench (tiny run)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-test-'));
  const jsonFile = path.join(dir, 'r.json');
  const svgFile = path.join(dir, 'r.svg');
  const topologies = ['direct', 'sidecar1', 'sidecar1-alt', ...(findBinary('haproxy') ? ['haproxy'] : [])];
  let stdout = '';
  let stderr = '';
  let code: number | null = null;

  beforeAll(async () => {
    const child = spawn(process.execPath, [path.resolve(__dirname, '../../bench/run.js'), '--quick', '--rates', '200', '--duration', '400ms', '--warmup', '100ms', '--slice', '200ms', '--throughput', '0', '--concurrency', '4', '--topologies', topologies.join(','), '--json', jsonFile, '--svg', svgFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGINT'), 45_000);
    code = await new Promise((r) => child.once('exit', (c) => r(c)));
    clearTimeout(timer);
  }, 50_000);
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('the argument parser knows exactly the defined topologies, in run order', () => {
    expect(TOPOLOGIES.map((t) => t.name)).toEqual([...TOPOLOGY_NAMES]);
  });

  test('exits 0 and prints progress, the table and the one-line summary', () => {
    expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' });
    expect(stderr).toMatch(/\[bench [\d.]+s\] start sidecar1/);
    expect(stderr).toMatch(/200 rps: slice 2\/2/);
    expect(stdout).toMatch(/topology\s+hops\s+p50\s+p90\s+p99\s+p99\.9\s+max\s+Δ\/hop p50/);
    expect(stdout).toContain('skipped sidecar1-alt: needs --alt-sidecar-entry FILE');
    expect(stdout.trimEnd().split('\n').pop()).toMatch(/^bench: sidecar hop [+−][\d.]+(µs|ms) p50 \/ [+−][\d.]+(µs|ms) p99 at 200 rps; .*goals: \d+ pass, \d+ fail; 0 errors(; NOISY machine, see warnings)?$/);
  });

  test('writes well-formed JSON: every running topology measured at the rate, exact counts, ordered percentiles', () => {
    const r = JSON.parse(fs.readFileSync(jsonFile, 'utf8')) as BenchResults;
    expect(r.meta.rates).toEqual([200]);
    expect(Array.isArray(r.warnings)).toBe(true);
    expect(r.meta.loadAverage.start).toHaveLength(3);
    expect(r.topologies.map((t) => t.name)).toEqual(topologies);
    expect(r.topologies.find((t) => t.name === 'sidecar1-alt')!.skipped).toBe('needs --alt-sidecar-entry FILE (a patched sidecar main.js to compare) or --alt-sidecar-flags');
    const measured = topologies.filter((t) => t !== 'sidecar1-alt');
    expect(r.cells.map((c) => c.topology)).toEqual(measured);
    for (const c of r.cells) {
      expect(c).toMatchObject({ rate: 200, intended: 80, completed: 80, errors: 0, statuses: { '200': 80 } });
      const l = c.latencyUs;
      expect(l.count).toBe(80);
      expect(0 < l.p50 && l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.p999 && l.p999 <= l.max).toBe(true);
    }
    const direct = r.cells.find((c) => c.topology === 'direct')!;
    const s1 = r.cells.find((c) => c.topology === 'sidecar1')!;
    expect(direct.perHopOverheadUs).toBeNull();
    expect(direct.usage).toBeNull();
    expect(s1.perHopOverheadUs!.p50).toBeCloseTo(s1.latencyUs.p50 - direct.latencyUs.p50, 0);
    expect(s1.usage!.processes).toHaveLength(1);
    expect(s1.usage!.rssMiBTotal).toBeGreaterThan(10);
    // p50, p99, p50 against HAProxy (n/a without it), CPU against HAProxy's (n/a), RSS
    expect(r.goals.filter((g) => g.topology === 'sidecar1').map((g) => g.goal.replace(/ [≤≥].*/, ''))).toEqual(['per-hop p50', 'per-hop p99', 'per-hop p50', 'CPU per request per hop', 'sidecar RSS']);
    expect(r.summary).toBe(stdout.trimEnd().split('\n').pop());
  });

  test('writes a standalone SVG with one line per measured topology', () => {
    const svg = fs.readFileSync(svgFile, 'utf8');
    expect(svg.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    const lines = [...svg.matchAll(/<polyline data-topology="([^"]+)"/g)].map((m) => m[1]);
    expect(lines).toEqual(topologies.filter((t) => t !== 'sidecar1-alt'));
  });
});
