import { Upstream, startSidecar, push, call, many, closeAgent, adminGet, metric } from './harness';
import type { Sidecar } from '../../mesh/sidecar/sidecar';

const vs = (http: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: payments }
spec:
  hosts: [payments]
  http:
${http}`;
const dr = (trafficPolicy: string) => `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: payments }
spec:
  host: payments
  trafficPolicy:
${trafficPolicy}`;

/** Resilience end to end through real sockets. */
describe('resilience policies through a sidecar', () => {
  let sidecar: Sidecar;
  const a = new Upstream('payments-v1-0', 'v1');
  const b = new Upstream('payments-v1-1', 'v1');
  const eps = () => ({ payments: [a.endpoint(), b.endpoint()] });
  const port = () => sidecar.ports.outbound;

  beforeAll(async () => {
    await Promise.all([a.start(), b.start()]);
    sidecar = await startSidecar();
  });
  afterAll(async () => {
    await sidecar.stop(200);
    await Promise.all([a.stop(), b.stop()]);
    closeAgent();
  });
  beforeEach(() => {
    for (const u of [a, b]) {
      u.seen = [];
      u.behaviour = (_req, res) => u.ok(res);
    }
  });

  test('outlier detection: after the 5th consecutive 5xx nothing reaches A until the first sweep after 500 ms; re-ejected within one interval of its return (before the backoff decays), the 2nd ejection lasts 1000 ms', async () => {
    push(sidecar, dr(`    loadBalancer: { simple: ROUND_ROBIN }
    outlierDetection: { consecutive5xxErrors: 5, interval: 500ms, baseEjectionTime: 500ms, maxEjectionPercent: 100 }
`), eps());
    a.behaviour = (_req, res) => a.ok(res, 500);
    const gaps: number[] = [];
    let lastA = 0;
    let failsInRow = 0;
    const deadline = Date.now() + 8000;
    while (gaps.length < 2 && Date.now() < deadline) {
      const before = a.seen.length;
      await call(port(), '/p');
      if (a.seen.length > before) {
        const at = a.seen[a.seen.length - 1].at;
        if (failsInRow === 5) gaps.push(at - lastA);
        failsInRow = failsInRow === 5 ? 1 : failsInRow + 1;
        lastA = at;
      }
    }
    // Ejected at the 5th failure; back at the first 500 ms sweep ≥ 500 ms later: gap in [500, 1000) + scheduling slack.
    // Envoy takes one step of backoff off a host back for one interval, so the 2nd ejection is 2 × base only
    // because A fails 5 times within 500 ms of its return.
    console.log(`outlier gaps ${gaps.join(", ")} ms`);
    expect(gaps[0]).toBeGreaterThanOrEqual(500);
    expect(gaps[0]).toBeLessThan(1160);
    expect(gaps[1]).toBeGreaterThanOrEqual(1000);
    expect(gaps[1]).toBeLessThan(1660);
    const m = await adminGet(sidecar, '/metrics');
    expect(metric(m, 'meshlab_outlier_ejections_total', { cluster: 'outbound|80||payments.default.svc.cluster.local', host: 'payments-v1-0' })).toBe(2);
  });

  test('all hosts ejected → 503 UH "no healthy upstream"', async () => {
    push(sidecar, dr(`    outlierDetection: { consecutive5xxErrors: 1, interval: 10s, baseEjectionTime: 30s, maxEjectionPercent: 100 }
`), eps());
    a.behaviour = (_req, res) => a.ok(res, 500);
    b.behaviour = (_req, res) => b.ok(res, 500);
    // Settings changed (new outlier block): fresh cluster state. Two failures eject both.
    const answers = await many(4, 1, () => call(port(), '/p'));
    expect(answers.map((x) => x.status)).toEqual([500, 500, 503, 503]);
    expect(answers[3].body).toBe('no healthy upstream');
    expect(sidecar.accessLog.entries(1)[0].response_flags).toBe('UH');
  });

  test('maxConnections 1 + http1MaxPendingRequests 1: 3 concurrent callers → one 503 UO per round, counted in metrics', async () => {
    push(sidecar, dr(`    connectionPool: { tcp: { maxConnections: 1 }, http: { http1MaxPendingRequests: 1 } }
