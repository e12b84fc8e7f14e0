import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BenchArgs } from './args';
import { GeneratorClient } from './generator-client';
import { mergeEncoded, newHistogram, summarize, type Histogram } from './histogram';
import { checkGoals, noiseWarnings, summaryLine } from './goals';
import { pinProcess, planPinning } from './pin';
import { cpuSeconds, rssMiB } from './proc-stats';
import { PERCENTILES, type BenchResults, type Cell, type Percentile, type TopologyInfo } from './results';
import { startUpstream, TOPOLOGIES, type BenchContext, type RunningTopology } from './topologies';
import { fmtUs } from './format';

export interface BenchIo {
  /** Progress lines (stderr in the CLI). */
  progress(line: string): void;
}

const HOP_DEFINITION = 'one proxy listener a request crosses (a sidecar outbound or inbound listener, or one HAProxy/nginx frontend); overhead per hop = (topology − direct) / hops';

/** Accumulates one topology × rate over its interleaved slices. */
class CellAccumulator {
  readonly histogram: Histogram = newHistogram();
  intended = 0;
  completed = 0;
  errors = 0;
  errorKinds: Record<string, number> = {};
  statuses: Record<string, number> = {};
  sendLagP99Us = 0;
  measuredMs = 0;
  readonly cpu = new Map<number, number>();
  readonly rss = new Map<number, number>();
}

/**
 * The whole bench: starts the upstream, the generator and every available topology, measures each
 * rate in interleaved slices (so drift in machine load hits all topologies alike), runs the
 * closed-loop throughput check, stops everything, and returns the results.
 */
