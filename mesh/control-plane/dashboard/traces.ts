import type { Span } from '../../tracing';
import { scrapeTargets } from './scraper';
import type { Registry } from '../registry';

/** One request's path through the mesh: every hop's span, from every proxy, in start order. */
export interface Trace {
  trace_id: string;
  /** ms since the epoch of the earliest span. */
  start: number;
  /** From the earliest start to the latest end, µs. */
  duration_us: number;
  /** The root span's path (the request as the gateway saw it). */
  url: string;
  status: number;
  spans: (Span & { depth: number; node: string })[];
}

export interface TraceResult {
  traces: Trace[];
  /** Proxies that do not serve /traces (older sidecars) or did not answer. */
  missing: string[];
}

/**
 * Groups spans by trace id and orders each trace as a waterfall: parents before children (depth
 * from the parent links; a span whose parent was not collected counts as a root), then by start.
 */
export function groupTraces(spans: (Span & { node: string })[], opts: { limit: number; pathPrefix?: string }): Trace[] {
  const byTrace = new Map<string, (Span & { node: string })[]>();
  for (const s of spans) {
    if (!s?.trace_id) continue;
    (byTrace.get(s.trace_id) ?? byTrace.set(s.trace_id, []).get(s.trace_id)!).push(s);
  }
  const traces: Trace[] = [];
  for (const [id, list] of byTrace) {
    // Envoy's Zipkin tracer: a SERVER span shares its CLIENT span's id. The server half is the one its children
    // name as parent; the client half is the server half's parent.
    const byId = new Map<string, Span>();
    const clientOf = new Map<string, Span>();
    for (const s of list) {
      if (s.shared) byId.set(s.span_id, s);
      else {
        clientOf.set(s.span_id, s);
        if (!byId.has(s.span_id)) byId.set(s.span_id, s);
      }
    }
    const parentOf = (s: Span): Span | undefined => (s.shared ? (clientOf.get(s.span_id) ?? (s.parent_span_id ? byId.get(s.parent_span_id) : undefined)) : s.parent_span_id ? byId.get(s.parent_span_id) : undefined);
    const depthOf = (s: Span, seen = 0): number => {
      const p = parentOf(s);
      return p && p !== s && seen < 32 ? 1 + depthOf(p, seen + 1) : 0;
    };
    const withDepth = list.map((s) => ({ ...s, depth: depthOf(s) })).sort((a, b) => a.start - b.start || a.depth - b.depth);
    const root = withDepth.find((s) => s.depth === 0) ?? withDepth[0];
    // Istio's http.url is the whole URL (http://host/path); older sidecars reported the path alone.
    const url = String(root.attributes?.['http.url'] ?? '').replace(/^[a-z]+:\/\/[^/]*/, '');
    if (opts.pathPrefix && !url.startsWith(opts.pathPrefix)) continue;
    const start = withDepth[0].start;
    const end = Math.max(...withDepth.map((s) => s.start * 1000 + s.duration_us));
    traces.push({ trace_id: id, start, duration_us: Math.round(end - start * 1000), url, status: root.status, spans: withDepth });
  }
  return traces.sort((a, b) => b.start - a.start).slice(0, opts.limit);
}

/** Reads /traces from every proxy and returns the newest `limit` traces (optionally only those whose root path starts with `pathPrefix`). */
export async function collectTraces(registry: Registry, opts: { limit: number; pathPrefix?: string; perProxy?: number }): Promise<TraceResult> {
  const missing: string[] = [];
  const all: (Span & { node: string })[] = [];
  await Promise.all(
    scrapeTargets(registry).map(async ({ node, base }) => {
      try {
        const res = await fetch(`${base}/traces?limit=${opts.perProxy ?? 500}`, { signal: AbortSignal.timeout(1500) });
        if (!res.ok) throw new Error(String(res.status));
        const spans = (await res.json()) as Span[];
        if (!Array.isArray(spans)) throw new Error('not a list');
        for (const s of spans) all.push({ ...s, node: node.id });
      } catch {
        missing.push(node.id);
      }
    }),
  );
  return { traces: groupTraces(all, opts), missing: missing.sort() };
}
