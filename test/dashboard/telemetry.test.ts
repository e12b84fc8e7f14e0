import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Telemetry, histogramQuantile } from '../../mesh/control-plane/dashboard/telemetry';
import { parsePromText } from '../../mesh/control-plane/dashboard/prom-text';
import { ScenarioStore } from '../../mesh/control-plane/dashboard/scenarios';
import { groupTraces } from '../../mesh/control-plane/dashboard/traces';
import { trafficSplits } from '../../mesh/control-plane/dashboard/policies';
import type { MeshResource } from '../../mesh/config/types';

const ORDERS = { id: 'orders-v1-0', role: 'sidecar' as const, service: 'orders', version: 'v1' };
const BOUNDS = ['0.5', '1', '5', '10', '25', '50', '100', '250', '+Inf'];

/** Prometheus text of the orders sidecar after `ok` 201s and `bad` 500s to payments v2, all taking ~`ms` (the source reports security "unknown", as Istio's does). */
function metrics(ok: number, bad: number, ms: number): string {
  const lines: string[] = ['# HELP istio_requests_total x', '# TYPE istio_requests_total counter'];
  const labels = (code: number): string => `reporter="source",source_workload="orders-v1",destination_workload="payments-v2",destination_version="v2",destination_service_name="payments",response_code="${code}",response_flags="-",connection_security_policy="unknown"`;
  for (const [code, n] of [[201, ok], [500, bad]] as const) {
    if (n === 0) continue;
    lines.push(`istio_requests_total{${labels(code)}} ${n}`);
    for (const le of BOUNDS) lines.push(`istio_request_duration_milliseconds_bucket{le="${le}",${labels(code)}} ${le === '+Inf' || Number(le) >= ms ? n : 0}`);
  }
  return lines.join('\n');
}

const PAYMENTS = { id: 'payments-v2-0', role: 'sidecar' as const, service: 'payments', version: 'v2' };

/** Prometheus text of the payments v2 sidecar: what it received, by caller and security (reporter="destination"). */
function inbound(rows: { from: string; version: string; n: number; security: string; ms?: number }[]): string {
  const lines: string[] = [];
  for (const r of rows) {
    const l = `reporter="destination",source_workload="${r.from}",source_version="${r.version}",destination_workload="payments-v2",destination_version="v2",destination_service_name="payments",response_code="201",response_flags="-",connection_security_policy="${r.security}"`;
    lines.push(`istio_requests_total{${l}} ${r.n}`);
    for (const le of BOUNDS) lines.push(`istio_request_duration_milliseconds_bucket{le="${le}",${l}} ${le === '+Inf' || Number(le) >= (r.ms ?? 3) ? r.n : 0}`);
  }
  return lines.join('\n');
}

