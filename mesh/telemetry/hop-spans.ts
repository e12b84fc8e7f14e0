import type { StreamInfo } from '../stream-info';
import type { Span } from '../tracing';
import { endpointOf, type SpanSource, type ZipkinSpan } from './zipkin';

/**
 * A proxy hop's span without a span object on the request path: the StreamInfo the connection manager already
 * filled *is* the span's record. The ring (`/traces`) and the exporters' queues hold references to it; the span's
 * constant tags (workload, mesh id, node id, custom literal tags) are encoded once per tracer, and a span becomes a
 * `Span` object (admin `/traces`, OTLP) or Zipkin JSON (one string per batch, on the exporter's timer) only when read.
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
const spanName = (info: StreamInfo, c: HopConstants): string =>
  `${info.destinationService || 'unknown'}.${(info.direction === 'outbound' ? info.upstream?.namespace : undefined) ?? c.namespace}.svc.cluster.local:80/*`;
const startMs = (info: StreamInfo, c: HopConstants): number => Number(info.startNs) / 1e6 + c.clockOffsetMs;
const peerOf = (info: StreamInfo): string => (info.direction === 'outbound' ? (info.upstream?.key ?? '') : info.peerAddress);
/** Envoy tags error=true when there was no response or it was a 5xx. */
const isError = (info: StreamInfo): boolean => info.status === 0 || info.status >= 500;

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
 * One POST /api/v2/spans body for a batch of hops: what `encodeZipkin(hops.map(hopSpan))` gives (the tracing unit
 * test checks they parse equal), built on the exporter's timer as one short-lived plain object per hop and one
 * JSON.stringify of the batch (V8's fast path; faster here than concatenating the text by hand).
 */
export function encodeZipkinHops(infos: readonly StreamInfo[], source: SpanSource, c: HopConstants): string {
  const localEndpoint = { serviceName: source.serviceName, ipv4: source.ipv4, port: source.port };
  const out = new Array<ZipkinSpan>(infos.length);
  // A proxy talks to few peers: their endpoint is worked out once per batch. (The span name is not cached: it depends on
  // the direction and the answering host's namespace as well as the service.)
  const remotes = new Map<string, ZipkinSpan['remoteEndpoint']>();
  for (let n = 0; n < infos.length; n++) {
    const info = infos[n];
    const peer = peerOf(info);
    let remote = remotes.get(peer);
    if (remote === undefined && !remotes.has(peer)) {
      remote = peer ? endpointOf(peer) : undefined;
      remotes.set(peer, remote);
    }
    const name = spanName(info, c);
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
    if (c.literalTags.length > 0) for (let i = 0; i < c.literalTags.length; i++) tags[c.literalTags[i][0]] = c.literalTags[i][1];
    const custom = info.customTags;
    if (custom) for (let i = 0; i < custom.length; i += 2) tags[custom[i]] = custom[i + 1];
    if (isError(info)) tags.error = 'true';
    const span: ZipkinSpan = {
      traceId: info.traceId,
      id: info.spanId,
      parentId: info.parentSpanId ?? undefined,
      name,
      kind: info.direction === 'outbound' ? 'CLIENT' : 'SERVER',
      timestamp: Math.round(startMs(info, c) * 1000),
      duration: Math.max(1, Math.round(info.durationUs)),
      localEndpoint,
      remoteEndpoint: remote,
      shared: info.sharedSpan ? true : undefined,
      tags,
    };
    out[n] = span;
  }
  return JSON.stringify(out);
}