`), eps());
    for (const u of [a, b]) u.behaviour = (_req, res) => setTimeout(() => u.ok(res), 150);
    const statuses: number[] = [];
    let overloaded = 0;
    for (let round = 0; round < 4; round++) {
      const answers = await Promise.all([0, 1, 2].map(() => call(port(), '/p')));
      statuses.push(...answers.map((x) => x.status).sort());
      overloaded += answers.filter((x) => x.headers['x-envoy-overloaded'] === 'true').length;
    }
    expect(statuses).toEqual([200, 200, 503, 200, 200, 503, 200, 200, 503, 200, 200, 503]);
    expect(overloaded).toBe(4);
    expect(sidecar.accessLog.entries(12).filter((e) => e.response_flags === 'UO')).toHaveLength(4);
    const m = await adminGet(sidecar, '/metrics');
    expect(metric(m, 'meshlab_upstream_rq_pending_overflow_total', { cluster: 'outbound|80||payments.default.svc.cluster.local' })).toBe(4);
    expect(metric(m, 'istio_requests_total', { response_code: '503', response_flags: 'UO' })).toBe(4);
  });

  test('a transient 503 is masked by retryOn 5xx (retry to the other host) and never by the default policy', async () => {
    let armed = true;
    a.behaviour = (_req, res) => {
      if (armed) {
        armed = false;
        return a.ok(res, 503);
      }
      a.ok(res);
    };
    push(sidecar, dr(`    loadBalancer: { simple: ROUND_ROBIN }
`) + '---\n' + vs(`  - retries: { attempts: 2, retryOn: 5xx }
    route: [{ destination: { host: payments } }]
`), eps());
    // Round robin starts at A for a fresh cluster.
    const r = await call(port(), '/p', { method: 'POST', body: '{"amount":1}', headers: { 'content-type': 'application/json' } });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).instance).toBe('payments-v1-1');
    expect(a.seen).toHaveLength(1);
    expect(b.seen).toHaveLength(1);
    expect(b.seen[0].headers['x-envoy-attempt-count']).toBe('2');
    expect(b.seen[0].body).toBe('{"amount":1}');
    expect(sidecar.accessLog.entries(1)[0]).toMatchObject({ response_code: 200, attempts: 2, upstream_instance: 'payments-v1-1' });
    const m = await adminGet(sidecar, '/metrics');
    expect(metric(m, 'meshlab_upstream_rq_retry_total', { cluster: 'outbound|80||payments.default.svc.cluster.local' })).toBe(1);

    // Default policy (no retries block): the 503 reaches the client, exactly one upstream attempt.
    armed = true;
    a.seen = [];
    b.seen = [];
    push(sidecar, dr(`    loadBalancer: { simple: RANDOM }
`) + '---\n' + vs(`  - route: [{ destination: { host: payments } }]
`), { payments: [a.endpoint()] });
    const d = await call(port(), '/p');
    expect(d.status).toBe(503);
    expect(a.seen).toHaveLength(1);
    expect(sidecar.accessLog.entries(1)[0]).toMatchObject({ response_code: 503, attempts: 1, response_flags: '-' });
  });

  test('the default policy retries a connect failure on another host', async () => {
    const dead = { instance: 'payments-dead', service: 'payments', labels: { version: 'v1' }, host: '127.0.0.1', port: 9 };
    push(sidecar, dr(`    loadBalancer: { simple: ROUND_ROBIN }
`), { payments: [dead, a.endpoint()] });
    const r = await call(port(), '/p');
    expect(r.status).toBe(200);
    expect(sidecar.accessLog.entries(1)[0]).toMatchObject({ attempts: 2, upstream_instance: 'payments-v1-0' });
    push(sidecar, '', { payments: [dead] });
    const f = await call(port(), '/p');
    expect(f.status).toBe(503);
    expect(sidecar.accessLog.entries(1)[0]).toMatchObject({ attempts: 3, response_flags: 'UF,URX' }); // Envoy's flag order
  });

  test('route timeout 1 s with a 3 s upstream answers 504 UT in 1 s ± 100 ms, not retried', async () => {
    for (const u of [a, b]) u.behaviour = (_req, res) => setTimeout(() => u.ok(res), 3000);
    push(sidecar, vs(`  - timeout: 1s
    retries: { attempts: 3, retryOn: 5xx }
    route: [{ destination: { host: payments } }]
