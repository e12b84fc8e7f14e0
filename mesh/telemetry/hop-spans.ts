import type { StreamInfo } from '../stream-info';
import type { Span } from '../tracing';
import { endpointOf, type SpanSource, type ZipkinSpan } from './zipkin';

/**
 * A proxy hop's span without a span object on the request path: the StreamInfo the connection manager already
 * filled *is* the span's record. The ring (`/traces`) and the exporters' queues hold references to it; the span's
 * constant tags (workload, mesh id, node id, custom literal tags) are encoded once per tracer, and a span becomes a
 * `Span` object (admin `/traces`, OTLP) or Zipkin JSON bytes (`ZipkinHopEncoder`, one buffer per batch, on the
 * exporter's timer) only when read.
 * What a request pays for tracing is its ids, its headers, an array slot and a queue push.
 */

/** What every span of one proxy shares. */
export interface HopConstants {
  canonicalService: string;
  canonicalRevision: string;
  namespace: string;
  meshId: string;
  nodeId: string;
  /** Telemetry `customTags` of kind literal (tag → value), in the span after Istio's tags. */
  literalTags: readonly (readonly [string, string])[];
  /** Wall-clock ms = Number(hrtime ns) / 1e6 + this (computed once per tracer: the monotonic clock's epoch). */
  clockOffsetMs: number;
}

/** The offset that turns a `process.hrtime.bigint()` reading into wall-clock ms with sub-ms precision. */
export function monotonicToWallOffsetMs(): number {
  return performance.timeOrigin + performance.now() - Number(process.hrtime.bigint()) / 1e6;
}

/** The destination's namespace: outbound, the answering host's; inbound, ours. */
export const spanName = (info: StreamInfo, c: HopConstants): string =>
  `${info.destinationService || 'unknown'}.${(info.direction === 'outbound' ? info.upstream?.namespace : undefined) ?? c.namespace}.svc.cluster.local:80/*`;
export const startMs = (info: StreamInfo, c: HopConstants): number => Number(info.startNs) / 1e6 + c.clockOffsetMs;
export const peerOf = (info: StreamInfo): string => (info.direction === 'outbound' ? (info.upstream?.key ?? '') : info.peerAddress);
/** Envoy tags error=true when there was no response or it was a 5xx. */
export const isError = (info: StreamInfo): boolean => info.status === 0 || info.status >= 500;

/** The span as `/traces` shows it (and OTLP encodes it): Istio's tags in Envoy's order. */
export function hopSpan(info: StreamInfo, c: HopConstants): Span {
  const outbound = info.direction === 'outbound';
  const attributes: Record<string, string | number> = {
    direction: info.direction,
    'http.method': info.method,
    'http.url': `http://${info.authority || info.destinationService}${info.path}`,
    'http.status_code': info.status,
    response_flags: info.responseFlags,
    upstream_cluster: info.cluster,
    upstream_instance: info.upstream?.instance ?? '-',
    'peer.address': peerOf(info),
    'istio.canonical_service': c.canonicalService,
    'istio.canonical_revision': c.canonicalRevision,
    'istio.mesh_id': c.meshId,
    'istio.namespace': c.namespace,
    node_id: c.nodeId,
    'guid:x-request-id': info.requestId,
    request_size: info.bytesReceived,
    response_size: info.bytesSent,
    component: 'proxy',
  };
  for (const [k, v] of c.literalTags) attributes[k] = v;
  const tags = info.customTags;
  if (tags) for (let i = 0; i < tags.length; i += 2) attributes[tags[i]] = tags[i + 1];
  if (isError(info)) attributes.error = 'true';
  return {
    trace_id: info.traceId,
    span_id: info.spanId,
    parent_span_id: info.parentSpanId,
    name: spanName(info, c),
    service: c.canonicalService,
    start: startMs(info, c),
    duration_us: Math.round(info.durationUs),
    status: info.status,
    kind: outbound ? 'CLIENT' : 'SERVER',
    shared: info.sharedSpan || undefined,
    sampled: info.sampled,
    attributes,
  };
}

