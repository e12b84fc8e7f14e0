import type { Registry } from './prom';

/**
 * Istio's four per-request metric families (requests_total, request_duration, request_bytes,
 * response_bytes), accumulated in plain numbers per label combination and handed to prom-client
 * only at scrape time. prom-client's labelled `inc`/`observe` validate and hash every label on
 * each call (13 labels × 4 metrics ≈ 12 µs a request); here a request costs one map lookup and a
 * few additions. The exposition is the one prom-client's Counter/Histogram would produce: same
 * names, HELP/TYPE, label order, `le` first on buckets, cumulative buckets, +Inf, _sum, _count.
 */

/** Running totals of one histogram for one label combination; `buckets[i]` counts values in (bound[i-1], bound[i]]. */
interface HistogramTotals {
  sum: number;
  count: number;
  buckets: Float64Array;
}

/** One label combination of the four families. */
export class RequestSeries {
  requests = 0;
  readonly duration: HistogramTotals;
  readonly requestBytes: HistogramTotals;
  readonly responseBytes: HistogramTotals;

  constructor(
    /** Label name → value, in the families' label order (also the exposition order). */
    readonly labels: Record<string, string>,
    durationBounds: number,
    byteBounds: number,
  ) {
    this.duration = { sum: 0, count: 0, buckets: new Float64Array(durationBounds) };
    this.requestBytes = { sum: 0, count: 0, buckets: new Float64Array(byteBounds) };
    this.responseBytes = { sum: 0, count: 0, buckets: new Float64Array(byteBounds) };
  }
}

/** Adds one observation as prom-client does: a non-finite value is refused, above the last bound only _count/_sum move. */
export function observe(h: HistogramTotals, bounds: readonly number[], value: number): void {
  if (!Number.isFinite(value)) return;
  h.sum += value;
  h.count += 1;
  for (let i = 0; i < bounds.length; i++) {
    if (value <= bounds[i]) {
      h.buckets[i] += 1;
      return;
    }
  }
}

/** A prom-client exposition value (the shape Registry formats). */
interface ExportValue {
  labels: Record<string, string | number>;
  sharedLabels?: Record<string, string>;
  value: number;
  metricName?: string;
  /** Always null on buckets (no exemplars), as prom-client reports it. */
  exemplar?: null;
}

interface MetricData {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  values: ExportValue[];
  aggregator: 'sum';
}

/**
 * A metric object a prom-client Registry accepts (`registerMetric`): it calls `getForPromString()`
 * (or `get()`) for the text exposition and `get()` for JSON, `reset()` on resetMetrics.
 */
abstract class SeriesFamily {
  readonly aggregator = 'sum' as const;
  abstract readonly type: 'counter' | 'histogram';
  constructor(
    readonly name: string,
    readonly help: string,
    protected readonly source: RequestMetrics,
  ) {}
  protected abstract values(): ExportValue[];
  async getForPromString(): Promise<MetricData> {
    return { name: this.name, help: this.help, type: this.type, values: this.values(), aggregator: this.aggregator };
  }
  /** As prom-client's get(): shared labels folded into each value's labels. */
  async get(): Promise<MetricData> {
    const data = await this.getForPromString();
    data.values = data.values.map(({ sharedLabels, labels, ...rest }) => ({ ...rest, labels: { ...labels, ...sharedLabels } }));
    return data;
  }
  reset(): void {
    this.source.reset();
  }
}

class CounterFamily extends SeriesFamily {
  readonly type = 'counter' as const;
  protected values(): ExportValue[] {
    const out: ExportValue[] = [];
    for (const s of this.source.series()) out.push({ value: s.requests, labels: s.labels });
    return out;
  }
}

class HistogramFamily extends SeriesFamily {
  readonly type = 'histogram' as const;
  constructor(
    name: string,
    help: string,
    source: RequestMetrics,
    private readonly bounds: readonly number[],
    private readonly pick: (s: RequestSeries) => HistogramTotals,
  ) {
    super(name, help, source);
  }
  protected values(): ExportValue[] {
    const out: ExportValue[] = [];
    const bucket = `${this.name}_bucket`;
    for (const s of this.source.series()) {
      const h = this.pick(s);
      let acc = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        acc += h.buckets[i];
        out.push({ labels: { le: this.bounds[i] }, sharedLabels: s.labels, value: acc, metricName: bucket, exemplar: null });
      }
      out.push({ labels: { le: '+Inf' }, sharedLabels: s.labels, value: h.count, metricName: bucket, exemplar: null });
      out.push({ labels: {}, sharedLabels: s.labels, value: h.sum, metricName: `${this.name}_sum` });
      out.push({ labels: {}, sharedLabels: s.labels, value: h.count, metricName: `${this.name}_count` });
    }
    return out;
  }
}

/** Help texts of the four families (as the sidecar has always exposed them). */
const HELP = {
  requests: 'Requests handled by this proxy (Istio standard metric).',
  duration: 'Request duration in milliseconds (Envoy default buckets).',
  requestBytes: 'Request body sizes.',
  responseBytes: 'Response body sizes.',
};

/** The four request families over one set of series. */
export class RequestMetrics {
  private readonly byKey = new Map<string, RequestSeries>();

  constructor(
    readonly labelNames: readonly string[],
    readonly durationBounds: readonly number[],
    readonly byteBounds: readonly number[],
  ) {}

  /** Registers the families, in Istio's order, with `registry`. */
  register(registry: Registry): void {
    const families = [
      new CounterFamily('istio_requests_total', HELP.requests, this),
      new HistogramFamily('istio_request_duration_milliseconds', HELP.duration, this, this.durationBounds, (s) => s.duration),
      new HistogramFamily('istio_request_bytes', HELP.requestBytes, this, this.byteBounds, (s) => s.requestBytes),
      new HistogramFamily('istio_response_bytes', HELP.responseBytes, this, this.byteBounds, (s) => s.responseBytes),
    ];
    // registerMetric is typed for prom-client's own classes; it only needs name/get/reset.
    for (const f of families) registry.registerMetric(f as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  /** The series for `key` (what its label values are derived from), if it has been recorded. */
  get(key: string): RequestSeries | undefined {
    return this.byKey.get(key);
  }

  /** Creates the series for `key`, with label `values` in `labelNames` order. */
  create(key: string, values: readonly string[]): RequestSeries {
    const labels: Record<string, string> = {};
    for (let i = 0; i < this.labelNames.length; i++) labels[this.labelNames[i]] = values[i];
    const s = new RequestSeries(labels, this.durationBounds.length, this.byteBounds.length);
    this.byKey.set(key, s);
    return s;
  }

  /** One request: +1 on the counter, one observation on each histogram. */
  record(s: RequestSeries, durationMs: number, requestBytes: number, responseBytes: number): void {
    s.requests += 1;
    observe(s.duration, this.durationBounds, durationMs);
    observe(s.requestBytes, this.byteBounds, requestBytes);
    observe(s.responseBytes, this.byteBounds, responseBytes);
  }

  series(): IterableIterator<RequestSeries> {
    return this.byKey.values();
  }

  reset(): void {
    this.byKey.clear();
  }
}
