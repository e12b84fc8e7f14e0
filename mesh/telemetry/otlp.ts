import type { Span, SpanKind } from '../tracing';
import type { SpanSource } from './zipkin';

/**
 * OTLP/HTTP with the JSON encoding (POST {endpoint}/v1/traces, content-type application/json), which
 * Jaeger v2 and every OpenTelemetry collector accept. Per the OTLP JSON mapping, trace and span ids are
 * hex strings (not base64), 64-bit integers are decimal strings, enums are their integer values.
 * A shared SERVER span keeps its CLIENT's id, as the Zipkin model has it; Jaeger's query de-duplicates
 * such pairs (its span-id deduper adjuster) — a knowing difference from OpenTelemetry's own tracers.
 */
const KIND: Record<SpanKind, number> = { SERVER: 2, CLIENT: 3, PRODUCER: 4, CONSUMER: 5 };

type AnyValue = { stringValue: string } | { intValue: string } | { boolValue: boolean };
const value = (v: string | number | boolean): AnyValue =>
  typeof v === 'number' && Number.isInteger(v) ? { intValue: String(v) } : typeof v === 'boolean' ? { boolValue: v } : { stringValue: String(v) };

const nanos = (ms: number, extraUs = 0): string => (BigInt(Math.round(ms * 1000 + extraUs)) * 1000n).toString();

export function encodeOtlp(spans: readonly Span[], source: SpanSource): string {
  const resource = {
    attributes: [
      { key: 'service.name', value: { stringValue: source.serviceName } },
      ...(source.ipv4 ? [{ key: 'host.ip', value: { stringValue: source.ipv4 } }] : []),
      { key: 'telemetry.sdk.name', value: { stringValue: 'meshlab' } },
    ],
  };
  return JSON.stringify({
    resourceSpans: [
      {
        resource,
        scopeSpans: [
          {
            scope: { name: 'meshlab' },
            spans: spans.map((s) => ({
              traceId: s.trace_id,
              spanId: s.span_id,
              ...(s.parent_span_id ? { parentSpanId: s.parent_span_id } : {}),
              name: s.name,
              kind: KIND[s.kind ?? 'SERVER'],
              startTimeUnixNano: nanos(s.start),
              endTimeUnixNano: nanos(s.start, Math.max(1, Math.round(s.duration_us))),
              attributes: Object.entries(s.attributes).map(([key, v]) => ({ key, value: value(v) })),
              ...(s.links?.length ? { links: s.links.map((l) => ({ traceId: l.trace_id, spanId: l.span_id })) } : {}),
              // STATUS_CODE_ERROR = 2 where the Zipkin tag says error.
              status: s.attributes.error === 'true' ? { code: 2 } : {},
            })),
          },
        ],
      },
    ],
  });
}
