/** Small helpers for tests that talk to a running world. */
import { operatorHeaders } from '../../lib/cp-auth';

export interface JsonResponse<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export async function json<T = any>(url: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<JsonResponse<T>> {
  // A world's control plane needs the operator token for changes; its launcher stored it by address (lib/cp-auth.ts).
  const headers: Record<string, string> = { ...operatorHeaders(new URL(url).origin), ...init.headers };
  let body: string | undefined;
  if (init.body !== undefined) {
    body = typeof init.body === 'string' ? init.body : JSON.stringify(init.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(url, { method: init.method ?? (body ? 'POST' : 'GET'), headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* plain text */
  }
  return { status: res.status, body: parsed as T, headers: res.headers };
}

/**
 * Waits for an asynchronous outcome that has no event to await across process boundaries (a
 * notification written by another process): re-checks every `everyMs` until `check` returns a
 * value or `timeoutMs` passes, then fails with the last observation.
 */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 5000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Parses Prometheus text and sums the samples of `metric` whose labels include `labels`. */
export function metricSum(text: string, metric: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${metric}{`) && !line.startsWith(`${metric} `)) continue;
    const open = line.indexOf('{');
    const close = line.lastIndexOf('}');
    const labelText = open >= 0 ? line.slice(open + 1, close) : '';
    const have: Record<string, string> = {};
    for (const m of labelText.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) have[m[1]] = m[2];
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(line.slice(close + 1).trim().split(' ')[0]);
  }
  return sum;
}

export const ORDER = { user_id: 'u-test', items: [{ sku: 'SKU-1', qty: 2, unit_price: 9.99 }] };
