import fs from 'node:fs';
import { AccessLog } from '../mesh/access-log';
import { MeshStats } from '../mesh/stats';
import { StreamInfo } from '../mesh/stream-info';
import { downstreamHeaders, serviceFromHost, upstreamHeaders } from '../mesh/headers';
import { UpstreamHost } from '../mesh/upstream-host';
import { SpanRing, formatTraceparent, newSpanId, newTraceId, parseTraceparent, type Span } from '../mesh/tracing';
import { Tracer } from '../mesh/telemetry/tracer';
import { readRequestHead } from '../mesh/headers';
import { encodeZipkin } from '../mesh/telemetry/zipkin';
import { encodeZipkinHops, monotonicToWallOffsetMs } from '../mesh/telemetry/hop-spans';
import { ZipkinHopEncoder } from '../mesh/telemetry/zipkin-hop-encoder';
import { encodeOtlp } from '../mesh/telemetry/otlp';
import { RequestDecoder } from '../mesh/http1/request-decoder';
import { ResponseDecoder } from '../mesh/http1/response-decoder';

/**
 * `node dist/bench/hot-path.js`: CPU cost of each piece of the sidecar's per-request work, called
 * in a loop in this process (no sockets), in µs per call. A profile under load says where time
 * goes; this says how much each piece costs on its own, so a fix can be judged before a full run.
 */

export interface HotPathCost {
  name: string;
  usPerCall: number;
}

function time(name: string, n: number, fn: (i: number) => void): HotPathCost {
  for (let i = 0; i < Math.min(n, 2000); i++) fn(i); // warm up the JIT
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn(i);
  const ns = Number(process.hrtime.bigint() - t0);
  return { name, usPerCall: Math.round(ns / n / 10) / 100 };
}

export function measureHotPath(n = 20000): HotPathCost[] {
  const raw = ['Host', 'upstream', 'User-Agent', 'meshlab-bench', 'Accept', '*/*', 'x-meshlab-peer', 'bench-client;v1'];
  const upstreamResponse = { 'content-type': 'application/json', 'content-length': '11', date: 'Sat, 21 Nov 2026 05:00:00 GMT', connection: 'keep-alive', 'keep-alive': 'timeout=60' };
  const devNull = fs.openSync('/dev/null', 'w');
  const log = new AccessLog(devNull);
  const stats = new MeshStats({ service: 'bench-client', version: 'v1' });
  const host = new UpstreamHost({ instance: 'upstream-0', service: 'upstream', labels: { version: 'v1' }, host: '127.0.0.1', port: 1 });
  const info = (): StreamInfo => {
    const s = new StreamInfo('outbound');
    s.method = 'GET';
    s.path = '/';
    s.authority = 'upstream';
    s.destinationService = 'upstream';
    s.upstream = host;
    s.status = 200;
    s.bytesSent = 11;
    s.requestId = '2b1d4f1e-8a9e-4c1e-9a55-0d2c7f1b6a11';
    s.finish();
    return s;
  };
  const sample = info();
  const ring = new SpanRing();
  const span = (): Span => ({ trace_id: 'a'.repeat(32), span_id: 'b'.repeat(16), parent_span_id: null, name: 'upstream.default.svc.cluster.local:80/*', service: 'bench-client', start: 0, duration_us: 100, status: 200, attributes: { direction: 'outbound', 'http.method': 'GET' } });
  for (let i = 0; i < 2000; i++) ring.add(span()); // full: every add now shifts
  const tp = formatTraceparent(newTraceId(), newSpanId());
  // Span export at 100%: begin (context, sampling, headers) + end (span with Istio's tags, ring, exporter queue).
  // The exporter points at a closed port and never flushes during the loop (flushMs 1 h); encoding is timed apart.
  const tracer = new Tracer({ workload: { service: 'bench-client', version: 'v1', instance: 'bench-0' }, config: { sampling: 100, zipkin: '127.0.0.1:9' }, exporter: { maxQueue: 1 << 30, maxBatch: 1 << 30, flushMs: 3_600_000 } });
  const plain = new Tracer({ workload: { service: 'bench-client', version: 'v1', instance: 'bench-0' }, config: { sampling: 0 } });
  const head = readRequestHead(['Host', 'upstream', 'traceparent', tp], false);
  const traced = (t: Tracer): void => {
    const s = info();
    t.begin(s, head, [], true, undefined);
    t.end(s);
  };
  const hops: StreamInfo[] = Array.from({ length: 512 }, () => { const s = info(); tracer.begin(s, head, [], true, undefined); tracer.end(s); return s; });
  const batch: Span[] = hops.map(() => tracer.ring.list(1)[0]);
  const constants = { canonicalService: 'bench-client', canonicalRevision: 'v1', namespace: 'default', meshId: 'cluster.local', nodeId: 'sidecar~127.0.0.1~bench-0.default~default.svc.cluster.local', literalTags: [], clockOffsetMs: monotonicToWallOffsetMs() };
  const encoder = new ZipkinHopEncoder({ serviceName: 'bench-client-v1' });
  const results = [
    time('new StreamInfo + finish()', n, () => void info()),
    time('upstreamHeaders (4 headers, adds x-request-id)', n, () => void upstreamHeaders(raw, undefined)),
    time('downstreamHeaders (5 headers)', n, () => void downstreamHeaders(upstreamResponse)),
    time('serviceFromHost', n, () => void serviceFromHost('upstream:80')),
    time('trace ids: parseTraceparent + newTraceId + newSpanId + formatTraceparent', n, () => void formatTraceparent(parseTraceparent(tp)?.traceId ?? newTraceId(), newSpanId())),
    time('SpanRing.add at capacity (span object + array shift of 2000)', n, () => ring.add(span())),
    time('Tracer begin+end, not sampled (ring only)', n, () => traced(plain)),
    time('Tracer begin+end, 100% sampled (ring + Zipkin exporter queue; spans kept, as for 1 s before a report)', n, () => traced(tracer)),
    time('ZipkinHopEncoder (the sidecar\'s Zipkin body, bytes), per span (batches of 512)', Math.max(1, Math.floor(n / 512)) * 512, (i) => void (i % 512 === 0 && encoder.encode(hops, constants))),
    time('encodeZipkinHops (JSON.stringify, the reference) + UTF-8, per span (batches of 512)', Math.max(1, Math.floor(n / 512)) * 512, (i) => void (i % 512 === 0 && Buffer.from(encodeZipkinHops(hops, { serviceName: 'bench-client-v1' }, constants)))),
    time('encodeZipkin of Span objects (apps), per span (batches of 512)', Math.max(1, Math.floor(n / 512)) * 512, (i) => void (i % 512 === 0 && encodeZipkin(batch, { serviceName: 'bench-client-v1' }))),
    time('encodeOtlp, per span (batches of 512)', Math.max(1, Math.floor(n / 512)) * 512, (i) => void (i % 512 === 0 && encodeOtlp(batch, { serviceName: 'bench-client-v1' }))),
    time('MeshStats.record (4 prom-client observations)', n, () => stats.record(sample)),
    time('AccessLog.log (object, toISOString, JSON.stringify, batch write)', n, () => log.log(sample)),
    ...parsers(n),
  ];
  log.flush();
  fs.closeSync(devNull);
  void tracer.close().catch(() => undefined);
  void host.pool.close();
  return results;
}

