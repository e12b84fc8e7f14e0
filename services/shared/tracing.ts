import { formatTraceparent, newSpanId, parseTraceparent, type Span } from '../../mesh/tracing';
import { SpanExporter } from '../../mesh/telemetry/span-exporter';
import { encodeZipkin } from '../../mesh/telemetry/zipkin';

/**
 * The app's own spans for what no proxy sees: publishing an event and processing it (the bus bypasses the
 * sidecars). As an OpenTelemetry SDK would: configured by OTEL_EXPORTER_ZIPKIN_ENDPOINT (the OTel variable for
 * a Zipkin exporter), PRODUCER and CONSUMER spans with OTel's messaging attributes, the consumer a child of the
 * producer and linked to it, context carried in the message's `traceparent` header. No endpoint: no spans.
 */
export class MessagingTracer {
  private readonly exporter?: SpanExporter;

  constructor(
    private readonly workload: { service: string; version: string; instance: string; bus: string },
    endpoint = process.env.OTEL_EXPORTER_ZIPKIN_ENDPOINT,
  ) {
    if (endpoint) this.exporter = new SpanExporter({ url: endpoint, encode: encodeZipkin, source: { serviceName: `${workload.service}-${workload.version}` } });
  }

  /**
   * Starts a span of `kind` under the W3C `parent` context (the request's, or the message's); returns the
   * traceparent to hand on (the message header) and `end` to call when done. Without a sampled parent, a no-op.
   */
  start(kind: 'PRODUCER' | 'CONSUMER', topic: string, messageId: string, parent: string | undefined): { traceparent?: string; end: (error?: string) => void } {
    const ctx = parseTraceparent(parent);
    const sampled = ctx !== undefined && (parseInt(ctx.flags, 16) & 1) === 1;
    if (!ctx || !this.exporter || !sampled) return { traceparent: parent, end: () => undefined };
    const spanId = newSpanId();
    const t0 = performance.timeOrigin + performance.now();
    return {
      traceparent: formatTraceparent(ctx.traceId, spanId, ctx.flags),
      end: (error?: string) => {
        const span: Span = {
          trace_id: ctx.traceId,
          span_id: spanId,
          parent_span_id: ctx.parentId,
          name: `${kind === 'PRODUCER' ? 'publish' : 'process'} ${topic}`,
          service: this.workload.service,
          start: t0,
          duration_us: Math.max(1, Math.round((performance.timeOrigin + performance.now() - t0) * 1000)),
          status: error ? 0 : 200,
          kind,
          attributes: {
            'messaging.system': this.workload.bus,
            'messaging.destination.name': topic,
            'messaging.operation': kind === 'PRODUCER' ? 'publish' : 'process',
            'messaging.message.id': messageId,
            ...(kind === 'CONSUMER' ? { 'messaging.consumer.group.name': this.workload.service } : {}),
            'istio.canonical_service': this.workload.service,
            node_id: `app~${this.workload.instance}`,
            ...(error ? { error: 'true', 'error.message': error } : {}),
          },
          // The consumer is the producer's child and also links to it (OTel's messaging conventions).
          links: kind === 'CONSUMER' ? [{ trace_id: ctx.traceId, span_id: ctx.parentId }] : undefined,
        };
        this.exporter!.offer(span);
      },
    };
  }

  async close(): Promise<void> {
    await this.exporter?.close();
  }
}
