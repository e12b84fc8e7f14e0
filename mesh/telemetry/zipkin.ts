import type { Span } from '../tracing';

/** Where spans come from: one proxy (or app), Zipkin's localEndpoint / OTLP's resource. */
export interface SpanSource {
  /** Zipkin localEndpoint.serviceName / OTLP service.name: the workload (`payments-v1`). */
  serviceName: string;
  ipv4?: string;
  port?: number;
}

/**
 * One span as Zipkin's v2 JSON model has it (POST /api/v2/spans): ids in lower-case hex, times in µs,
 * tags strings only. The shape Envoy's Zipkin tracer reports with collector_endpoint_version HTTP_JSON:
 * a SERVER half that shares its CLIENT's id says `shared: true`, so Zipkin merges the two halves.
 */
export interface ZipkinSpan {
  traceId: string;
  id: string;
  parentId?: string;
  name: string;
  kind?: string;
  timestamp: number;
  duration: number;
  localEndpoint: { serviceName: string; ipv4?: string; port?: number };
  remoteEndpoint?: { ipv4?: string; port?: number };
  shared?: true;
  tags: Record<string, string>;
}

/** `host:port` → Zipkin's endpoint fields (IPv4 only; anything else is left out, as Zipkin would reject it). */
export function endpointOf(address: string): { ipv4?: string; port?: number } | undefined {
  const colon = address.lastIndexOf(':');
  const host = colon > 0 ? address.slice(0, colon) : address;
  const port = colon > 0 ? Number(address.slice(colon + 1)) : undefined;
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(host)) return port ? { port } : undefined;
  return port ? { ipv4: host, port } : { ipv4: host };
}

export function toZipkin(span: Span, source: SpanSource): ZipkinSpan {
  const tags: Record<string, string> = {};
  for (const k in span.attributes) tags[k] = String(span.attributes[k]);
  const out: ZipkinSpan = { traceId: span.trace_id, id: span.span_id } as ZipkinSpan;
  if (span.parent_span_id) out.parentId = span.parent_span_id;
  out.name = span.name;
  if (span.kind) out.kind = span.kind;
  out.timestamp = Math.round(span.start * 1000);
  // Zipkin drops a 0 duration as "unknown"; a hop always took at least 1 µs.
  out.duration = Math.max(1, Math.round(span.duration_us));
  out.localEndpoint = { serviceName: source.serviceName, ipv4: source.ipv4, port: source.port };
  const peer = span.attributes['peer.address'];
  if (typeof peer === 'string' && peer) {
    const remote = endpointOf(peer);
    if (remote) out.remoteEndpoint = remote;
  }
  if (span.shared) out.shared = true;
  out.tags = tags;
  return out;
}

/** The body of one POST /api/v2/spans (JSON.stringify of plain objects is faster than building the string by hand). */
export function encodeZipkin(spans: readonly Span[], source: SpanSource): string {
  return JSON.stringify(spans.map((s) => toZipkin(s, source)));
}
