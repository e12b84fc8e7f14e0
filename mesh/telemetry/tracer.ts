import type { StreamInfo } from '../stream-info';
import type { RequestHead } from '../headers';
import { hopIds, incomingContext, pushTraceHeaders, SpanRing, type Span } from '../tracing';
import { meshRandom, type Rng } from '../rng';
import { SpanExporter, type ExporterStats } from './span-exporter';
import { encodeZipkin, type SpanSource } from './zipkin';
import { encodeOtlp } from './otlp';
import { DEFAULT_SAMPLING, type TracingConfig } from './proxy-config';

export interface TracerOptions {
  /** This proxy: its service, version and instance (the span's workload, canonical service and node id). */
  workload: { service: string; version: string; instance: string; namespace?: string };
  /** The proxy's own address (Zipkin localEndpoint.ipv4). */
  host?: string;
  config?: TracingConfig;
  rng?: Rng;
  ringCapacity?: number;
  /** Exporter tuning (tests). */
  exporter?: { maxQueue?: number; maxBatch?: number; flushMs?: number };
}

/** Istio's default mesh id: the trust domain. */
export const MESH_ID = 'cluster.local';

/**
 * The proxy's tracer, Envoy's HTTP tracer with the Zipkin driver: at a request's start `begin` reads the
 * caller's context (B3 or W3C), decides sampling (the caller's decision if it made one, else Istio's random
 * percentage), gives the hop its ids (egress: a child; ingress: the caller's span, shared) and puts
 * traceparent and B3 on the upstream request; at its end `end` turns the StreamInfo into a span with
 * Istio's tags, keeps it in the admin ring (every span, for /traces) and offers sampled ones to the
 * exporters (Zipkin v2 JSON and/or OTLP/HTTP), which batch them off the request path.
 */
export class Tracer {
  readonly ring: SpanRing;
  readonly exporters: { kind: 'zipkin' | 'otlp'; url: string; exporter: SpanExporter }[] = [];
  readonly sampling: number;
  private readonly rng: Rng;
  private readonly workloadName: string;
  private readonly canonicalService: string;
  private readonly canonicalRevision: string;
  private readonly nodeId: string;
  private readonly namespace: string;

  constructor(readonly opts: TracerOptions) {
    const cfg = opts.config ?? { sampling: DEFAULT_SAMPLING };
    this.sampling = cfg.sampling;
    this.rng = opts.rng ?? meshRandom(3);
    this.ring = new SpanRing(opts.ringCapacity);
    const w = opts.workload;
    this.workloadName = `${w.service}-${w.version}`;
    this.canonicalService = w.service;
    this.canonicalRevision = w.version;
    this.namespace = w.namespace ?? 'default';
    // Istio's node id: sidecar~IP~POD.NAMESPACE~NAMESPACE.svc.cluster.local
    this.nodeId = `sidecar~${opts.host ?? '127.0.0.1'}~${w.instance}.${this.namespace}~${this.namespace}.svc.cluster.local`;
    const source: SpanSource = { serviceName: this.workloadName, ipv4: opts.host && /^\d+\.\d+\.\d+\.\d+$/.test(opts.host) ? opts.host : undefined };
    if (cfg.zipkin) {
      const url = `http://${cfg.zipkin}/api/v2/spans`;
      this.exporters.push({ kind: 'zipkin', url, exporter: new SpanExporter({ url, encode: encodeZipkin, source, ...opts.exporter }) });
    }
    if (cfg.otlp) this.exporters.push({ kind: 'otlp', url: cfg.otlp, exporter: new SpanExporter({ url: cfg.otlp, encode: encodeOtlp, source, ...opts.exporter }) });
  }

  /** Sets the hop's ids and sampling on `info` and appends its trace headers to the upstream list. */
  begin(info: StreamInfo, head: RequestHead, headers: string[], egress: boolean, remoteAddress: string | undefined): void {
    const ctx = incomingContext(head.b3, head.traceparent);
    const ids = hopIds(ctx, egress);
    info.traceId = ids.traceId;
    info.spanId = ids.spanId;
    info.parentSpanId = ids.parentSpanId;
    info.sharedSpan = ids.shared;
    info.sampled = ctx?.sampled ?? (this.sampling >= 100 || (this.sampling > 0 && this.rng() * 100 < this.sampling));
    if (!egress && remoteAddress) info.peerAddress = remoteAddress;
    pushTraceHeaders(headers, ids, info.sampled);
  }

  /** The request is over: its span goes to the ring, and to the exporters when sampled. */
  end(info: StreamInfo): void {
    const outbound = info.direction === 'outbound';
    const status = info.status;
    const span: Span = {
      trace_id: info.traceId,
      span_id: info.spanId,
      parent_span_id: info.parentSpanId,
      // The destination's namespace: outbound, the answering host's; inbound, ours.
      name: `${info.destinationService || 'unknown'}.${(outbound ? info.upstream?.namespace : undefined) ?? this.namespace}.svc.cluster.local:80/*`,
      service: this.canonicalService,
      // Sub-millisecond wall clock (Date.now() is whole ms): nested spans of one trace must nest in Zipkin too.
      start: performance.timeOrigin + performance.now() - info.durationUs / 1000,
      duration_us: Math.round(info.durationUs),
      status,
      kind: outbound ? 'CLIENT' : 'SERVER',
      shared: info.sharedSpan || undefined,
      sampled: info.sampled,
      attributes: {
        direction: info.direction,
        'http.method': info.method,
        'http.url': `http://${info.authority || info.destinationService}${info.path}`,
        'http.status_code': status,
        response_flags: info.responseFlags,
        upstream_cluster: info.cluster,
        upstream_instance: info.upstream?.instance ?? '-',
        'peer.address': outbound ? (info.upstream?.key ?? '') : info.peerAddress,
        'istio.canonical_service': this.canonicalService,
        'istio.canonical_revision': this.canonicalRevision,
        'istio.mesh_id': MESH_ID,
        'istio.namespace': this.namespace,
        node_id: this.nodeId,
        'guid:x-request-id': info.requestId,
        request_size: info.bytesReceived,
        response_size: info.bytesSent,
        component: 'proxy',
      },
    };
    // Envoy tags error=true when there was no response or it was a 5xx.
    if (status === 0 || status >= 500) span.attributes.error = 'true';
    this.ring.add(span);
    if (info.sampled) for (const e of this.exporters) e.exporter.offer(span);
  }

  /** Counters of every exporter, by kind. */
  stats(): { kind: string; url: string; stats: ExporterStats; queued: number; lastError?: string }[] {
    return this.exporters.map((e) => ({ kind: e.kind, url: e.url, stats: e.exporter.stats, queued: e.exporter.queued, lastError: e.exporter.lastError }));
  }

  async flush(): Promise<void> {
    await Promise.all(this.exporters.map((e) => e.exporter.flush()));
  }

  async close(): Promise<void> {
    await Promise.all(this.exporters.map((e) => e.exporter.close()));
  }
}