describe('telemetry from scrape deltas', () => {
  test('rates, error ratio, p99 over a window from the source reporter; the first scrape is only a baseline', () => {
    const t = new Telemetry();
    t.tick(0, [{ node: ORDERS, text: metrics(1000, 0, 20) }, { node: PAYMENTS, text: inbound([{ from: 'orders-v1', version: 'v1', n: 1000, security: 'mutual_tls' }]) }]);
    expect(t.edges(5000)).toEqual([]);
    t.tick(1000, [{ node: ORDERS, text: metrics(1020, 0, 20) }, { node: PAYMENTS, text: inbound([{ from: 'orders-v1', version: 'v1', n: 1020, security: 'mutual_tls' }]) }]);
    t.tick(2000, [{ node: ORDERS, text: metrics(1030, 10, 20) }, { node: PAYMENTS, text: inbound([{ from: 'orders-v1', version: 'v1', n: 1030, security: 'mutual_tls' }]) }]);
    const edges = t.edges(5000);
    expect(edges).toHaveLength(1);
    const [e] = edges;
    expect(e).toMatchObject({ source: 'orders:v1', target: 'payments:v2', service: 'payments', version: 'v2', requests: 40, rps: 20, errorRate: 0.25, mtls: true, reporter: 'source', codes: { '201': 30, '500': 10 } });
    // All 40 in the (10, 25] bucket: p99 interpolates to 10 + 15 × 0.99.
    expect(e.p99Ms).toBeCloseTo(24.85, 2);
    // Over the last second only: 20 requests, half failed.
    expect(t.edges(1000)[0]).toMatchObject({ requests: 20, rps: 20, errorRate: 0.5 });
  });

  test('a broker edge (TCP only, istio_tcp_*): orders:v1 → rabbitmq:unknown 5 connections opened in the window (3 refused, UF,URX as flags) and 3,000 B/s', () => {
    const tcp = (opened: number, refused: number, sent: number, received: number): string => {
      const l = (flags: string): string => `reporter="source",source_workload="orders-v1",destination_workload="unknown",destination_version="unknown",destination_service_name="rabbitmq",request_protocol="tcp",response_flags="${flags}",connection_security_policy="unknown"`;
      return [`istio_tcp_connections_opened_total{${l('-')}} ${opened}`, `istio_tcp_connections_opened_total{${l('UF,URX')}} ${refused}`, `istio_tcp_sent_bytes_total{${l('-')}} ${sent}`, `istio_tcp_received_bytes_total{${l('-')}} ${received}`].join('\n');
    };
    const t = new Telemetry();
    t.tick(0, [{ node: ORDERS, text: tcp(1, 0, 100, 100) }]);
    t.tick(1000, [{ node: ORDERS, text: tcp(2, 3, 1100, 2100) }]);
    t.tick(2000, [{ node: ORDERS, text: tcp(3, 3, 2100, 4100) }]);
    expect(t.edges(5000)).toEqual([expect.objectContaining({ source: 'orders:v1', target: 'rabbitmq:unknown', protocol: 'tcp', requests: 0, tcpConnections: 5, tcpBytesPerSec: 3000, flags: { 'UF,URX': 3 } })]);
  });

  test('a counter that goes down is a restarted proxy: its whole value is new', () => {
    const t = new Telemetry();
    t.tick(0, [{ node: ORDERS, text: metrics(500, 0, 3) }]);
    t.tick(1000, [{ node: ORDERS, text: metrics(7, 0, 3) }]);
    expect(t.edges(5000)[0]).toMatchObject({ requests: 7, rps: 7 });
  });

  test('mTLS is what the destination reports (Kiali): source "unknown" + destination mutual_tls = locked; destination none = open', () => {
    const t = new Telemetry(3);
    t.tick(0, [{ node: ORDERS, text: metrics(0, 0, 3) }, { node: PAYMENTS, text: inbound([]) }]);
    t.tick(1000, [{ node: ORDERS, text: metrics(5, 0, 3) }, { node: PAYMENTS, text: inbound([{ from: 'orders-v1', version: 'v1', n: 5, security: 'mutual_tls' }]) }]);
    expect(t.edges(1000)[0]).toMatchObject({ source: 'orders:v1', target: 'payments:v2', mtls: true, mtlsShare: 1 });
    // 5 more over mTLS and 5 in plaintext (PERMISSIVE let them in): not every request was mutual TLS.
    t.tick(2000, [{ node: ORDERS, text: metrics(15, 0, 3) }, { node: PAYMENTS, text: inbound([{ from: 'orders-v1', version: 'v1', n: 10, security: 'mutual_tls' }, { from: 'orders-v1', version: 'v1', n: 5, security: 'none' }]) }]);
    expect(t.edges(1000)[0]).toMatchObject({ requests: 10, mtls: false, mtlsShare: 0.5 });
    t.tick(3000, [{ node: ORDERS, text: metrics(15, 0, 3) }, { node: PAYMENTS, text: inbound([{ from: 'orders-v1', version: 'v1', n: 10, security: 'mutual_tls' }, { from: 'orders-v1', version: 'v1', n: 5, security: 'none' }]) }]);
    expect(t.edges(1000)[0]).toMatchObject({ requests: 0, rps: 0, errorRate: 0, p99Ms: null, mtls: false, mtlsShare: null });
  });

  test('a caller without a sidecar exists only in the destination\'s series: an edge from "unknown", plaintext, counted there', () => {
    const t = new Telemetry();
    t.tick(0, [{ node: PAYMENTS, text: inbound([{ from: 'unknown', version: 'unknown', n: 0, security: 'none' }, { from: 'istio-ingressgateway-v1', version: 'v1', n: 0, security: 'mutual_tls' }]) }]);
    t.tick(1000, [{ node: PAYMENTS, text: inbound([{ from: 'unknown', version: 'unknown', n: 4, security: 'none', ms: 20 }, { from: 'istio-ingressgateway-v1', version: 'v1', n: 3, security: 'mutual_tls' }]) }]);
    const edges = t.edges(5000).sort((a, b) => a.source.localeCompare(b.source));
    expect(edges.map((e) => [e.source, e.target, e.requests, e.mtls, e.reporter])).toEqual([
      ['istio-ingressgateway', 'payments:v2', 3, true, 'destination'],
      ['unknown', 'payments:v2', 4, false, 'destination'],
    ]);
    expect(edges[1].p99Ms).toBeCloseTo(24.85, 2);
  });

  test('version counts over the split window', () => {
    const t = new Telemetry();
    t.tick(0, [{ node: ORDERS, text: metrics(0, 0, 3) }]);
    t.tick(1000, [{ node: ORDERS, text: metrics(30, 3, 3) }]);
    expect(t.versionCounts('payments', 60000)).toEqual({ v2: 33 });
    expect(t.versionCounts('orders', 60000)).toEqual({});
  });

  test('histogram_quantile: interpolation, empty, and +Inf', () => {
    expect(histogramQuantile(0.5, { '10': 0, '20': 10, '+Inf': 10 })).toBe(15);
    expect(histogramQuantile(0.99, {})).toBeNull();
    expect(histogramQuantile(0.99, { '10': 0, '+Inf': 0 })).toBeNull();
    expect(histogramQuantile(0.99, { '10': 5, '100': 5, '+Inf': 10 })).toBe(100);
  });

  test('the Prometheus text parser reads labels with escapes and skips other metrics', () => {
    const out = parsePromText('# TYPE a counter\na{x="1",y="q\\"uote"} 3\nb 4\na 5\n', new Set(['a']));
    expect(out).toEqual([
      { name: 'a', key: '{x="1",y="q\\"uote"}', labels: { x: '1', y: 'q"uote' }, value: 3 },
      { name: 'a', key: '', labels: {}, value: 5 },
    ]);
  });
});

