import { Http1Connection, type ExchangeResult } from './http1-connection';
import { encodeHistogram, newHistogram, recordUs, summarize, type LatencySummary } from './histogram';

/**
 * The open-loop, constant-rate load generator. Request i is *intended* at start + i/rate, on an
 * absolute schedule (no setTimeout drift accumulates), and its latency is measured from that
 * intended time to the end of its response, with `process.hrtime.bigint`. A request that cannot go
 * out because every connection is busy waits in a queue and that wait counts — the correction for
 * coordinated omission that a closed-loop tool like autocannon lacks.
 */

export interface OpenLoopOptions {
  host: string;
  port: number;
  /** Request path; default `/`. */
  path?: string;
  /** Host header (how a sidecar's outbound listener picks the destination service); default `host:port`. */
  hostHeader?: string;
  /** Extra request headers. */
  headers?: Record<string, string>;
  /** Requests per second. */
  rate: number;
  durationMs: number;
  /** Most keep-alive connections open at once (and so most requests in flight); default 16. */
  concurrency?: number;
  /** A request with no complete response after this long counts as an error; default 5000 ms. */
  timeoutMs?: number;
  /** Reuse connections across runs against the same target (the runner's interleaved slices). */
  pool?: ConnectionPool;
}

export interface OpenLoopResult {
  /** Latency from intended send time to the last response byte, µs. */
  latency: LatencySummary;
  /** How late requests actually went out vs. their intended time, µs: the generator's own health (and queueing on busy connections). */
  sendLag: LatencySummary;
  intended: number;
  completed: number;
  /** Failed exchanges (connection errors, timeouts) plus responses with a status ≥ 400. */
  errors: number;
  errorKinds: Record<string, number>;
  statuses: Record<string, number>;
  elapsedMs: number;
  achievedRps: number;
  /** The latency histogram, compressed base64, for merging slices (see histogram.ts mergeEncoded). */
  histogram: string;
}

/** A bounded set of keep-alive connections to one target, handed out one request at a time. */
export class ConnectionPool {
  private readonly idle: Http1Connection[] = [];
  private readonly all: Http1Connection[] = [];

  constructor(host: string, port: number, size: number, timeoutMs: number) {
    for (let i = 0; i < size; i++) {
      const c = new Http1Connection(host, port, timeoutMs);
      this.all.push(c);
      this.idle.push(c);
    }
  }

  get size(): number {
    return this.all.length;
  }

  /** Most recently released first, so a low rate keeps reusing one warm connection. */
  acquire(): Http1Connection | undefined {
    return this.idle.pop();
  }

  release(c: Http1Connection): void {
    this.idle.push(c);
  }

  close(): void {
    for (const c of this.all) c.close();
  }
}

const NS_PER_MS = 1_000_000;

export function buildRequest(opts: Pick<OpenLoopOptions, 'host' | 'port' | 'path' | 'hostHeader' | 'headers'>): Buffer {
  const lines = [`GET ${opts.path ?? '/'} HTTP/1.1`, `Host: ${opts.hostHeader ?? `${opts.host}:${opts.port}`}`, 'User-Agent: meshlab-bench'];
  for (const [k, v] of Object.entries(opts.headers ?? {})) lines.push(`${k}: ${v}`);
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
}

export function runOpenLoop(opts: OpenLoopOptions): Promise<OpenLoopResult> {
  if (!(opts.rate > 0)) throw new Error(`runOpenLoop: rate must be a positive number of requests per second, got ${opts.rate}`);
  if (!(opts.durationMs > 0)) throw new Error(`runOpenLoop: durationMs must be positive, got ${opts.durationMs}`);
  const timeoutMs = opts.timeoutMs ?? 5000;
  const ownPool = !opts.pool;
  const pool = opts.pool ?? new ConnectionPool(opts.host, opts.port, opts.concurrency ?? 16, timeoutMs);
  const request = buildRequest(opts);
  const latency = newHistogram();
  const lag = newHistogram();
  const total = Math.max(1, Math.floor((opts.rate * opts.durationMs) / 1000));
  const intervalNs = 1e9 / opts.rate;
  const errorKinds: Record<string, number> = {};
  const statuses: Record<string, number> = {};
  let errors = 0;
  let completed = 0;
  let next = 0;
  /** Intended send times (ns since start) of requests waiting for a free connection. */
  const queue: number[] = [];
  let queueHead = 0;
  // Start 2 ms from now so the first request is not already late.
  const start = process.hrtime.bigint() + BigInt(2 * NS_PER_MS);
  const nowNs = (): number => Number(process.hrtime.bigint() - start);

  return new Promise((resolve) => {
    const finishIfDone = (): void => {
      if (completed < total) return;
      const elapsedMs = nowNs() / NS_PER_MS;
      if (ownPool) pool.close();
      const result: OpenLoopResult = {
        latency: summarize(latency),
        sendLag: summarize(lag),
        intended: total,
        completed,
        errors,
        errorKinds,
        statuses,
        elapsedMs: Math.round(elapsedMs),
        achievedRps: Math.round((completed / Math.max(elapsedMs, 1)) * 1000),
        histogram: encodeHistogram(latency),
      };
      latency.destroy();
      lag.destroy();
      resolve(result);
    };

    const dispatch = (): void => {
      while (queueHead < queue.length) {
        const conn = pool.acquire();
        if (!conn) return;
        const intended = queue[queueHead++];
        recordUs(lag, (nowNs() - intended) / 1000);
        conn.send(request, (r: ExchangeResult) => {
          recordUs(latency, (nowNs() - intended) / 1000);
          completed++;
          if (r.error) {
            errors++;
            errorKinds[r.error] = (errorKinds[r.error] ?? 0) + 1;
          } else {
            statuses[r.status] = (statuses[r.status] ?? 0) + 1;
            if (r.status >= 400) errors++;
          }
          pool.release(conn);
          dispatch();
          finishIfDone();
        });
      }
      if (queueHead > 4096 && queueHead === queue.length) {
        queue.length = 0;
        queueHead = 0;
      }
    };

    // Wakes at each request's absolute intended time: a coarse timer while the next send is
    // far off, then setImmediate (I/O still runs in between) for the last stretch, for µs precision.
    const tick = (): void => {
      const now = nowNs();
      while (next < total && next * intervalNs <= now) queue.push(next++ * intervalNs);
      dispatch();
      if (next >= total) return;
      const waitMs = (next * intervalNs - nowNs()) / NS_PER_MS;
      if (waitMs > 1.5) setTimeout(tick, Math.floor(waitMs - 1));
      else setImmediate(tick);
    };
    setImmediate(tick);
  });
}
