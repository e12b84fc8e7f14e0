import { parseArgs, parseDuration } from '../../bench/args';
import { checkGoals, goalRate, noiseWarnings, summaryLine } from '../../bench/goals';
import { fmtDelta, fmtUs } from '../../bench/format';
import { renderReport } from '../../bench/report';
import { renderSvg } from '../../bench/svg';
import type { BenchResults, Cell } from '../../bench/results';
import { haproxyConfig, nginxConfig } from '../../bench/ref-proxies';

function cell(topology: string, hops: number, p50: number, p99: number, perHop: [number, number] | null): Cell {
  return {
    topology,
    rate: 1000,
    hops,
    latencyUs: { count: 1000, p50, p90: p50 + 10, p99, p999: p99 + 100, max: p99 + 500, mean: p50 },
    perHopOverheadUs: perHop && { p50: perHop[0], p90: perHop[0], p99: perHop[1], p999: perHop[1], max: perHop[1] },
    intended: 1000,
    completed: 1000,
    errors: 0,
    errorKinds: {},
    statuses: { '200': 1000 },
    achievedRps: 1000,
    sendLagP99Us: 20,
    measuredMs: 1000,
    usage: null,
  };
}

describe('bench arguments', () => {
  test('defaults and --quick', () => {
    expect(parseArgs([])).toMatchObject({ rates: [500, 1000, 2000], durationMs: 10_000, concurrency: 16, quick: false });
    expect(parseArgs(['--quick'])).toMatchObject({ rates: [1000], durationMs: 2000, quick: true });
  });
  test('flags parse, and direct is always measured', () => {
    const a = parseArgs(['--rates', '500,1000', '--duration', '1500ms', '--concurrency', '8', '--topologies', 'sidecar1,haproxy', '--json', 'x.json', '--svg', 'x.svg']);
    expect(a).toMatchObject({ rates: [500, 1000], durationMs: 1500, concurrency: 8, topologies: ['direct', 'sidecar1', 'haproxy'], jsonFile: 'x.json', svgFile: 'x.svg' });
  });
  test('errors say what was wrong and what would be right', () => {
    expect(() => parseArgs(['--rates', '500,abc'])).toThrow('--rates needs positive numbers separated by commas (500,1000), got "500,abc"');
    expect(() => parseArgs(['--duration', '10 minutes'])).toThrow('--duration needs a duration like 500ms or 10s, got "10 minutes"');
    expect(() => parseArgs(['--topologies', 'direct,envoy'])).toThrow(/unknown envoy; known: direct, sidecar1/);
    expect(() => parseArgs(['--concurrency', '0'])).toThrow('--concurrency needs a positive integer, got "0"');
    expect(() => parseArgs(['--fast'])).toThrow(/unknown option "--fast"/);
    expect(parseDuration('--x', '2.5s')).toBe(2500);
  });
});

