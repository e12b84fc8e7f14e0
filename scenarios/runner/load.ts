import { Pool } from 'undici';

/** One request the load driver made, as the timeline and the expectations see it. */
export interface Sample {
  /** Intended send time, ms since the scenario started. */
  t: number;
  /** Latency from the intended send time (so queueing counts: no coordinated omission), ms. */
  latencyMs: number;
  status: number;
  /** Which version/instance answered, when the response says so (payments bodies do). */
  version?: string;
  instance?: string;
  /** Envoy's overload header, when a breaker answered. */
  overloaded?: boolean;
  error?: string;
  body?: unknown;
}

export interface LoadSpec {
  method?: 'GET' | 'POST';
  path: string;
  body?: unknown | ((i: number) => unknown);
  headers?: Record<string, string> | ((i: number) => Record<string, string>);
  /** Requests per second, sent at evenly spaced intended times. */
  rps: number;
  durationMs?: number;
  /** Or a fixed number of requests (at `rps`). */
  count?: number;
  /** Connections to the gateway (the most requests in flight). */
  concurrency?: number;
  /** Keep parsed response bodies on the samples (for checks that need them). */
  keepBodies?: boolean;
  /** Send to the gateway's HTTPS listener instead, verifying its certificate with `ca` (the edge CA). */
  https?: { url: string; ca: string | Buffer; servername?: string };
}

/**
 * An open-loop load driver against the world's gateway: requests go out at their intended times
 * whatever the responses do, and latency counts from the intended time. It reports every sample as
 * it completes (for the live progress line and the timeline).
 */
export async function drive(baseUrl: string, spec: LoadSpec, clockStart: number, onSample: (s: Sample) => void, stopSignal?: { stopped: boolean }): Promise<Sample[]> {
  const tls = spec.https ? { connect: { ca: spec.https.ca, ...(spec.https.servername ? { servername: spec.https.servername } : {}) } } : {};
  const pool = new Pool(spec.https?.url ?? baseUrl, { connections: spec.concurrency ?? 32, pipelining: 1, headersTimeout: 30_000, bodyTimeout: 30_000, ...tls });
  const total = spec.count ?? Math.round(((spec.durationMs ?? 1000) / 1000) * spec.rps);
  const interval = 1000 / spec.rps;
  const begin = performance.now();
  const samples: Sample[] = [];
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    if (stopSignal?.stopped) break;
    const intended = begin + i * interval;
    const wait = intended - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    inFlight.push(one(pool, spec, i, intended, clockStart).then((s) => {
      samples.push(s);
      onSample(s);
    }));
  }
  await Promise.all(inFlight);
  await pool.close();
  return samples.sort((a, b) => a.t - b.t);
}

async function one(pool: Pool, spec: LoadSpec, i: number, intended: number, clockStart: number): Promise<Sample> {
  const body = typeof spec.body === 'function' ? (spec.body as (i: number) => unknown)(i) : spec.body;
  const extra = typeof spec.headers === 'function' ? spec.headers(i) : spec.headers;
  const headers: Record<string, string> = { ...extra };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const t = intended - clockStart;
  try {
    const res = await pool.request({ method: spec.method ?? (body !== undefined ? 'POST' : 'GET'), path: spec.path, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.body.text();
    const latencyMs = performance.now() - intended;
    let parsed: Record<string, unknown> | undefined;
    try {
      parsed = JSON.parse(text) as Record<string, unknown>;
    } catch {
      parsed = undefined;
    }
    const version = (parsed?.version ?? parsed?.payment_version ?? (parsed?.order as Record<string, unknown> | undefined)?.payment_version) as string | undefined;
    const instance = parsed?.instance as string | undefined;
    return { t, latencyMs, status: res.statusCode, version: version ?? undefined, instance, overloaded: res.headers['x-envoy-overloaded'] === 'true', body: spec.keepBodies ? (parsed ?? text) : undefined };
  } catch (err) {
    return { t, latencyMs: performance.now() - intended, status: 0, error: (err as Error).message };
  }
}

/** Share of samples matching `pred`, in percent. */
export function share(samples: readonly Sample[], pred: (s: Sample) => boolean): number {
  if (samples.length === 0) return 0;
  return (100 * samples.filter(pred).length) / samples.length;
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}