/** The newest hops of this proxy, by reference, served at the admin port's `/traces` as spans. */
export class HopRing {
  private readonly infos: StreamInfo[] = [];
  private next = 0;
  constructor(
    private readonly constants: () => HopConstants,
    private readonly capacity = 2000,
  ) {}

  add(info: StreamInfo): void {
    if (this.infos.length < this.capacity) this.infos.push(info);
    else this.infos[this.next] = info;
    this.next = (this.next + 1) % this.capacity;
  }

  /** Newest last; optionally only one trace. */
  list(limit = this.capacity, traceId?: string): Span[] {
    const ordered = this.infos.length < this.capacity ? this.infos : [...this.infos.slice(this.next), ...this.infos.slice(0, this.next)];
    const src = traceId ? ordered.filter((s) => s.traceId === traceId) : ordered;
    const c = this.constants();
    return src.slice(-limit).map((info) => hopSpan(info, c));
  }
}

/**
 * One hop as Zipkin's v2 model has it: the shape Envoy's Zipkin tracer reports, with Istio's tags in Envoy's order.
 * The reference for the bytes `ZipkinHopEncoder` writes (`encodeZipkinHops` = JSON.stringify of these), and its
 * fallback for a span whose custom tag keys would make JSON.stringify reorder or overwrite tags.
 */
export function zipkinHop(info: StreamInfo, c: HopConstants, localEndpoint: ZipkinSpan['localEndpoint']): ZipkinSpan {
  const peer = peerOf(info);
  const tags: Record<string, string> = {
    direction: info.direction,
    'http.method': info.method,
    'http.url': `http://${info.authority || info.destinationService}${info.path}`,
    'http.status_code': String(info.status),
    response_flags: info.responseFlags,
    upstream_cluster: info.cluster,
    upstream_instance: info.upstream?.instance ?? '-',
    'peer.address': peer,
    'istio.canonical_service': c.canonicalService,
    'istio.canonical_revision': c.canonicalRevision,
    'istio.mesh_id': c.meshId,
    'istio.namespace': c.namespace,
    node_id: c.nodeId,
    'guid:x-request-id': info.requestId,
    request_size: String(info.bytesReceived),
    response_size: String(info.bytesSent),
    component: 'proxy',
  };
  for (let i = 0; i < c.literalTags.length; i++) tags[c.literalTags[i][0]] = c.literalTags[i][1];
  const custom = info.customTags;
  if (custom) for (let i = 0; i < custom.length; i += 2) tags[custom[i]] = custom[i + 1];
  if (isError(info)) tags.error = 'true';
  return {
    traceId: info.traceId,
    id: info.spanId,
    parentId: info.parentSpanId ?? undefined,
    name: spanName(info, c),
    kind: info.direction === 'outbound' ? 'CLIENT' : 'SERVER',
    timestamp: Math.round(startMs(info, c) * 1000),
    duration: Math.max(1, Math.round(info.durationUs)),
    localEndpoint,
    remoteEndpoint: peer ? endpointOf(peer) : undefined,
    shared: info.sharedSpan ? true : undefined,
    tags,
  };
}

/** Zipkin's localEndpoint for this source. */
export const localEndpointOf = (source: SpanSource): ZipkinSpan['localEndpoint'] => ({ serviceName: source.serviceName, ipv4: source.ipv4, port: source.port });

/**
 * One POST /api/v2/spans body as JSON.stringify writes it: the reference `ZipkinHopEncoder` is held to byte for byte
 * (and the body the exporter sent before it). Not used on the export path.
 */
export function encodeZipkinHops(infos: readonly StreamInfo[], source: SpanSource, c: HopConstants): string {
  const localEndpoint = localEndpointOf(source);
  return JSON.stringify(infos.map((info) => zipkinHop(info, c, localEndpoint)));
}
