import fs from 'node:fs';
import path from 'node:path';
import { World, tempWorldDir } from '../../world/world';
import { DEFAULT_TOPOLOGY, type Topology } from '../../world/topology';
import { eventually, json, ORDER } from '../support/http';
import type { ZipkinSpan } from '../../mesh/telemetry/zipkin';

/** Every hop the test needs with one payments instance: fewer processes to start on a busy machine. */
const ONE_PAYMENTS: Topology = { ...DEFAULT_TOPOLOGY, services: DEFAULT_TOPOLOGY.services.map((s) => (s.name === 'payments' ? { ...s, versions: { v1: 1 } } : s)) };

/**
 * The trace is the order: a world with a real Zipkin (the exec jar from Maven Central) and 100% sampling; one
 * order through the gateway is read back from Zipkin's HTTP API as one trace with every hop, Envoy's span shape
 * and Istio's tags, its durations nested as the calls were.
 */
describe('one order is one trace in the real Zipkin', () => {
  const dir = tempWorldDir('meshlab-obs-');
  let world: World;

  beforeAll(async () => {
    world = await World.start({ topology: ONE_PAYMENTS, dataDir: `${dir}/data`, logDir: `${dir}/logs`, chaosPort: false, observability: {}, tracing: { sampling: 100 }, env: { MESH_SEED: '5' } });
  }, 240_000);

  afterAll(async () => {
    await world?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  const zipkin = (p: string) => json(`${world.zipkinUrl}${p}`);

  /** The trace whose gateway span carries this request id (Zipkin's tag query), once every expected span arrived. */
  async function traceOf(requestId: string, minSpans: number): Promise<ZipkinSpan[]> {
    return eventually(
      `a trace with ≥ ${minSpans} spans for x-request-id ${requestId} in Zipkin`,
      async () => {
        const found = await zipkin(`/api/v2/traces?annotationQuery=${encodeURIComponent(`guid:x-request-id=${requestId}`)}&limit=5&lookback=600000`);
        const traces = found.body as ZipkinSpan[][];
        if (!Array.isArray(traces) || traces.length === 0) return undefined;
        const full = (await zipkin(`/api/v2/trace/${traces[0][0].traceId}`)).body as ZipkinSpan[];
        return full.length >= minSpans ? full : undefined;
      },
      30_000,
      250,
    );
  }

  test('gateway → orders → payments and the event to notifications: 6 spans of one trace, CLIENT/SERVER halves sharing ids, Istio tags, messaging spans, nested durations', async () => {
    const requestId = `trace-order-${Date.now()}`;
    const res = await json(`${world.gatewayUrl}/orders`, { body: ORDER, headers: { 'x-request-id': requestId } });
    expect(res.status).toBe(201);
    // gateway CLIENT, orders SERVER + CLIENT, payments SERVER, orders PRODUCER, notifications CONSUMER (the bus bypasses the sidecars).
    const spans = await traceOf(requestId, 6);
    expect(spans).toHaveLength(6);

    const by = (service: string, kind: string) => spans.filter((s) => s.localEndpoint.serviceName === service && s.kind === kind);
    const [gw] = by('istio-ingressgateway-v1', 'CLIENT');
    const [ordersIn] = by('orders-v1', 'SERVER');
    const [ordersOut] = by('orders-v1', 'CLIENT');
    const paymentsIn = spans.find((s) => s.localEndpoint.serviceName.startsWith('payments-') && s.kind === 'SERVER')!;
    expect([gw, ordersIn, ordersOut, paymentsIn].every(Boolean)).toBe(true);
    expect(new Set(spans.map((s) => s.traceId)).size).toBe(1);

    // Envoy's Zipkin tracer: egress is a child (new id), ingress shares its caller's span (same id and parent, shared).
    expect(gw.parentId).toBeUndefined();
    expect(ordersIn.id).toBe(gw.id);
    expect(ordersIn.shared).toBe(true);
    expect(ordersOut.parentId).toBe(ordersIn.id);
    expect(paymentsIn.id).toBe(ordersOut.id);
    expect(paymentsIn.parentId).toBe(ordersIn.id);

    // The event: orders' PRODUCER span under its SERVER span, notifications' CONSUMER span under (and linked to) it.
    const producer = spans.find((s) => s.kind === 'PRODUCER')!;
    const consumer = spans.find((s) => s.kind === 'CONSUMER')!;
    expect(producer).toMatchObject({ parentId: ordersIn.id, name: 'publish order.created', localEndpoint: { serviceName: 'orders-v1' }, tags: { 'messaging.system': 'memory', 'messaging.destination.name': 'order.created', 'messaging.operation': 'publish' } });
    expect(consumer).toMatchObject({ parentId: producer.id, name: 'process order.created', localEndpoint: { serviceName: 'notifications-v1' }, tags: { 'messaging.destination.name': 'order.created', 'messaging.operation': 'process', 'messaging.message.id': producer.tags['messaging.message.id'] } });
    expect(consumer.timestamp).toBeGreaterThanOrEqual(producer.timestamp - 1000);

    expect(gw.tags).toMatchObject({ 'http.method': 'POST', 'http.status_code': '201', response_flags: '-', 'istio.canonical_service': 'istio-ingressgateway', 'istio.mesh_id': 'cluster.local', 'guid:x-request-id': requestId });
    expect(gw.tags['http.url']).toMatch(/^http:\/\/[^/]+\/orders$/);
    expect(gw.tags.upstream_cluster).toContain('orders');
    expect(ordersOut.tags).toMatchObject({ 'http.method': 'POST', 'http.status_code': '201', 'istio.canonical_service': 'orders' });
    expect(ordersOut.tags['peer.address']).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(paymentsIn.tags['istio.canonical_service']).toBe('payments');
    expect(paymentsIn.tags['peer.address']).toMatch(/^127\.0\.0\.1:\d+$/);
    for (const s of spans) expect(s.tags.error).toBeUndefined();

    // Durations add up. Across processes only causality holds for the stamps (a busy scheduler can delay a
    // process's end stamp, never its start: a callee's start is stamped after the call arrived): every callee
    // starts after its caller started and before its caller ended (1 ms for the processes' clocks).
    const end = (s: ZipkinSpan): number => s.timestamp + s.duration;
    const startsWithin = (child: ZipkinSpan, parent: ZipkinSpan): void => {
      expect(child.timestamp).toBeGreaterThanOrEqual(parent.timestamp - 1000);
      expect(child.timestamp).toBeLessThanOrEqual(end(parent));
    };
    startsWithin(ordersIn, gw);
    startsWithin(ordersOut, ordersIn);
    startsWithin(paymentsIn, ordersOut);
    startsWithin(producer, ordersIn);
    // The event is asynchronous: the CONSUMER span may start after the PRODUCER span ended (the publish
    // returned before notifications polled it), so only its start after the producer's holds (checked above).
    // Within one process (orders' sidecar: one clock, one event loop) the inbound hop holds its outbound call
    // whole, and what is left is orders' own time (its app and its two listeners).
    expect(ordersOut.timestamp).toBeGreaterThanOrEqual(ordersIn.timestamp);
    expect(end(ordersOut)).toBeLessThanOrEqual(end(ordersIn));
    expect(ordersIn.duration - ordersOut.duration).toBeGreaterThan(0);
  });

  test('a caller with B3 headers joins its trace: the gateway span is the child of x-b3-spanid, x-b3-sampled: 0 exports nothing', async () => {
    const traceId = 'a1b2c3d4e5f60718a1b2c3d4e5f60718';
    const rid = `b3-${Date.now()}`;
    const res = await json(`${world.gatewayUrl}/orders`, { body: ORDER, headers: { 'x-request-id': rid, 'x-b3-traceid': traceId, 'x-b3-spanid': '1111111111111111', 'x-b3-sampled': '1' } });
    expect(res.status).toBe(201);
    const spans = await traceOf(rid, 6);
    expect(spans.every((s) => s.traceId === traceId)).toBe(true);
    expect(spans.find((s) => s.localEndpoint.serviceName === 'istio-ingressgateway-v1')!.parentId).toBe('1111111111111111');

    const unsampled = `b3-off-${Date.now()}`;
    expect((await json(`${world.gatewayUrl}/orders`, { body: ORDER, headers: { 'x-request-id': unsampled, 'x-b3-sampled': '0' } })).status).toBe(201);
    // The sampled request after it proves the pipeline has flushed past the unsampled one.
    const marker = `b3-marker-${Date.now()}`;
    expect((await json(`${world.gatewayUrl}/orders`, { body: ORDER, headers: { 'x-request-id': marker } })).status).toBe(201);
    await traceOf(marker, 6);
    const found = await zipkin(`/api/v2/traces?annotationQuery=${encodeURIComponent(`guid:x-request-id=${unsampled}`)}&lookback=600000`);
    expect(found.body).toEqual([]);
  });

  test('the real Prometheus scrapes the gateway, every sidecar and every app; every Grafana panel\'s PromQL answers; mTLS read from the destination reporter is 100% on orders → payments', async () => {
    const prom = async (query: string) => {
      const r = await json(`${world.prometheusUrl}/api/v1/query?query=${encodeURIComponent(query)}`);
      expect({ query, status: r.body.status, error: r.body.error }).toEqual({ query, status: 'success', error: undefined });
      return r.body.data.result as { metric: Record<string, string>; value: [number, string] }[];
    };
    const n = world.state().instances.length;
    // 1 gateway + n sidecars (job meshlab-sidecars) + n apps (meshlab-services), all up.
    const up = await eventually('every target up', async () => {
      const rows = await prom('up{job=~"meshlab-.*"}');
      return rows.length === 1 + 2 * n && rows.every((r) => r.value[1] === '1') ? rows : undefined;
    }, 20_000, 250);
    expect(up.filter((r) => r.metric.role === 'app')).toHaveLength(n);
    for (let i = 0; i < 10; i++) expect((await json(`${world.gatewayUrl}/orders`, { body: ORDER })).status).toBe(201);
    // The dashboards' PromQL, with Grafana's variables as a 1-minute window and "every" selection.
    const dir = path.join(__dirname, '..', '..', '..', 'deploy', 'grafana', 'dashboards');
    const exprs = fs.readdirSync(dir).filter((f) => f.endsWith('.json')).flatMap((f) => (JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as { panels: { targets: { expr: string }[] }[] }).panels.flatMap((p) => p.targets.map((t) => t.expr)));
    expect(exprs.length).toBeGreaterThanOrEqual(30);
    for (const e of exprs) await prom(e.replace(/\$__rate_interval/g, '1m').replace(/\$(service|workload)/g, '.*'));
    const mtls = await eventually('destination-reported orders → payments traffic in Prometheus', async () => {
      const rows = await prom('sum by (connection_security_policy) (increase(istio_requests_total{reporter="destination", source_workload="orders-v1", destination_service_name="payments"}[5m]))');
      return rows.length > 0 && Number(rows.find((r) => r.metric.connection_security_policy === 'mutual_tls')?.value[1] ?? 0) > 0 ? rows : undefined;
    }, 20_000, 250);
    expect(mtls.map((r) => r.metric.connection_security_policy)).toEqual(['mutual_tls']);
    // …while the source reporter cannot know (Istio's "unknown"): why the dashboard reads the destination.
    const src = await prom('istio_requests_total{reporter="source", source_workload="orders-v1", destination_service_name="payments"}');
    expect({ series: src.map((r) => r.metric), policies: [...new Set(src.map((r) => r.metric.connection_security_policy))] }).toMatchObject({ policies: ['unknown'] });
  });

  test('every sidecar and the gateway report their spans: Envoy counters move, nothing dropped or failed', async () => {
    const state = world.state();
    const admins = [state.processes.find((p) => p.role === 'gateway')!.ports.admin, ...state.instances.map((i) => i.sidecar.ports.admin)];
    let sent = 0;
    for (const port of admins) {
      const t = (await json(`http://127.0.0.1:${port}/tracing`)).body as { sampling: number; exporters: { kind: string; stats: { spansSent: number; spansDropped: number; reportsFailed: number } }[] };
      expect(t.sampling).toBe(100);
      expect(t.exporters.map((e) => e.kind)).toEqual(['zipkin']);
      expect(t.exporters[0].stats.spansDropped).toBe(0);
      expect(t.exporters[0].stats.reportsFailed).toBe(0);
      sent += t.exporters[0].stats.spansSent;
    }
    expect(sent).toBeGreaterThanOrEqual(10);
  });
});
