import { Counter, Gauge, type Registry } from '../prom';
import type { Tracer } from './tracer';

/**
 * Envoy's tracing.zipkin.* statistics as Prometheus counters (envoy_tracing_zipkin_spans_sent, …), one series
 * per exporter (`exporter` = zipkin | otlp), read from the exporters at scrape time; plus the drops of a full
 * queue, which Envoy does not have (its buffer drops silently).
 */
export function registerTracingMetrics(registry: Registry, tracer: Tracer): void {
  const counter = (name: string, help: string, read: (s: ReturnType<Tracer['stats']>[number]) => number): void => {
    new Counter({
      name,
      help,
      labelNames: ['exporter'],
      registers: [registry],
      collect(this: Counter) {
        this.reset();
        for (const e of tracer.stats()) this.inc({ exporter: e.kind }, read(e));
      },
    });
  };
  counter('envoy_tracing_zipkin_spans_sent', 'Spans reported to the collector (answered 2xx).', (e) => e.stats.spansSent);
  counter('envoy_tracing_zipkin_reports_sent', 'Reports (batches) the collector accepted.', (e) => e.stats.reportsSent);
  counter('envoy_tracing_zipkin_reports_failed', 'Reports that failed (no answer, or not 2xx); their spans are lost.', (e) => e.stats.reportsFailed);
  counter('meshlab_tracing_spans_dropped_total', 'Sampled spans refused because the export queue was full (the request never waits).', (e) => e.stats.spansDropped);
  new Gauge({
    name: 'meshlab_tracing_export_queue',
    help: 'Spans waiting to be reported.',
    labelNames: ['exporter'],
    registers: [registry],
    collect(this: Gauge) {
      this.reset();
      for (const e of tracer.stats()) this.set({ exporter: e.kind }, e.queued);
    },
  });
}