export async function runBench(args: BenchArgs, io: BenchIo): Promise<BenchResults> {
  const startedAt = new Date();
  const loadStart = os.loadavg();
  const distDir = path.resolve(__dirname, '..');
  const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshlab-bench-'));
  const pin = planPinning(!args.pin);
  io.progress(pin.enabled ? `pinning: generator on CPU ${pin.generatorCpu}, proxies, upstream, control planes and Zipkin on CPU ${pin.systemCpu}` : `pinning off: ${pin.reason}`);
  // This process hosts the topologies' control planes. Left on both CPUs, it (and the Zipkin JVM) took turns with the
  // generator, which spins on setImmediate for the last 1.5 ms before each send (at 1,000 rps, all the time): in the
  // full run the generator's send lag p99 on the direct path was 12.7–14.3 ms; pinned here, 1.2–1.5 ms. (The direct
  // path's p90 in the full run stayed ~2 ms, against ~180 µs with two or three topologies: that noise is on the
  // system CPU, not yet explained.) The generator's CPU is its own; everything else is the system's.
  if (pin.enabled) pinProcess(process.pid, pin.systemCpu);
  const ctx: BenchContext = { distDir, tmpDir, upstreamPort: 0, pin, cleanups: [], sidecarEntry: args.sidecarEntry && path.resolve(args.sidecarEntry), altSidecarEntry: args.altSidecarEntry && path.resolve(args.altSidecarEntry), altSidecarFlags: args.altSidecarFlags };
  const generator = new GeneratorClient(distDir, path.join(tmpDir, 'generator.log'));
  const infos: TopologyInfo[] = [];
  const running: RunningTopology[] = [];
  let ok = false;
  const onSignal = (): void => {
    io.progress('interrupted: stopping every process the bench started');
    void stopAll().finally(() => process.exit(130));
  };
  const stopAll = async (): Promise<void> => {
    for (const c of ctx.cleanups.splice(0).reverse()) await c().catch(() => undefined);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const upstream = await startUpstream(distDir, tmpDir, pin);
    ctx.cleanups.push(() => upstream.stop());
    ctx.upstreamPort = upstream.ports.http;
    await generator.start(pin);
    ctx.cleanups.push(() => generator.stop());

    // Topologies start side by side (each has its own processes and control plane), then run in a fixed order.
    const starting: Promise<RunningTopology | undefined>[] = [];
    for (const def of TOPOLOGIES) {
      if (!args.topologies.includes(def.name)) continue;
      const info: TopologyInfo = { name: def.name, hops: def.hops, kind: def.kind, describe: def.describe };
      infos.push(info);
      const reason = def.unavailable(ctx);
      if (reason) {
        info.skipped = reason;
        io.progress(`skip ${def.name}: ${reason}`);
        continue;
      }
      io.progress(`start ${def.name} …`);
      starting.push(
        def.start(ctx).catch((err: Error) => {
          info.skipped = `failed to start: ${err.message}`;
          io.progress(`skip ${def.name}: ${info.skipped}`);
          return undefined;
        }),
      );
    }
    for (const t of await Promise.all(starting)) if (t) running.push(t);
    io.progress(`running: ${running.map((t) => t.name).join(', ')}`);
    if (!running.some((t) => t.name === 'direct')) throw new Error('the direct topology did not start; nothing to compare against');

    const cells: Cell[] = [];
    for (const rate of args.rates) {
      const acc = new Map<string, CellAccumulator>(running.map((t) => [t.name, new CellAccumulator()]));
      if (args.warmupMs > 0) {
        for (const t of running) {
          io.progress(`${rate} rps: warm-up ${t.name}`);
          await generator.openLoop({ ...t.target, rate, durationMs: args.warmupMs, concurrency: args.concurrency });
        }
      }
      const rounds = Math.max(1, Math.ceil(args.durationMs / args.sliceMs));
      for (let round = 0; round < rounds; round++) {
        const sliceMs = Math.min(args.sliceMs, args.durationMs - round * args.sliceMs);
        const line: string[] = [];
        for (const t of running) {
          const a = acc.get(t.name)!;
          const pids = t.proxyPids();
          const cpuBefore = pids.map((p) => cpuSeconds(p) ?? 0);
          const r = await generator.openLoop({ ...t.target, rate, durationMs: sliceMs, concurrency: args.concurrency });
          pids.forEach((p, i) => {
            a.cpu.set(p, (a.cpu.get(p) ?? 0) + (cpuSeconds(p) ?? 0) - cpuBefore[i]);
            a.rss.set(p, Math.max(a.rss.get(p) ?? 0, rssMiB(p) ?? 0));
          });
          mergeEncoded(a.histogram, r.histogram);
          a.intended += r.intended;
          a.completed += r.completed;
          a.errors += r.errors;
          a.measuredMs += r.elapsedMs;
          a.sendLagP99Us = Math.max(a.sendLagP99Us, r.sendLag.p99);
          for (const [k, v] of Object.entries(r.errorKinds)) a.errorKinds[k] = (a.errorKinds[k] ?? 0) + v;
          for (const [k, v] of Object.entries(r.statuses)) a.statuses[k] = (a.statuses[k] ?? 0) + v;
          line.push(`${t.name} ${fmtUs(r.latency.p50)}/${fmtUs(r.latency.p99)}${r.errors ? ` ${r.errors} err` : ''}`);
        }
        io.progress(`${rate} rps: slice ${round + 1}/${rounds} (p50/p99) ${line.join(' · ')}`);
      }
      const direct = summarize(acc.get('direct')!.histogram);
      for (const t of running) {
        const a = acc.get(t.name)!;
        const latency = summarize(a.histogram);
        a.histogram.destroy();
        const perHop = t.hops > 0 ? (Object.fromEntries(PERCENTILES.map((p) => [p, Math.round(((latency[p] - direct[p]) / t.hops) * 10) / 10])) as Record<Percentile, number>) : null;
        const processes = [...a.cpu.keys()].map((pid) => ({ pid, cpuSeconds: round3(a.cpu.get(pid) ?? 0), rssMiB: round1(a.rss.get(pid) ?? 0) }));
        const cpuTotal = processes.reduce((s, p) => s + p.cpuSeconds, 0);
        const rssTotal = processes.reduce((s, p) => s + p.rssMiB, 0);
        const per1k = a.completed > 0 ? cpuTotal / (a.completed / 1000) : 0;
        cells.push({
          topology: t.name,
          rate,
          hops: t.hops,
          latencyUs: latency,
          perHopOverheadUs: perHop,
          intended: a.intended,
          completed: a.completed,
          errors: a.errors,
          errorKinds: a.errorKinds,
          statuses: a.statuses,
          achievedRps: a.measuredMs > 0 ? Math.round((a.completed / a.measuredMs) * 1000) : 0,
          sendLagP99Us: a.sendLagP99Us,
          measuredMs: a.measuredMs,
          usage: processes.length
            ? {
                processes,
                cpuSecondsPer1kRequests: round4(per1k),
                cpuSecondsPer1kRequestsPerProcess: round4(per1k / processes.length),
                cpuPercent: round1((cpuTotal / (a.measuredMs / 1000)) * 100),
                rssMiBTotal: round1(rssTotal),
                rssMiBPerProcess: round1(rssTotal / processes.length),
                rssMiBPerProcessPer1kRps: round1(rssTotal / processes.length / (rate / 1000)),
              }
            : null,
        });
      }
    }

    const throughput: BenchResults['throughput'] = [];
    if (args.throughputMs > 0) {
      for (const name of args.throughputTopologies) {
        const t = running.find((x) => x.name === name);
        if (!t) continue;
        io.progress(`max throughput (autocannon, closed loop, ${args.concurrency} connections, ${args.throughputMs / 1000} s): ${name} …`);
        const r = await generator.throughput({ ...t.target, connections: args.concurrency, durationS: Math.max(1, Math.round(args.throughputMs / 1000)) });
        throughput.push({ topology: name, durationMs: args.throughputMs, connections: args.concurrency, ...r });
      }
    }

    const goals = checkGoals(cells, args.rates, infos.filter((i) => i.kind === 'sidecar' && !i.skipped).map((i) => i.name), Math.max(1, Math.ceil(args.durationMs / args.sliceMs)), throughput);
    const meta: BenchResults['meta'] = {
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      node: process.version,
      cpus: os.cpus().length,
      pinning: { enabled: pin.enabled, reason: pin.reason, generatorCpu: pin.generatorCpu, systemCpu: pin.systemCpu },
      rates: args.rates,
      durationMs: args.durationMs,
      warmupMs: args.warmupMs,
      sliceMs: args.sliceMs,
      concurrency: args.concurrency,
      hop: HOP_DEFINITION,
      loadAverage: { start: loadStart.map(round1), end: os.loadavg().map(round1) },
      method: 'open loop at a constant rate on an absolute schedule; latency from each request’s intended send time to its last response byte (coordinated omission corrected); HDR histogram, 1 µs resolution, 3 significant digits',
    };
    const warnings = noiseWarnings(cells, loadStart, os.cpus().length); // the load before the bench added its own
    const results: BenchResults = { meta, topologies: infos, cells, throughput, goals, warnings, summary: '' };
    results.summary = summaryLine(results);
    ok = true;
    return results;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await stopAll();
    if (ok) fs.rmSync(tmpDir, { recursive: true, force: true });
    else io.progress(`logs kept in ${tmpDir}`);
  }
}

const round1 = (n: number) => Math.round(n * 10) / 10;
const round3 = (n: number) => Math.round(n * 1000) / 1000;
const round4 = (n: number) => Math.round(n * 10000) / 10000;
