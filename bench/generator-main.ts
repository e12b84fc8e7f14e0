import autocannon from 'autocannon';
import { reportReady } from '../lib/ipc';
import { ConnectionPool, runOpenLoop, type OpenLoopOptions, type OpenLoopResult } from './generator';

/**
 * The load generator as its own process (pinned to its own CPU by the runner), so the load it
 * makes and the latency it measures do not compete with the proxies for a core. The runner sends
 * one command per slice over IPC and gets one result back.
 */

export interface ThroughputOptions {
  host: string;
  port: number;
  hostHeader: string;
  connections: number;
  durationS: number;
}

export interface ThroughputResult {
  rps: number;
  requests: number;
  errors: number;
  non2xx: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
}

export type GeneratorCommand =
  | { type: 'open-loop'; id: number; opts: Omit<OpenLoopOptions, 'pool'> }
  | { type: 'throughput'; id: number; opts: ThroughputOptions }
  | { type: 'close-pools'; id: number };

export type GeneratorReply = { type: 'result'; id: number; result?: OpenLoopResult | ThroughputResult; error?: string };

const pools = new Map<string, ConnectionPool>();

function poolFor(opts: Omit<OpenLoopOptions, 'pool'>): ConnectionPool {
  const key = `${opts.host}:${opts.port}:${opts.concurrency ?? 16}`;
  let pool = pools.get(key);
  if (!pool) {
    pool = new ConnectionPool(opts.host, opts.port, opts.concurrency ?? 16, opts.timeoutMs ?? 5000);
    pools.set(key, pool);
  }
  return pool;
}

async function throughput(o: ThroughputOptions): Promise<ThroughputResult> {
  const r = await autocannon({ url: `http://${o.host}:${o.port}/`, connections: o.connections, duration: o.durationS, headers: { host: o.hostHeader } });
  return { rps: Math.round(r.requests.average), requests: r.requests.total, errors: r.errors + r.timeouts, non2xx: r.non2xx, latencyP50Ms: r.latency.p50, latencyP99Ms: r.latency.p99 };
}

async function handle(cmd: GeneratorCommand): Promise<GeneratorReply> {
  try {
    if (cmd.type === 'open-loop') return { type: 'result', id: cmd.id, result: await runOpenLoop({ ...cmd.opts, pool: poolFor(cmd.opts) }) };
    if (cmd.type === 'throughput') return { type: 'result', id: cmd.id, result: await throughput(cmd.opts) };
    for (const p of pools.values()) p.close();
    pools.clear();
    return { type: 'result', id: cmd.id };
  } catch (err) {
    return { type: 'result', id: cmd.id, error: (err as Error).message };
  }
}

process.on('message', (cmd: GeneratorCommand) => {
  void handle(cmd).then((reply) => process.send?.(reply));
});
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
reportReady('generator', {});
