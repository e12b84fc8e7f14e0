import http from 'node:http';
import net from 'node:net';
import { hopIds, incomingContext, parseB3, pushTraceHeaders, type Span } from '../../mesh/tracing';
import { SpanExporter } from '../../mesh/telemetry/span-exporter';
import { encodeZipkin, toZipkin } from '../../mesh/telemetry/zipkin';
import { encodeOtlp } from '../../mesh/telemetry/otlp';
import { parseTracingConfig } from '../../mesh/telemetry/proxy-config';

const T = '4bf92f3577b34da6a3ce929d0e0e4736';
const span = (i: number, extra: Partial<Span> = {}): Span => ({ trace_id: T, span_id: (i + 1).toString(16).padStart(16, '0'), parent_span_id: null, name: 'payments.default.svc.cluster.local:80/*', service: 'orders', start: 1700000000000.5, duration_us: 1234, status: 200, attributes: { 'http.status_code': 200, 'peer.address': '127.0.0.1:15006' }, kind: 'CLIENT', ...extra });

describe('B3 and W3C context, as Envoy reads them', () => {
  test('multi-header B3: 64-bit trace ids padded to 128, parent kept, x-b3-flags 1 means sampled, a lone decision kept', () => {
    expect(parseB3({ traceId: '463ac35c9f6413ad', spanId: 'a2fb4a1d1a96d312', parentSpanId: '0020000000000001', sampled: '1' })).toEqual({ traceId: '0000000000000000463ac35c9f6413ad', spanId: 'a2fb4a1d1a96d312', parentSpanId: '0020000000000001', sampled: true });
    expect(parseB3({ traceId: T, spanId: 'a2fb4a1d1a96d312', flags: '1', sampled: '0' })?.sampled).toBe(true);
    expect(parseB3({ sampled: '0' })).toEqual({ sampled: false });
    expect(parseB3({ traceId: 'xyz', spanId: 'a2fb4a1d1a96d312' })).toBeUndefined();
    expect(parseB3({ traceId: T, spanId: '0000000000000000', sampled: '1' })).toEqual({ sampled: true });
  });

  test('single b3 header: {trace}-{span}-{sampled}-{parent}, or only the decision', () => {
    expect(parseB3({ single: `${T}-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90` })).toEqual({ traceId: T, spanId: 'e457b5a2e4d86bd1', parentSpanId: '05e3ac9a4f6e3b90', sampled: true });
    expect(parseB3({ single: '0' })).toEqual({ sampled: false });
    expect(parseB3({ single: `${T}-e457b5a2e4d86bd1` })).toEqual({ traceId: T, spanId: 'e457b5a2e4d86bd1', parentSpanId: undefined, sampled: undefined });
  });

  test('B3 wins over traceparent; traceparent alone gives the sampled flag of its flags byte', () => {
    expect(incomingContext({ traceId: T, spanId: 'a2fb4a1d1a96d312', sampled: '0' }, `00-${'1'.repeat(32)}-00f067aa0ba902b7-01`)).toMatchObject({ traceId: T, sampled: false });
    expect(incomingContext(undefined, `00-${T}-00f067aa0ba902b7-00`)).toEqual({ traceId: T, spanId: '00f067aa0ba902b7', sampled: false });
    expect(incomingContext({ sampled: '1' }, `00-${T}-00f067aa0ba902b7-00`)).toEqual({ traceId: T, spanId: '00f067aa0ba902b7', sampled: true });
  });

  test('egress is a child of the caller (new id), ingress shares the caller span (same id and parent), no context is a root', () => {
    const ctx = { traceId: T, spanId: 'a2fb4a1d1a96d312', parentSpanId: '0020000000000001' };
    const out = hopIds(ctx, true);
    expect(out).toMatchObject({ traceId: T, parentSpanId: 'a2fb4a1d1a96d312', shared: false });
    expect(out.spanId).not.toBe('a2fb4a1d1a96d312');
    expect(hopIds(ctx, false)).toEqual({ traceId: T, spanId: 'a2fb4a1d1a96d312', parentSpanId: '0020000000000001', shared: true });
    expect(hopIds(undefined, false)).toMatchObject({ parentSpanId: null, shared: false });
    const headers: string[] = [];
    pushTraceHeaders(headers, out, false);
    expect(headers).toEqual(['traceparent', `00-${T}-${out.spanId}-00`, 'x-b3-traceid', T, 'x-b3-spanid', out.spanId, 'x-b3-sampled', '0', 'x-b3-parentspanid', 'a2fb4a1d1a96d312']);
  });
});

