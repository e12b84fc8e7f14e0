import type { StreamInfo } from '../stream-info';
import type { RequestHead } from '../headers';
import { hopIds, incomingContext, pushTraceHeaders } from '../tracing';
import { meshRandom, type Rng } from '../rng';
import { SpanExporter, type ExporterStats } from './span-exporter';
import type { SpanSource } from './zipkin';
import { HopRing, hopSpan, monotonicToWallOffsetMs, type HopConstants } from './hop-spans';
import { ZipkinHopEncoder } from './zipkin-hop-encoder';
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

/**
 * What the Telemetry API (`tracing`) sets for this proxy's workload; unset fields keep the proxy's own
 * ProxyConfig (sampling) and Istio's defaults (reporting on, no custom tags).
 */
export interface TracingPolicy {
  /** randomSamplingPercentage, 0–100. */
  sampling?: number;
  /** disableSpanReporting: spans are still made (ids, headers, /traces) but never exported. */
  disableSpanReporting?: boolean;
  /** customTags of kind literal: tag → value. */
  literalTags?: Readonly<Record<string, string>>;
  /** customTags of kind header: tag → request header (lower case) and the value when the request has none. */
  headerTags?: Readonly<Record<string, { name: string; defaultValue?: string }>>;
}

/** Istio's default mesh id: the trust domain. */
export const MESH_ID = 'cluster.local';

/**
 * The proxy's tracer, Envoy's HTTP tracer with the Zipkin driver: at a request's start `begin` reads the
 * caller's context (B3 or W3C), decides sampling (the caller's decision if it made one, else Istio's random
 * percentage), gives the hop its ids (egress: a child; ingress: the caller's span, shared) and puts
 * traceparent and B3 on the upstream request; at its end `end` keeps the hop's StreamInfo in the admin ring
 * (every hop, for /traces) and offers sampled ones to the exporters (Zipkin v2 JSON and/or OTLP/HTTP), which
 * turn them into spans with Istio's tags in batches, off the request path (hop-spans.ts, zipkin-hop-encoder.ts). The Telemetry API's
 * tracing for this workload arrives with each config snapshot (`setPolicy`).
 */
export class Tracer {
  readonly ring: HopRing;
  readonly exporters: { kind: 'zipkin' | 'otlp'; url: string; exporter: SpanExporter<StreamInfo> }[] = [];
  /** The proxy's own sampling percentage (ProxyConfig), used where no Telemetry resource sets one. */
  readonly proxySampling: number;
  private samplingNow: number;
  private reporting = true;
  /** Header custom tags as tag, header, default, tag, header, default… (empty: none, nothing read per request). */
  private headerTags: string[] = [];
  private readonly rng: Rng;
  private constants: HopConstants;

  constructor(readonly opts: TracerOptions) {
    const cfg = opts.config ?? { sampling: DEFAULT_SAMPLING };
    this.proxySampling = this.samplingNow = cfg.sampling;
    this.rng = opts.rng ?? meshRandom(3);
    const w = opts.workload;
    const namespace = w.namespace ?? 'default';
    this.constants = {
      canonicalService: w.service,
      canonicalRevision: w.version,
      namespace,
      meshId: MESH_ID,
      // Istio's node id: sidecar~IP~POD.NAMESPACE~NAMESPACE.svc.cluster.local
      nodeId: `sidecar~${opts.host ?? '127.0.0.1'}~${w.instance}.${namespace}~${namespace}.svc.cluster.local`,
      literalTags: [],
      clockOffsetMs: monotonicToWallOffsetMs(),
    };
    this.ring = new HopRing(() => this.constants, opts.ringCapacity);
    const source: SpanSource = { serviceName: `${w.service}-${w.version}`, ipv4: opts.host && /^\d+\.\d+\.\d+\.\d+$/.test(opts.host) ? opts.host : undefined };
    if (cfg.zipkin) {
      const url = `http://${cfg.zipkin}/api/v2/spans`;
      const encoder = new ZipkinHopEncoder(source);
      const encode = (infos: readonly StreamInfo[]): Buffer => encoder.encode(infos, this.constants);
      this.exporters.push({ kind: 'zipkin', url, exporter: new SpanExporter<StreamInfo>({ url, encode, source, ...opts.exporter }) });
    }
    if (cfg.otlp) {
      const encode = (infos: readonly StreamInfo[], src: SpanSource): string => encodeOtlp(infos.map((i) => hopSpan(i, this.constants)), src);
      this.exporters.push({ kind: 'otlp', url: cfg.otlp, exporter: new SpanExporter<StreamInfo>({ url: cfg.otlp, encode, source, ...opts.exporter }) });
    }
  }

  /** The sampling percentage new traces get now (the Telemetry API's, else the proxy's). */
  get sampling(): number {
    return this.samplingNow;
  }

  /** The Telemetry API's tracing for this workload (undefined: none applies, the proxy's own config rules). */
  setPolicy(policy: TracingPolicy | undefined): void {
    this.samplingNow = policy?.sampling ?? this.proxySampling;
    this.reporting = !policy?.disableSpanReporting;
    this.constants = { ...this.constants, literalTags: Object.entries(policy?.literalTags ?? {}) };
    this.headerTags = Object.entries(policy?.headerTags ?? {}).flatMap(([tag, h]) => [tag, h.name.toLowerCase(), h.defaultValue ?? '']);
  }

  /** Sets the hop's ids and sampling on `info` and appends its trace headers to the upstream list. */
  begin(info: StreamInfo, head: RequestHead, headers: string[], egress: boolean, remoteAddress: string | undefined): void {
    const ctx = incomingContext(head.b3, head.traceparent);
    const ids = hopIds(ctx, egress);
    info.traceId = ids.traceId;
    info.spanId = ids.spanId;
    info.parentSpanId = ids.parentSpanId;
    info.sharedSpan = ids.shared;
    const sampling = this.samplingNow;
    info.sampled = ctx?.sampled ?? (sampling >= 100 || (sampling > 0 && this.rng() * 100 < sampling));
    if (!egress && remoteAddress) info.peerAddress = remoteAddress;
    if (this.headerTags.length > 0) info.customTags = this.readHeaderTags(headers);
    pushTraceHeaders(headers, ids, info.sampled);
  }

  /** The request is over: the hop goes to the ring, and to the exporters when sampled and reported. No span object is made here. */
  end(info: StreamInfo): void {
    this.ring.add(info);
    if (info.sampled && this.reporting) for (let i = 0; i < this.exporters.length; i++) this.exporters[i].exporter.offer(info);
  }

  /** Header custom tags from the upstream header list (the request's headers as forwarded). Envoy: the first value, else the default; an empty value sets no tag. */
  private readHeaderTags(headers: readonly string[]): string[] {
    const out: string[] = [];
    for (let t = 0; t < this.headerTags.length; t += 3) {
      const name = this.headerTags[t + 1];
      let value: string | undefined;
      for (let i = 0; i < headers.length; i += 2) {
        if (headers[i].length === name.length && headers[i].toLowerCase() === name) {
          value = headers[i + 1];
          break;
        }
      }
      value ??= this.headerTags[t + 2];
      if (value !== '') out.push(this.headerTags[t], value);
    }
    return out;
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