describe('goals and report', () => {
  test('fmtUs keeps µs below 10 ms', () => {
    expect([fmtUs(76), fmtUs(9999), fmtUs(12_345), fmtUs(-20)]).toEqual(['76µs', '9999µs', '12.35ms', '-20µs']);
  });

  test('goal checks (#15): p50 ≤ 60 µs, p99 ≤ 500 µs, 3× HAProxy with its noise floor, the mesh budget', () => {
    const cells = [cell('direct', 0, 80, 900, null), cell('sidecar1', 1, 130, 1300, [50, 400]), cell('sidecar2', 2, 400, 3400, [160, 1250]), cell('haproxy', 1, 85, 950, [5, 50])];
    const goals = checkGoals(cells, [500, 1000, 2000], ['sidecar1', 'sidecar2']);
    const v = (t: string, g: string) => goals.find((x) => x.topology === t && x.goal.startsWith(g))!;
    expect(goalRate([500, 1000, 2000])).toBe(1000);
    expect(goalRate([400, 2000])).toBe(400);
    expect(v('sidecar1', 'per-hop p50 ≤ 60µs').verdict).toBe('pass');
    expect(v('sidecar1', 'per-hop p99 ≤ 500µs').verdict).toBe('pass');
    expect(v('sidecar2', 'per-hop p50 ≤ 60µs').verdict).toBe('fail');
    // HAProxy's p50 overhead 5 µs is floored to 10 µs: 50 / 10 = 5× → fail.
    expect(v('sidecar1', 'per-hop p50 ≤ 3× HAProxy')).toMatchObject({ verdict: 'fail', measured: '5.0× (50µs vs 5µs, floored to 10µs)' });
    expect(v('sidecar2', 'mesh path')).toMatchObject({ verdict: 'fail', measured: '2500µs' });
    expect(goals).toHaveLength(2 * 3 + 1); // without usage, no CPU or RSS goal; without sidecar2-mtls, chain5 or throughput, none of theirs
  });

  test('goal checks (#15): CPU per hop against HAProxy\'s, the largest sidecar\'s RSS, mTLS per hop, chain5 p99, one sidecar\'s closed-loop rate', () => {
    const usage = (cpuSecondsPer1kRequests: number, rss: number[]) => ({ processes: rss.map((rssMiB, pid) => ({ pid, cpuSeconds: 0, rssMiB })), cpuSecondsPer1kRequests, cpuSecondsPer1kRequestsPerProcess: cpuSecondsPer1kRequests / rss.length, cpuPercent: 0, rssMiBTotal: 0, rssMiBPerProcess: 0, rssMiBPerProcessPer1kRps: 0 });
    const cells = [
      cell('direct', 0, 80, 900, null),
      { ...cell('sidecar1', 1, 130, 1300, [50, 400]), usage: usage(0.09, [58]) },
      { ...cell('sidecar2', 2, 200, 1500, [60, 300]), usage: usage(0.2, [59, 61]) },
      cell('sidecar2-mtls', 2, 250, 1600, [85, 350]),
      cell('chain5', 5, 900, 5200, [160, 860]),
      { ...cell('haproxy', 1, 100, 950, [20, 50]), usage: usage(0.03, [14]) },
    ];
    const goals = checkGoals(cells, [1000], ['sidecar1', 'sidecar2'], 1, [{ topology: 'sidecar1', rps: 9400 }]);
    const v = (t: string, g: string) => goals.find((x) => x.topology === t && x.goal.startsWith(g))!;
    expect(v('sidecar1', 'CPU per request per hop')).toMatchObject({ verdict: 'pass', measured: '3.0× (0.090 vs 0.030 CPU s/1k)' });
    expect(v('sidecar2', 'CPU per request per hop')).toMatchObject({ verdict: 'fail', measured: '3.3× (0.100 vs 0.030 CPU s/1k)' });
    expect(v('sidecar1', 'sidecar RSS').verdict).toBe('pass');
    expect(v('sidecar2', 'sidecar RSS')).toMatchObject({ verdict: 'fail', measured: '61 MiB (largest process)' });
    expect(v('sidecar2-mtls', 'mTLS adds')).toMatchObject({ verdict: 'fail', measured: '+25µs ((250µs − 200µs) / 2)' });
    expect(v('chain5', 'chain5 end-to-end p99')).toMatchObject({ verdict: 'fail', measured: '5200µs' });
    expect(v('sidecar1', 'one sidecar sustains')).toMatchObject({ verdict: 'fail', measured: '9,400 rps' });
    expect(checkGoals(cells, [1000], ['sidecar1'], 1, [{ topology: 'sidecar1', rps: 10_200 }]).find((g) => g.goal.startsWith('one sidecar'))!.verdict).toBe('pass');
    // HAProxy's closed loop in the same run is quoted beside it (the machine's ceiling for a proxy); it judges nothing.
    expect(checkGoals(cells, [1000], ['sidecar1'], 1, [{ topology: 'sidecar1', rps: 2600 }, { topology: 'haproxy', rps: 7100 }]).find((g) => g.goal.startsWith('one sidecar'))).toMatchObject({ verdict: 'fail', measured: '2,600 rps (HAProxy 7,100 rps)' });
  });

  test('the exporter goal carries its tick resolution: 10 s in 5 slices of 10,000 requests is ± 10 µs (n/a, too coarse); 100 s in 5 slices is ± 1 µs and judges', () => {
    const usage = (cpuSecondsPer1kRequests: number) => ({ processes: [], cpuSecondsPer1kRequests, cpuSecondsPer1kRequestsPerProcess: cpuSecondsPer1kRequests, cpuPercent: 0, rssMiBTotal: 0, rssMiBPerProcess: 0, rssMiBPerProcessPer1kRps: 0 });
    const cells = (n: number, tracedPer1k: number): Cell[] => [
      { ...cell('sidecar1', 1, 160, 1300, [80, 400]), completed: n, usage: usage(0.02) },
      { ...cell('sidecar1-traced', 1, 170, 1400, [90, 420]), completed: n, usage: usage(tracedPer1k) },
    ];
    const exporter = (cs: Cell[], slices: number) => checkGoals(cs, [1000], ['sidecar1'], slices).find((g) => g.goal.startsWith('span export'))!;
    expect(exporter(cells(10_000, 0.023), 5)).toMatchObject({ verdict: 'n/a', measured: expect.stringMatching(/^3µs ± 10µs .*too coarse.*exporter-cost/) });
    expect(exporter(cells(100_000, 0.023), 5)).toMatchObject({ verdict: 'pass', measured: '3µs ± 1µs (10 ms CPU ticks over 5 slice(s))' });
    expect(exporter(cells(100_000, 0.03), 5)).toMatchObject({ verdict: 'fail' });
    expect(exporter(cells(100_000, 0.0255), 5).verdict).toBe('n/a'); // 5.5 ± 1 straddles the goal
  });

  test('table, SVG and summary from one result', () => {
    const cells = [cell('direct', 0, 80, 900, null), cell('sidecar1', 1, 160, 1300, [80, 400])];
    const r: BenchResults = {
      meta: { startedAt: '', finishedAt: '', node: 'v20', cpus: 2, pinning: { enabled: false, reason: 'test', generatorCpu: 1, systemCpu: 0 }, rates: [1000], durationMs: 1000, warmupMs: 0, sliceMs: 500, concurrency: 4, hop: 'one proxy listener', method: 'open loop', loadAverage: { start: [0.5, 0.5, 0.5], end: [1, 1, 1] } },
      topologies: [
        { name: 'direct', hops: 0, kind: 'baseline', describe: 'generator → upstream' },
        { name: 'sidecar1', hops: 1, kind: 'sidecar', describe: 'via one sidecar' },
        { name: 'nginx', hops: 1, kind: 'reference', describe: 'nginx', skipped: 'nginx is not installed (apt-get update && apt-get install -y haproxy nginx)' },
      ],
      cells,
      throughput: [{ topology: 'sidecar1', durationMs: 1000, connections: 4, rps: 3000, requests: 3000, errors: 0, non2xx: 0, latencyP50Ms: 1, latencyP99Ms: 3 }],
      goals: checkGoals(cells, [1000], ['sidecar1']),
      warnings: [],
      summary: '',
    };
    r.summary = summaryLine(r);
    expect(r.summary).toBe('bench: sidecar hop +80µs p50 / +400µs p99 at 1000 rps; max 3000 rps through 1 sidecar; goals: 1 pass, 1 fail; 0 errors'); // +80 µs p50 fails ≤ 60 µs
    const text = renderReport(r);
    expect(text).not.toContain('WARNING');
    expect(text).toMatch(/sidecar1\s+1\s+160µs\s+170µs\s+1300µs\s+1400µs\s+1800µs\s+\+80µs ✗\s+\+80µs\s+\+400µs ✓/);
    expect(text).toContain('skipped nginx: nginx is not installed (apt-get update && apt-get install -y haproxy nginx)');
    const svg = renderSvg(r);
    expect(svg.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg.match(/<polyline /g)).toHaveLength(2);
    expect(svg.match(/<circle /g)).toHaveLength(10);
  });

  test('noise warnings: a late generator, a slow baseline, a loaded machine', () => {
    const quiet = [cell('direct', 0, 80, 900, null), cell('sidecar1', 1, 160, 1300, [80, 400])];
    expect(noiseWarnings(quiet, [0.4, 0.3, 0.2], 2)).toEqual([]);
    const noisy = [{ ...cell('direct', 0, 80, 94_000, null), sendLagP99Us: 133_000 }, { ...cell('sidecar1', 1, 160, 1300, [80, 400]), sendLagP99Us: 140_000 }];
    const w = noiseWarnings(noisy, [17.7, 14.3, 10.2], 2);
    expect(w).toHaveLength(3);
    expect(w[0]).toMatch(/^the generator ran up to 133ms late on the direct path/);
    expect(w[1]).toMatch(/^direct p99 at 1000 rps is 94.00ms \(> 3000µs\)/);
    expect(w[2]).toMatch(/^load average 17.7 14.3 10.2 on 2 CPUs before the bench started/);
    // A topology queueing far beyond the generator's own lateness is saturated.
    const saturated = [cell('direct', 0, 80, 900, null), { ...cell('chain5', 5, 900_000, 2_000_000, [180_000, 400_000]), sendLagP99Us: 1_900_000 }];
    expect(noiseWarnings(saturated, [0.5, 0.5, 0.5], 2)).toEqual(['chain5 saturated at 1000 rps: requests waited up to 1900ms (p99) for a free connection, so its latency is mostly queueing']);
    expect(summaryLine({ cells: quiet, goals: [], throughput: [], meta: { rates: [1000] } as BenchResults['meta'], warnings: w })).toBe('bench: sidecar hop +80µs p50 / +400µs p99 at 1000 rps; goals: 0 pass, 0 fail; 0 errors; NOISY machine, see warnings');
    expect(fmtDelta(-91)).toBe('−91µs');
  });

  test('reference proxy configs keep connections to the upstream alive', () => {
    const h = haproxyConfig(8080, 9090);
    expect(h).toMatch(/option http-keep-alive[\s\S]*bind 127\.0\.0\.1:8080[\s\S]*server up 127\.0\.0\.1:9090/);
    const n = nginxConfig('/tmp/x', 8080, 9090, false);
    expect(n).toContain('keepalive 64;');
    expect(n).toContain('proxy_set_header Connection "";');
    expect(n).toContain('listen 127.0.0.1:8080;');
    expect(n).not.toContain('user root');
  });
});
