import { fmtDelta, fmtUs, table } from './format';
import { GOALS, goalRate } from './goals';
import { PERCENTILES, type BenchResults } from './results';

/** The terminal report: one latency table per rate, goals beside the figures, throughput, notices. */
export function renderReport(r: BenchResults): string {
  const out: string[] = [];
  const skipped = r.topologies.filter((t) => t.skipped);
  out.push(`meshlab bench — ${r.meta.node}, ${r.meta.cpus} CPUs, ${r.meta.pinning.enabled ? `pinned: generator on CPU ${r.meta.pinning.generatorCpu}, proxies and upstream on CPU ${r.meta.pinning.systemCpu}` : `not pinned (${r.meta.pinning.reason})`}`);
  out.push(`open loop, constant rate, latency from each request's intended send time (µs, HDR); ${r.meta.durationMs / 1000} s per topology and rate in ${r.meta.sliceMs / 1000} s interleaved slices after ${r.meta.warmupMs / 1000} s warm-up; ≤ ${r.meta.concurrency} connections`);
  out.push(`hop = ${r.meta.hop}`);
  for (const w of r.warnings) out.push(`WARNING: ${w}`);
  for (const t of r.topologies) if (!t.skipped) out.push(`  ${t.name.padEnd(14)} ${t.hops} hop${t.hops === 1 ? ' ' : 's'}  ${t.describe}`);
  const gr = goalRate(r.meta.rates);
  for (const rate of r.meta.rates) {
    out.push('');
    out.push(`── ${rate} rps ${rate === gr ? `(goals: per hop p50 ≤ ${fmtUs(GOALS.perHopP50Us)} and ≤ ${GOALS.maxTimesHaproxy}× HAProxy, p99 ≤ ${fmtUs(GOALS.perHopP99Us)}, CPU ≤ ${GOALS.maxTimesHaproxy}× HAProxy's, RSS ≤ ${GOALS.rssMiB} MiB; mTLS ≤ +${fmtUs(GOALS.mtlsPerHopUs)}/hop; chain5 p99 ≤ ${fmtUs(GOALS.chain5P99Us)}) ` : ''}──`);
    const rows = r.cells
      .filter((c) => c.rate === rate)
      .map((c) => {
        const o = c.perHopOverheadUs;
        const mark = (p: 'p50' | 'p99', limit: number) => (o && rate === gr && c.hops > 0 && r.topologies.find((t) => t.name === c.topology)?.kind === 'sidecar' ? (o[p] <= limit ? ' ✓' : ' ✗') : '');
        return [
          c.topology,
          String(c.hops),
          ...PERCENTILES.map((p) => fmtUs(c.latencyUs[p])),
          o ? `${fmtDelta(o.p50)}${mark('p50', GOALS.perHopP50Us)}` : '—',
          o ? `${fmtDelta(o.p90)}` : '—',
          o ? `${fmtDelta(o.p99)}${mark('p99', GOALS.perHopP99Us)}` : '—',
          o ? `${fmtDelta(o.p999)}` : '—',
          `${c.errors}/${c.completed}`,
          c.usage ? c.usage.cpuSecondsPer1kRequests.toFixed(3) : '—',
          c.usage ? `${c.usage.rssMiBTotal.toFixed(0)}/${c.usage.processes.length}` : '—',
          fmtUs(c.sendLagP99Us),
        ];
      });
    out.push(table(['topology', 'hops', 'p50', 'p90', 'p99', 'p99.9', 'max', 'Δ/hop p50', 'Δ/hop p90', 'Δ/hop p99', 'Δ/hop p99.9', 'errors', 'CPU s/1k req', 'RSS MiB/procs', 'send lag p99'], rows));
  }
  if (r.goals.length) {
    out.push('');
    out.push(`── goals at ${gr} rps ──`);
    out.push(table(['goal', 'topology', 'measured', 'verdict'], r.goals.map((g) => [g.goal, g.topology, g.measured, g.verdict === 'pass' ? 'PASS' : g.verdict === 'fail' ? 'FAIL' : 'n/a'])));
  }
  if (r.throughput.length) {
    out.push('');
    out.push('── max throughput (closed loop, autocannon) ──');
    out.push(table(['topology', 'req/s', 'requests', 'errors', 'non-2xx', 'p50', 'p99', 'connections'], r.throughput.map((t) => [t.topology, String(t.rps), String(t.requests), String(t.errors), String(t.non2xx), `${t.latencyP50Ms}ms`, `${t.latencyP99Ms}ms`, String(t.connections)])));
  }
  if (skipped.length) {
    out.push('');
    for (const t of skipped) out.push(`skipped ${t.name}: ${t.skipped}`);
  }
  for (const w of r.warnings) out.push(`WARNING: ${w}`);
  out.push('');
  out.push('Δ/hop = (topology − direct) / hops at the same percentile and rate; negative = below noise. CPU s/1k req = CPU seconds the proxy processes used per 1,000 requests (= CPU-s per s at 1,000 rps).');
  return out.join('\n');
}
