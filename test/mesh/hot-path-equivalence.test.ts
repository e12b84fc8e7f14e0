import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Counter, Histogram, Registry } from 'prom-client';
import { AccessLog, ACCESS_LOG_FLUSH_CHARS, formatAccessLogLine, type AccessLogEntry } from '../../mesh/access-log';
import { MeshStats, ENVOY_DURATION_BUCKETS_MS, ISTIO_BYTE_BUCKETS, REQUEST_LABELS } from '../../mesh/stats';
import { StreamInfo } from '../../mesh/stream-info';
import { UpstreamHost } from '../../mesh/upstream-host';
import { SpanRing, type Span } from '../../mesh/tracing';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { PEER_HEADER, readRequestHead, upstreamHeaders } from '../../mesh/headers';

/**
 * The hot-path rewrites (template-built access log lines, batched writes, request metrics
 * accumulated in plain numbers, the span ring) must be indistinguishable from what they replaced:
 * each is checked here against the straightforward version (JSON.stringify, prom-client's own
 * Counter/Histogram, an array with shift()).
 */

const entry = (over: Partial<AccessLogEntry> = {}): AccessLogEntry => ({
  start_time: '2026-11-21T06:30:00.123Z',
  route_name: 'default',
  method: 'GET',
  path: '/api/orders?id=7',
  protocol: 'HTTP/1.1',
  response_code: 200,
  response_flags: '-',
  response_code_details: 'via_upstream',
  bytes_received: 0,
  bytes_sent: 11,
  duration: 0,
  upstream_service_time: '0',
  user_agent: 'undici',
  request_id: '2b1d4f1e-8a9e-4c1e-9a55-0d2c7f1b6a11',
  authority: 'payments',
  upstream_host: '127.0.0.1:41234',
  upstream_cluster: 'outbound|80||payments.default.svc.cluster.local',
  upstream_transport_failure_reason: '-',
  direction: 'outbound',
  duration_ms: 0.137,
  upstream_instance: 'payments-v1-0',
  x_request_id: '2b1d4f1e-8a9e-4c1e-9a55-0d2c7f1b6a11',
  attempts: 1,
  source_workload: 'orders-v1',
  source_principal: 'spiffe://cluster.local/ns/default/sa/orders',
  destination_principal: 'unknown',
  ...over,
});

