import type { LatencySummary } from './histogram';
import type { ThroughputResult } from './generator-main';

/** The JSON the bench writes (bench/results/*.json): everything the table and the chart show. */

export type Percentile = 'p50' | 'p90' | 'p99' | 'p999' | 'max';
export const PERCENTILES: readonly Percentile[] = ['p50', 'p90', 'p99', 'p999', 'max'];
export const PERCENTILE_LABELS: Record<Percentile, string> = { p50: 'p50', p90: 'p90', p99: 'p99', p999: 'p99.9', max: 'max' };

export interface ProcessUsage {
  pid: number;
  cpuSeconds: number;
  rssMiB: number;
}

export interface Cell {
  topology: string;
  rate: number;
  hops: number;
  latencyUs: LatencySummary;
  /** (topology − direct) / hops at each percentile, µs; null for direct itself or without a direct cell. */
  perHopOverheadUs: Record<Percentile, number> | null;
  intended: number;
  completed: number;
  errors: number;
  errorKinds: Record<string, number>;
  statuses: Record<string, number>;
  achievedRps: number;
  /** Worst p99 of how late the generator sent, µs (large = generator or connections saturated). */
  sendLagP99Us: number;
  measuredMs: number;
  /** Proxy processes' CPU and memory during the measured slices (none for direct). */
  usage: {
    processes: ProcessUsage[];
    /** CPU seconds spent per 1,000 requests, all of the topology's proxy processes together (= CPU-seconds per second at 1,000 rps). */
    cpuSecondsPer1kRequests: number;
    /** Same, per proxy process (the average sidecar). */
    cpuSecondsPer1kRequestsPerProcess: number;
    /** Busy fraction of one core, all processes together, in %. */
    cpuPercent: number;
    rssMiBTotal: number;
    rssMiBPerProcess: number;
    /** RSS per process divided by the rate in thousands. */
    rssMiBPerProcessPer1kRps: number;
  } | null;
}

export interface TopologyInfo {
  name: string;
  hops: number;
  kind: 'baseline' | 'sidecar' | 'reference';
  describe: string;
  skipped?: string;
}

export interface GoalCheck {
  goal: string;
  topology: string;
  rate: number;
  measured: string;
  /** 'pass' | 'fail' | 'n/a' (not measurable in this run, with the reason in `measured`). */
  verdict: 'pass' | 'fail' | 'n/a';
}

export interface BenchResults {
  meta: {
    startedAt: string;
    finishedAt: string;
    node: string;
    cpus: number;
    pinning: { enabled: boolean; reason?: string; generatorCpu: number; systemCpu: number };
    rates: number[];
    durationMs: number;
    warmupMs: number;
    sliceMs: number;
    concurrency: number;
    hop: string;
    method: string;
    /** os.loadavg() at the start and at the end of the run. */
    loadAverage: { start: number[]; end: number[] };
  };
  topologies: TopologyInfo[];
  cells: Cell[];
  throughput: ({ topology: string; durationMs: number; connections: number } & ThroughputResult)[];
  goals: GoalCheck[];
  /** Why the figures may not be trustworthy (a starved generator, a noisy baseline, a loaded machine). */
  warnings: string[];
  summary: string;
}