/**
 * One request head and body, and one response, through meshlab's codec (mesh/http1) and through
 * llhttp as Node's http.Server drives it (the HTTPParser of node:_http_common, Node's own JS
 * callbacks building rawHeaders), on the same bytes: the parse step alone, without sockets.
 */
function parsers(n: number): HotPathCost[] {
  const request = Buffer.from('POST /pay HTTP/1.1\r\nHost: payments\r\nUser-Agent: meshlab-bench\r\nAccept: */*\r\nContent-Type: application/json\r\nx-request-id: 2b1d4f1e-8a9e-4c1e-9a55-0d2c7f1b6a11\r\nContent-Length: 11\r\n\r\n{"ok":true}');
  const response = Buffer.from('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\ndate: Sat, 21 Nov 2026 05:00:00 GMT\r\nconnection: keep-alive\r\nkeep-alive: timeout=60\r\n\r\n{"ok":true}');
  const limits = { maxHeadBytes: 60 * 1024, maxHeaders: 100 };
  let sink = 0;
  const req = new RequestDecoder({ onHead: (h) => (sink += h.count), onBody: (b) => (sink += b.length), onMessageComplete: () => sink++, onError: () => {} }, limits);
  const res = new ResponseDecoder({ onHead: (h) => (sink += h.status), onBody: (b) => (sink += b.length), onMessageComplete: () => sink++, onError: () => {} }, limits);
  // Node's internal parser class, as its http.Server and ClientRequest use it (not a public API: bench only).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { HTTPParser } = require('_http_common') as { HTTPParser: NodeHttpParser };
  const llhttp = (kind: number): { execute(b: Buffer): unknown } => {
    const p = new HTTPParser();
    p.initialize(kind, {});
    p[HTTPParser.kOnHeadersComplete] = (_maj: number, _min: number, headers: string[]) => void (sink += headers.length);
    p[HTTPParser.kOnBody] = (b: Buffer) => void (sink += b.length);
    p[HTTPParser.kOnMessageComplete] = () => void sink++;
    p[HTTPParser.kOnHeaders] = () => {};
    p[HTTPParser.kOnExecute] = () => {};
    return p;
  };
  const nodeReq = llhttp(HTTPParser.REQUEST);
  const nodeRes = llhttp(HTTPParser.RESPONSE);
  const out = [
    time('mesh/http1 RequestDecoder: request head (6 headers) + 11-byte body, header lines kept as offsets', n, () => req.push(request)),
    time('mesh/http1 RequestDecoder: the same, then every header line as strings (as Node always does)', n, () => {
      req.push(request);
      sink += req.head.raw().length;
    }),
    time("llhttp as Node's http.Server drives it: the same request (rawHeaders built by Node)", n, () => void nodeReq.execute(request)),
    time('mesh/http1 ResponseDecoder: response head (5 headers) + 11-byte body, kept as offsets', n, () => {
      res.expect('POST');
      res.push(response);
    }),
    time("llhttp as Node's client drives it: the same response", n, () => void nodeRes.execute(response)),
  ];
  if (sink === 0) throw new Error('parsers did nothing');
  return out;
}

interface NodeHttpParser {
  new (): { initialize(kind: number, resource: object): void; execute(b: Buffer): unknown; [k: number]: unknown };
  REQUEST: number;
  RESPONSE: number;
  kOnHeaders: number;
  kOnHeadersComplete: number;
  kOnBody: number;
  kOnMessageComplete: number;
  kOnExecute: number;
}

if (require.main === module) {
  const n = Number(process.argv[2] ?? 20000);
  for (const r of measureHotPath(n)) process.stdout.write(`${r.usPerCall.toFixed(2).padStart(8)} µs  ${r.name}\n`);
}