describe('access log line', () => {
  it.each([
    ['plain', {}],
    ['quotes, backslashes and controls', { path: '/a"b\\c\u0001\n\t', authority: 'x\u007fy' }],
    ['unicode and surrogates', { path: '/caf\u00e9/\ud83d\ude00', x_request_id: 'lone\ud800high', route_name: 'lone\udc00low' }],
    ['odd numbers', { duration_ms: 1e21, bytes_received: 1e-7, response_code: 0, attempts: -0 }],
  ])('is byte for byte JSON.stringify(entry) + newline: %s', (_name, over) => {
    const e = entry(over as Partial<AccessLogEntry>);
    expect(formatAccessLogLine(e)).toBe(`${JSON.stringify(e)}\n`);
  });

  it('writes nothing per request, everything on flush (and on its 100 ms timer), in order', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshlab-al-'));
    const file = path.join(dir, 'access.log');
    const fd = fs.openSync(file, 'w');
    try {
      const log = new AccessLog(fd);
      const host = new UpstreamHost({ instance: 'payments-v1-0', service: 'payments', labels: { version: 'v1' }, host: '127.0.0.1', port: 1 });
      const infos = [200, 503, 404].map((status, i) => {
        const s = new StreamInfo('outbound');
        s.method = 'GET';
        s.path = `/p${i}`;
        s.upstream = host;
        s.status = status;
        s.finish();
        return s;
      });
      log.log(infos[0]);
      log.log(infos[1]);
      // Memory ring: immediate.
      expect(log.entries().map((e) => e.response_code)).toEqual([200, 503]);
      expect(fs.readFileSync(file, 'utf8')).toBe('');
      log.flush();
      const afterFlush = fs.readFileSync(file, 'utf8').split('\n');
      expect(afterFlush).toHaveLength(3);
      expect(afterFlush[2]).toBe('');
      expect(afterFlush.slice(0, 2).map((l) => (JSON.parse(l) as AccessLogEntry).path)).toEqual(['/p0', '/p1']);
      expect(afterFlush[0]).toBe(JSON.stringify(log.entries()[0]));
      // The timer flushes what arrives later without an explicit flush.
      const t0 = Date.now();
      log.log(infos[2]);
      while (!fs.readFileSync(file, 'utf8').includes('/p2') && Date.now() - t0 < 2000) await new Promise((r) => setTimeout(r, 10));
      const waited = Date.now() - t0;
      expect(waited).toBeGreaterThanOrEqual(90);
      expect(waited).toBeLessThan(1000);
      void host.pool.close();
    } finally {
      fs.closeSync(fd);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('writes as soon as 64 KiB are pending, without waiting for the timer', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshlab-al-'));
    const file = path.join(dir, 'access.log');
    const fd = fs.openSync(file, 'w');
    try {
      const log = new AccessLog(fd);
      const s = new StreamInfo('inbound');
      s.path = `/${'x'.repeat(1000)}`;
      s.finish();
      const probe = new AccessLog(-1);
      probe.log(s);
      const lineLength = formatAccessLogLine(probe.entries(1)[0]).length;
      const n = Math.ceil(ACCESS_LOG_FLUSH_CHARS / lineLength);
      for (let i = 0; i < n - 1; i++) log.log(s);
      expect(fs.statSync(file).size).toBe(0);
      log.log(s);
      expect(fs.statSync(file).size).toBe(n * lineLength);
      log.log(s);
      expect(fs.statSync(file).size).toBe(n * lineLength);
      log.flush();
    } finally {
      fs.closeSync(fd);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('request metrics', () => {
  /** What the sidecar exposed before: prom-client's Counter/Histogram fed the same label values. */
  function reference(records: { labels: string[]; ms: number; rx: number; tx: number }[]): Registry {
    const registry = new Registry();
    const labelNames = [...REQUEST_LABELS];
    const registers = [registry];
    const bytes = [...ISTIO_BYTE_BUCKETS];
    const c = new Counter({ name: 'istio_requests_total', help: 'Requests handled by this proxy (Istio standard metric).', labelNames, registers });
    const d = new Histogram({ name: 'istio_request_duration_milliseconds', help: 'Request duration in milliseconds (Envoy default buckets).', labelNames, buckets: ENVOY_DURATION_BUCKETS_MS, registers });
    const rq = new Histogram({ name: 'istio_request_bytes', help: 'Request body sizes.', labelNames, buckets: bytes, registers });
    const rs = new Histogram({ name: 'istio_response_bytes', help: 'Response body sizes.', labelNames, buckets: bytes, registers });
    for (const r of records) {
      c.labels(...r.labels).inc();
      d.labels(...r.labels).observe(r.ms);
      rq.labels(...r.labels).observe(r.rx);
      rs.labels(...r.labels).observe(r.tx);
    }
    return registry;
  }

  const families = (text: string): string =>
    text
      .split('\n\n')
      .filter((f) => /^# HELP istio_(?!tcp_)/.test(f)) // the HTTP families (the istio_tcp_* ones are mesh/tcp's)
      .map((f) => f.trimEnd())
      .join('\n\n');

  it('exposes byte for byte what prom-client Counter/Histogram did, for the same requests', async () => {
    const stats = new MeshStats({ service: 'orders', version: 'v1' });
    const v1 = new UpstreamHost({ instance: 'payments-v1-0', service: 'payments', labels: { version: 'v1' }, host: '127.0.0.1', port: 1 });
    const v2 = new UpstreamHost({ instance: 'payments-v2-0', service: 'payments', labels: { version: 'v2' }, host: '127.0.0.1', port: 2 });
    const records: { labels: string[]; ms: number; rx: number; tx: number }[] = [];
    // Fixed pseudo-random sequence (LCG, seed 7): durations across all buckets, including beyond the last.
    let seed = 7;
    const rnd = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 400; i++) {
      const s = new StreamInfo(i % 3 === 0 ? 'inbound' : 'outbound');
      s.destinationService = i % 7 === 0 ? '' : 'payments';
      s.upstream = i % 2 ? v1 : v2;
      s.status = [200, 503, 404, 200][i % 4];
      if (i % 5 === 0) s.flag('UO');
      if (i % 11 === 0) s.flag('URX');
      s.sourceWorkload = i % 3 === 0 ? 'gateway-v1' : 'unknown';
      s.sourceVersion = i % 3 === 0 ? 'v1' : 'unknown';
      s.sourceApp = i % 3 === 0 ? 'gateway' : 'unknown';
      s.sourceNamespace = i % 3 === 0 ? 'default' : 'unknown'; // the HCM sets it with sourceApp, from the peer header
      s.connectionSecurityPolicy = i % 2 ? 'mutual_tls' : 'unknown';
      s.bytesReceived = Math.floor(rnd() ** 4 * 2e7);
      s.bytesSent = Math.floor(rnd() * 5000);
      s.durationUs = rnd() ** 6 * 4e9;
      stats.record(s);
      const src = s.direction === 'outbound';
      const dv = src ? (s.upstream.version ?? 'unknown') : 'v1';
      const ds = s.destinationService || 'unknown';
      records.push({
        labels: [
          src ? 'source' : 'destination', src ? 'orders-v1' : s.sourceWorkload, src ? 'v1' : s.sourceVersion, ds === 'unknown' ? 'unknown' : `${ds}-${dv}`, dv, ds === 'unknown' ? 'unknown' : `${ds}.default.svc.cluster.local`, ds, String(s.status), s.responseFlags, s.connectionSecurityPolicy, s.sourcePrincipal, s.destinationPrincipal, 'http',
          ...(src ? ['orders', 'orders', 'v1', 'default', 'Kubernetes'] : s.sourceApp === 'unknown' ? Array(5).fill('unknown') : [s.sourceApp, s.sourceApp, s.sourceVersion, 'default', 'Kubernetes']),
          ...(!src ? ['orders', 'orders', 'v1', 'default', 'default', 'Kubernetes'] : ds === 'unknown' ? Array(6).fill('unknown') : [ds, ds, dv, 'default', 'default', 'Kubernetes']),
          '',
        ],
        ms: s.durationUs / 1000,
        rx: s.bytesReceived,
        tx: s.bytesSent,
      });
    }
    const ours = families(await stats.registry.metrics());
    const theirs = families(await reference(records).metrics());
    expect(ours.length).toBeGreaterThan(10000);
    expect(ours).toBe(theirs);
    // JSON form too (dashboards may read it).
    const json = (await stats.registry.getMetricsAsJSON()).filter((m) => m.name.startsWith('istio_') && !m.name.startsWith('istio_tcp_'));
    expect(json).toEqual((await reference(records).getMetricsAsJSON()).filter((m) => m.name.startsWith('istio_')));
    void v1.pool.close();
    void v2.pool.close();
  });
});

describe('span ring', () => {
  it('keeps the newest `capacity` spans in order, like push + shift', () => {
    const ring = new SpanRing(5);
    const ref: Span[] = [];
    const span = (i: number): Span => ({ trace_id: i % 2 ? 'a'.repeat(32) : 'b'.repeat(32), span_id: String(i).padStart(16, '0'), parent_span_id: null, name: 'x', service: 's', start: i, duration_us: 1, status: 200, attributes: {} });
    for (let i = 0; i < 13; i++) {
      ring.add(span(i));
      ref.push(span(i));
      if (ref.length > 5) ref.shift();
      expect(ring.list()).toEqual(ref);
      expect(ring.list(2)).toEqual(ref.slice(-2));
      expect(ring.list(5, 'a'.repeat(32))).toEqual(ref.filter((s) => s.trace_id === 'a'.repeat(32)));
    }
  });
});

describe('request head read from the raw header list', () => {
  /** Raw request heads with repeated, hop-by-hop and Connection-named headers. */
  const heads = [
    'GET / HTTP/1.1\r\nHost: payments\r\nX-Request-Id: abc\r\n\r\n',
    'POST /p HTTP/1.1\r\nHost: a\r\nHost: b\r\nContent-Length: 3\r\nConnection: keep-alive\r\nTraceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\nX-Meshlab-Peer: orders;v2\r\n\r\nabc',
    'POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive, X-Secret, x-request-id\r\nX-Secret: s\r\nX-Request-Id: r1\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\n\r\n0\r\n\r\n',
    'GET /d HTTP/1.1\r\nHost: a\r\ntraceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\ntraceparent: 00-1af7651916cd43dd8448eb211c80319c-c7ad6b7169203331-01\r\nx-meshlab-peer: a;v1\r\nX-MESHLAB-PEER: b;v2\r\nconnection: close\r\nclose: x\r\n\r\n',
  ];

  it.each(heads.map((h, i) => [i, h]))('matches req.headers and upstreamHeaders, both directions: head %i', async (_i, head) => {
    const seen: { raw: string[]; headers: http.IncomingHttpHeaders }[] = [];
    const server = http.createServer((req, res) => {
      seen.push({ raw: req.rawHeaders, headers: req.headers });
      req.resume();
      req.on('end', () => res.end());
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const socket = net.connect((server.address() as AddressInfo).port, '127.0.0.1');
      socket.on('data', () => socket.end());
      socket.write(head as string);
      await new Promise((r) => socket.on('close', r));
      expect(seen).toHaveLength(1);
      const { raw, headers } = seen[0];
      for (const inbound of [true, false]) {
        const got = readRequestHead(raw, inbound);
        const want = upstreamHeaders(raw, headers.connection, inbound ? PEER_HEADER : undefined, 'traceparent');
        expect({ host: got.host, contentLength: got.contentLength, transferEncoding: got.transferEncoding, traceparent: got.traceparent, peer: got.peer }).toEqual({
          host: headers.host,
          contentLength: headers['content-length'],
          transferEncoding: headers['transfer-encoding'],
          traceparent: headers.traceparent,
          peer: headers[PEER_HEADER],
        });
        if (want.requestId === got.requestId) expect(got.headers).toEqual(want.headers);
        else {
          // Both generated a fresh id: everything but the id itself is the same.
          expect(got.headers.slice(0, -1)).toEqual(want.headers.slice(0, -1));
          expect(got.headers.at(-2)).toBe('x-request-id');
        }
      }
    } finally {
      server.close();
    }
  });
});