describe('scenario store', () => {
  test('start → events → report, persisted and read back; bad events rejected with what to send', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshlab-scen-'));
    try {
      const store = new ScenarioStore(dir);
      const run = store.apply({ type: 'start', scenario: 'baseline' }).run;
      store.apply({ type: 'progress', run, t: 500, series: 'orders', done: 10, ok: 9, failed: 1 });
      store.apply({ type: 'expectation', run, name: 'x', expected: '1', measured: '1', pass: true });
      expect(store.current()).toMatchObject({ run, state: 'running', verdict: [{ name: 'x', pass: true }] });
      expect(() => store.apply({ type: 'event', run: 'other', t: 1, label: 'x' })).toThrow(/unknown run "other"/);
      expect(() => store.apply({ type: 'event', run, t: 'soon' as unknown as number, label: 'x' })).toThrow(/"t" \(ms since start, number\)/);
      store.apply({ type: 'report', run, report: { scenario: 'baseline', passed: true, expectations: [{ name: 'x', expected: '1', measured: '1', pass: true }], invariants: [] } });
      const again = new ScenarioStore(dir);
      expect(again.get(run)).toMatchObject({ state: 'passed', progress: [{ t: 500, done: 10 }] });
      expect(again.summaries()).toHaveLength(1);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('traces and splits', () => {
  const span = (id: string, parent: string | null, node: string, start: number, us: number, url = '/orders') => ({ trace_id: 't1', span_id: id, parent_span_id: parent, name: 'x', service: node.split('-')[0], start, duration_us: us, status: 201, attributes: { 'http.url': url }, node });

  test('spans from several proxies become one waterfall with depths, newest trace first, filtered by path', () => {
    const spans = [span('b', 'a', 'orders-v1-0', 1001, 8000), span('a', null, 'gateway', 1000, 10000), { ...span('z', null, 'gateway', 2000, 500, '/notifications'), trace_id: 't2' }];
    const [t] = groupTraces(spans, { limit: 5, pathPrefix: '/orders' });
    expect(t).toMatchObject({ trace_id: 't1', url: '/orders', duration_us: 10000 });
    expect(t.spans.map((s) => [s.node, s.depth])).toEqual([['gateway', 0], ['orders-v1-0', 1]]);
    expect(groupTraces(spans, { limit: 5 }).map((x) => x.trace_id)).toEqual(['t2', 't1']);
  });

  test('Envoy\'s shared spans: a SERVER half sits under the CLIENT half with its id, and the calls it made under it; full http.url filtered by path', () => {
    const sp = (id: string, parent: string | null, node: string, start: number, shared?: boolean) => ({ ...span(id, parent, node, start, 1000, 'http://orders/orders'), shared });
    const spans = [sp('a', null, 'gateway', 1000), sp('a', null, 'orders-v1-0', 1001, true), sp('b', 'a', 'orders-v1-0', 1002), sp('b', 'a', 'payments-v1-0', 1003, true)];
    const [t] = groupTraces(spans, { limit: 5, pathPrefix: '/orders' });
    expect(t.url).toBe('/orders');
    expect(t.spans.map((s) => [s.node, s.span_id, s.depth])).toEqual([['gateway', 'a', 0], ['orders-v1-0', 'a', 1], ['orders-v1-0', 'b', 2], ['payments-v1-0', 'b', 3]]);
  });

  test('configured weights from the catch-all route, endpoint counts without a VirtualService', () => {
    const dr = { kind: 'DestinationRule', apiVersion: 'networking.istio.io/v1', metadata: { name: 'payments', namespace: 'default' }, spec: { host: 'payments', subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' } }] }, source: { file: 'x', line: 1, column: 1 } } as MeshResource;
    const ep = (instance: string, version: string) => ({ instance, service: 'payments', labels: { version }, host: '127.0.0.1', port: 1 });
    const endpoints = { payments: [ep('p1', 'v1'), ep('p2', 'v1'), ep('p3', 'v2')], orders: [] };
    const counts = () => ({ v1: 75, v2: 25 });
    expect(trafficSplits([dr], endpoints, counts)[0].rows).toEqual([
      { subset: 'v1', version: 'v1', configured: 66.7, measured: 75, endpoints: 2 },
      { subset: 'v2', version: 'v2', configured: 33.3, measured: 25, endpoints: 1 },
    ]);
    const vs = { ...dr, kind: 'VirtualService', metadata: { name: 'payments', namespace: 'default' }, spec: { hosts: ['payments'], http: [{ match: [{ headers: { canary: { exact: '1' } } }], route: [{ destination: { host: 'payments', subset: 'v2' } }] }, { route: [{ destination: { host: 'payments', subset: 'v1' }, weight: 90 }, { destination: { host: 'payments', subset: 'v2' }, weight: 10 }] }] } } as MeshResource;
    const split = trafficSplits([dr, vs], endpoints, () => ({}))[0];
    expect(split.source).toBe('VirtualService payments');
    expect(split.rows.map((r) => [r.subset, r.configured, r.measured])).toEqual([['v1', 90, null], ['v2', 10, null]]);
    expect(split.matchRoutes).toHaveLength(1);
  });
});