`), eps());
    const r = await call(port(), '/p');
    expect(r.status).toBe(504);
    expect(r.body).toBe('upstream request timeout');
    expect(Math.abs(r.ms - 1000)).toBeLessThanOrEqual(100);
    expect(a.seen.length + b.seen.length).toBe(1);
    expect(sidecar.accessLog.entries(1)[0].response_flags).toBe('UT');
  });

  test('a host slowed only past the route timeout is ejected: the route timeout counts as a local-origin 504 (B gets 2 of 8 requests, then all go to A)', async () => {
    b.behaviour = (_req, res) => setTimeout(() => b.ok(res), 3000);
    push(sidecar, dr(`    loadBalancer: { simple: ROUND_ROBIN }
    outlierDetection: { consecutive5xxErrors: 2, interval: 10s, baseEjectionTime: 30s, maxEjectionPercent: 100 }
`) + '---\n' + vs(`  - timeout: 1s
    retries: { attempts: 0 }
    route: [{ destination: { host: payments } }]
`), eps());
    const answers = await many(8, 1, () => call(port(), '/p'));
    // Counted at the hosts, not by status: B saw its 2 requests (both cut at 1 s), A every other one.
    expect([b.seen.length, a.seen.length]).toEqual([2, 6]);
    expect(answers.filter((x) => x.status === 504).length).toBeGreaterThanOrEqual(2);
    const clusters = JSON.parse(await adminGet(sidecar, '/clusters')) as { name: string; hosts: { instance: string; ejected: boolean }[] }[];
    const host = clusters.find((c) => c.name === 'outbound|80||payments.default.svc.cluster.local')!.hosts.find((h) => h.instance === 'payments-v1-1')!;
    expect(host.ejected).toBe(true);
  });

  test('perTryTimeout: each try is cut at 200 ms and retried on the other host', async () => {
    a.behaviour = (_req, res) => setTimeout(() => a.ok(res), 2000);
    push(sidecar, dr(`    loadBalancer: { simple: ROUND_ROBIN }
`) + '---\n' + vs(`  - timeout: 2s
    retries: { attempts: 2, perTryTimeout: 200ms, retryOn: 5xx }
    route: [{ destination: { host: payments } }]
`), eps());
    const r = await call(port(), '/p');
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).instance).toBe('payments-v1-1');
    expect(r.ms).toBeGreaterThanOrEqual(200);
    expect(r.ms).toBeLessThan(600);
  });

  test('a config push never fails an in-flight request; a snapshot that does not compile is refused and the old config stays', async () => {
    a.behaviour = (_req, res) => setTimeout(() => a.ok(res), 400);
    b.behaviour = (_req, res) => setTimeout(() => b.ok(res), 400);
    push(sidecar, dr(`    loadBalancer: { simple: ROUND_ROBIN }
`), eps());
    const inflight = many(6, 6, () => call(port(), '/p'));
    await new Promise((r) => setTimeout(r, 100));
    push(sidecar, dr(`    loadBalancer: { simple: RANDOM }
    connectionPool: { http: { maxRequestsPerConnection: 10 } }
`), { payments: [b.endpoint()] });
    expect((await inflight).map((x) => x.status)).toEqual([200, 200, 200, 200, 200, 200]);

    const before = sidecar.snapshot!.version;
    expect(() => push(sidecar, vs(`  - retries: { attempts: 2, retryOn: "5xx,whenever" }
    route: [{ destination: { host: payments } }]
`), eps())).toThrow(/unknown retryOn token "whenever"/);
    expect(sidecar.snapshot!.version).toBe(before);
    b.behaviour = (_req, res) => b.ok(res);
    expect((await call(port(), '/p')).status).toBe(200);
  });
});