describe('encodings', () => {
  test('Zipkin v2: µs timestamps, string tags, remoteEndpoint from peer.address, shared only on a shared SERVER half', () => {
    const z = toZipkin(span(0, { kind: 'SERVER', shared: true, parent_span_id: '0020000000000001' }), { serviceName: 'payments-v1', ipv4: '127.0.0.1' });
    expect(z).toEqual({ traceId: T, id: '0000000000000001', parentId: '0020000000000001', name: 'payments.default.svc.cluster.local:80/*', kind: 'SERVER', timestamp: 1700000000000500, duration: 1234, shared: true, localEndpoint: { serviceName: 'payments-v1', ipv4: '127.0.0.1', port: undefined }, remoteEndpoint: { ipv4: '127.0.0.1', port: 15006 }, tags: { 'http.status_code': '200', 'peer.address': '127.0.0.1:15006' } });
    expect(JSON.parse(encodeZipkin([span(0)], { serviceName: 'x' }))[0].shared).toBeUndefined();
  });

  test('OTLP JSON: hex ids, nanosecond strings, kind numbers, error status from the error tag', () => {
    const doc = JSON.parse(encodeOtlp([span(0, { attributes: { error: 'true', 'http.status_code': 503 } })], { serviceName: 'orders-v1' }));
    const s = doc.resourceSpans[0].scopeSpans[0].spans[0];
    expect(doc.resourceSpans[0].resource.attributes[0]).toEqual({ key: 'service.name', value: { stringValue: 'orders-v1' } });
    expect(s).toMatchObject({ traceId: T, spanId: '0000000000000001', kind: 3, startTimeUnixNano: '1700000000000500000', endTimeUnixNano: '1700000000001734000', status: { code: 2 } });
    expect(s.attributes).toContainEqual({ key: 'http.status_code', value: { intValue: '503' } });
  });
});

describe('the exporter never makes a request wait', () => {
  test('a full queue drops and counts: 15 synchronous offers to a queue of 10 keep 10 and drop 5', () => {
    const e = new SpanExporter({ url: 'http://127.0.0.1:9/api/v2/spans', encode: encodeZipkin, source: { serviceName: 's' }, maxQueue: 10, maxBatch: 100, flushMs: 60_000 });
    const accepted = Array.from({ length: 15 }, (_, i) => e.offer(span(i)));
    expect(accepted.filter(Boolean)).toHaveLength(10);
    expect(e.stats.spansDropped).toBe(5);
    expect(e.queued).toBe(10);
    void e.close();
  });

  test('a collector that refuses connections costs the batch (7 spans counted failed); after close an offer is refused', async () => {
    // A port that was free a moment ago: connections are refused.
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const e = new SpanExporter({ url: `http://127.0.0.1:${port}/api/v2/spans`, encode: encodeZipkin, source: { serviceName: 's' }, flushMs: 60_000 });
    for (let i = 0; i < 7; i++) e.offer(span(i));
    await e.flush();
    expect(e.stats).toMatchObject({ reportsFailed: 1, spansFailed: 7, spansSent: 0, spansDropped: 0 });
    expect(e.lastError).toMatch(/ECONNREFUSED/);
    await e.close();
    expect(e.offer(span(8))).toBe(false);
  });
});

describe('flush() waits for every report', () => {
  test('a flush called while a batch-size report is in flight resolves only once all 4 spans (2 batches of 2) are answered', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const e = new SpanExporter({ url: `http://127.0.0.1:${port}/api/v2/spans`, encode: encodeZipkin, source: { serviceName: 's' }, maxBatch: 2, flushMs: 60_000 });
    e.offer(span(0));
    e.offer(span(1)); // a full batch: its report starts on the next turn of the loop
    await new Promise((r) => setImmediate(r));
    e.offer(span(2));
    e.offer(span(3));
    await e.flush();
    expect(e.stats.spansSent + e.stats.spansFailed).toBe(4);
    expect(e.queued).toBe(0);
    await e.close();
  });
});

/**
 * A collector that holds its answer to the first report until `release()` and answers later ones at once; `sizes` are
 * the reports' span counts, `first` and `second` resolve as the first and second reports arrive. Registers its own
 * beforeAll/afterAll in the calling describe.
 */
function holdingCollector(): { sizes: number[]; first: Promise<void>; second: Promise<void>; release: () => void; url: () => string } {
  const sizes: number[] = [];
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  let arrived!: () => void;
  const first = new Promise<void>((r) => (arrived = r));
  let secondArrived!: () => void;
  const second = new Promise<void>((r) => (secondArrived = r));
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      sizes.push((JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown[]).length);
      if (sizes.length === 1) {
        arrived();
        void held.then(() => res.writeHead(202).end());
      } else {
        res.writeHead(202).end();
        secondArrived();
      }
    });
  });
  beforeAll(() => new Promise<void>((r) => server.listen(0, '127.0.0.1', r)));
  afterAll(() => {
    release();
    server.closeAllConnections();
    return new Promise((r) => server.close(r));
  });
  return { sizes, first, second, release, url: () => `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/api/v2/spans` };
}

describe('reports carry full batches, as Envoy reports at min_flush_spans', () => {
  const { sizes, first: firstArrived, release, url } = holdingCollector();

  test('3 spans offered while a full batch of 4 is in flight wait for the 4th (reports of 4 and 4), not a report of 3 right after the first', async () => {
    const e = new SpanExporter({ url: url(), encode: encodeZipkin, source: { serviceName: 's' }, maxBatch: 4, flushMs: 60_000 });
    for (let i = 0; i < 4; i++) e.offer(span(i)); // a full batch: reported on the next turn
    await firstArrived;
    for (let i = 4; i < 7; i++) e.offer(span(i));
    release();
    // Event-loop turns (no timer) until the first report is over; a report chasing it would be in flight by then.
    while (e.stats.reportsSent < 1 || e.reporting) await new Promise((r) => setImmediate(r));
    expect({ reports: e.stats.reportsSent, queued: e.queued, sizes }).toEqual({ reports: 1, queued: 3, sizes: [4] });
    e.offer(span(7));
    await e.flush();
    await e.close();
    expect(sizes).toEqual([4, 4]);
    expect(e.stats).toMatchObject({ reportsSent: 2, spansSent: 8, reportsFailed: 0 });
  });
});

describe('the timer reports the spans queued when it fired', () => {
  const { sizes, first: firstArrived, second, release, url } = holdingCollector();

  test('1 span offered while the timer\'s report of 2 is in flight waits for the next timer (reports of 2, then 1 a timer later), not a report right after the first', async () => {
    const flushMs = 40;
    const e = new SpanExporter({ url: url(), encode: encodeZipkin, source: { serviceName: 's' }, maxBatch: 100, flushMs });
    e.offer(span(0));
    e.offer(span(1)); // below a batch: the timer reports them
    await firstArrived;
    e.offer(span(2)); // arms the next timer
    const offeredAt = performance.now();
    release();
    // Event-loop turns (no timer) until the first report is over; a report chasing it would be in flight by then.
    while (e.stats.reportsSent < 1 || e.reporting) await new Promise((r) => setImmediate(r));
    expect({ reports: e.stats.reportsSent, queued: e.queued, sizes }).toEqual({ reports: 1, queued: 1, sizes: [2] });
    await second;
    // The next timer, armed by the 3rd offer: not before flushMs after it (less 1 ms: a Node timer may fire up to ~1 ms early).
    expect(performance.now() - offeredAt).toBeGreaterThanOrEqual(flushMs - 1);
    expect(sizes).toEqual([2, 1]);
    await e.close();
    expect(e.stats).toMatchObject({ reportsSent: 2, spansSent: 3, reportsFailed: 0 });
  });
});

describe('ProxyConfig tracing (PROXY_CONFIG), as pilot-agent reads it', () => {
  test('defaults to Istio\'s 1% without a collector; YAML or JSON; OTLP from the OpenTelemetry variables', () => {
    expect(parseTracingConfig({})).toEqual({ sampling: 1 });
    expect(parseTracingConfig({ PROXY_CONFIG: 'tracing:\n  sampling: 100\n  zipkin:\n    address: 127.0.0.1:9411\n' })).toEqual({ sampling: 100, zipkin: '127.0.0.1:9411' });
    expect(parseTracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318/' })).toEqual({ sampling: 1, otlp: 'http://jaeger:4318/v1/traces' });
    expect(parseTracingConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/x', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318' }).otlp).toBe('http://c:4318/x');
  });

  test('what Istio has and meshlab does not is ML0003 naming the field; bad values say what would be right', () => {
    expect(() => parseTracingConfig({ PROXY_CONFIG: '{"tracing":{"datadog":{"address":"d:8126"}}}' })).toThrow(/ML0003 field "tracing\.datadog"/);
    expect(() => parseTracingConfig({ PROXY_CONFIG: '{"concurrency":2}' })).toThrow(/ML0003 field "concurrency"/);
    expect(() => parseTracingConfig({ PROXY_CONFIG: '{"tracing":{"sampling":101}}' })).toThrow(/percentage from 0 to 100, got 101/);
    expect(() => parseTracingConfig({ PROXY_CONFIG: '{"tracing":{"zipkin":{"address":"zipkin"}}}' })).toThrow(/host:port, got "zipkin"/);
    expect(() => parseTracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'grpc://x:4317' })).toThrow(/not an http URL/);
  });
});

describe('the Zipkin body is written directly', () => {
  test('it is exactly the JSON of toZipkin for spans with and without parent, kind, peer, shared, escapes in tags', () => {
    const spans = [span(0), span(1, { parent_span_id: '0020000000000001', kind: 'SERVER', shared: true, attributes: { 'http.url': 'http://a/"q"\\\n', n: 3, 'peer.address': 'payments:15006' } }), span(2, { kind: undefined, attributes: {} })];
    const source = { serviceName: 'orders-v1', ipv4: '127.0.0.1' };
    expect(encodeZipkin(spans, source)).toBe(JSON.stringify(spans.map((s) => toZipkin(s, source))));
    expect(encodeZipkin([], source)).toBe('[]');
  });
});
