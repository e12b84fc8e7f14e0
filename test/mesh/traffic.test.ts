import { Upstream, startSidecar, push, call, many, closeAgent, adminGet, metric } from './harness';
import type { Sidecar } from '../../mesh/sidecar/sidecar';

const DR = `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: payments }
spec:
  host: payments
  subsets:
  - { name: v1, labels: { version: v1 } }
  - { name: v2, labels: { version: v2 } }
`;

/** Routing end to end through real sockets: client → sidecar outbound listener → upstream servers. */
describe('traffic policies through a sidecar', () => {
  let sidecar: Sidecar;
  const v1a = new Upstream('payments-v1-0', 'v1');
  const v1b = new Upstream('payments-v1-1', 'v1');
  const v2 = new Upstream('payments-v2-0', 'v2');
  const eps = () => ({ payments: [v1a.endpoint(), v1b.endpoint(), v2.endpoint()] });
  const port = () => sidecar.ports.outbound;
  const reset = () => {
    for (const u of [v1a, v1b, v2]) {
      u.seen = [];
      u.behaviour = (_req, res) => u.ok(res);
    }
  };

  beforeAll(async () => {
    process.env.MESH_SEED = '42';
    await Promise.all([v1a.start(), v1b.start(), v2.start()]);
    sidecar = await startSidecar();
  });
  afterAll(async () => {
    await sidecar.stop(200);
    await Promise.all([v1a.stop(), v1b.stop(), v2.stop()]);
    closeAgent();
    delete process.env.MESH_SEED;
  });
  beforeEach(reset);

  test('90/10 split over 2,000 requests lands within ±3 points (seed 42); a header match sends 100% to v2', async () => {
    push(
      sidecar,
      DR +
        `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: payments }
spec:
  hosts: [payments]
  http:
  - match: [{ headers: { end-user: { exact: jason } } }]
    route: [{ destination: { host: payments, subset: v2 } }]
  - route:
    - { destination: { host: payments, subset: v1 }, weight: 90 }
    - { destination: { host: payments, subset: v2 }, weight: 10 }
`,
      eps(),
    );
    const answers = await many(2000, 32, () => call(port(), '/payments/validate'));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    const toV2 = answers.filter((a) => JSON.parse(a.body).instance === 'payments-v2-0').length;
    expect(Math.abs((100 * toV2) / 2000 - 10)).toBeLessThanOrEqual(3);
    expect(v1a.seen.length + v1b.seen.length + v2.seen.length).toBe(2000);

    const jason = await many(200, 16, () => call(port(), '/payments/validate', { headers: { 'end-user': 'jason' } }));
    expect(jason.map((a) => JSON.parse(a.body).instance)).toEqual(Array(200).fill('payments-v2-0'));
  });

  test('weights need not sum to 100 and weight 0 gets nothing; a host with routes but no match is 404 NR', async () => {
    push(
      sidecar,
      DR +
        `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: payments }
spec:
  hosts: [payments]
  http:
  - match: [{ uri: { prefix: /payments } }]
    route:
    - { destination: { host: payments, subset: v1 }, weight: 0 }
    - { destination: { host: payments, subset: v2 }, weight: 3 }
`,
      eps(),
    );
    const answers = await many(100, 10, () => call(port(), '/payments/x'));
    expect(new Set(answers.map((a) => JSON.parse(a.body).instance))).toEqual(new Set(['payments-v2-0']));
    const nr = await call(port(), '/other');
    expect(nr.status).toBe(404);
    const log = sidecar.accessLog.entries(5);
    expect(log[log.length - 1]).toMatchObject({ response_code: 404, response_flags: 'NR' });
  });

  test('mirror: a copy goes to v2 with the Host unchanged (Istio disables the -shadow suffix) and the caller never waits for it', async () => {
    v2.behaviour = (_req, res) => setTimeout(() => v2.ok(res), 1500);
    push(
      sidecar,
      DR +
        `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: payments }
spec:
  hosts: [payments]
  http:
  - route: [{ destination: { host: payments, subset: v1 } }]
    mirror: { host: payments, subset: v2 }
    mirrorPercentage: { value: 100 }
`,
      eps(),
    );
    const a = await call(port(), '/payments', { method: 'POST', body: '{"amount":5}', headers: { 'content-type': 'application/json' } });
    expect(a.status).toBe(200);
    expect(a.ms).toBeLessThan(500);
    expect(JSON.parse(a.body).instance).toMatch(/^payments-v1-/);
    await v2.waitFor(1);
    expect(v2.seen).toHaveLength(1);
    expect(v2.seen[0].headers.host).toBe('payments');
    expect(v2.seen[0].body).toBe('{"amount":5}');
  });

  test('header operations (route and destination level), x-envoy-attempt-count and traceparent reach the upstream', async () => {
    push(
      sidecar,
      DR +
        `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: payments }
spec:
  hosts: [payments]
  http:
  - headers:
      request: { set: { x-route: r1 }, remove: [x-secret] }
      response: { add: { x-served-by: mesh }, remove: [x-powered-by] }
    route:
    - destination: { host: payments, subset: v2 }
      headers: { request: { add: { x-dest: v2 } } }
`,
      eps(),
    );
    v2.behaviour = (_req, res) => {
      res.setHeader('x-powered-by', 'test');
      v2.ok(res);
    };
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const a = await call(port(), '/p', { headers: { 'x-secret': 's', 'x-route': 'client', traceparent: `00-${traceId}-00f067aa0ba902b7-01` } });
    expect(a.status).toBe(200);
    expect(a.headers['x-served-by']).toBe('mesh');
    expect(a.headers['x-powered-by']).toBeUndefined();
    const h = v2.seen[0].headers;
    expect(h['x-route']).toBe('r1');
    expect(h['x-secret']).toBeUndefined();
    expect(h['x-dest']).toBe('v2');
    expect(h['x-envoy-attempt-count']).toBe('1');
    const tp = String(h.traceparent);
    expect(tp).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    const spanId = tp.split('-')[2];
    expect(spanId).not.toBe('00f067aa0ba902b7');
    const spans = JSON.parse(await adminGet(sidecar, `/traces?trace_id=${traceId}`));
    expect(spans).toEqual([expect.objectContaining({ trace_id: traceId, span_id: spanId, parent_span_id: '00f067aa0ba902b7', service: 'orders', status: 200 })]);
  });

  test('fault delay 100 ms at 50% delays 50% ± 5 points of 1,000 requests by ≥ 100 ms (flag DI)', async () => {
    push(
      sidecar,
      `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: payments }
spec:
  hosts: [payments]
  http:
  - fault: { delay: { fixedDelay: 100ms, percentage: { value: 50 } } }
    route: [{ destination: { host: payments } }]
`,
      eps(),
    );
    const answers = await many(1000, 25, (i) => call(port(), '/p', { headers: { 'x-request-id': `fd-${i}` } }));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    const di = new Set(sidecar.accessLog.entries(1000).filter((e) => e.response_flags === 'DI').map((e) => e.x_request_id));
    expect(Math.abs(di.size / 10 - 50)).toBeLessThanOrEqual(5);
    const delayed = answers.filter((_, i) => di.has(`fd-${i}`));
    const direct = answers.filter((_, i) => !di.has(`fd-${i}`)).map((a) => a.ms).sort((a, b) => a - b);
    const slow = delayed.map((a) => a.ms).sort((a, b) => a - b);
    // Every delayed request took ≥ 100 ms as the client measured it (1 ms of timer rounding allowed)…
    expect(Math.min(...delayed.map((a) => a.ms))).toBeGreaterThanOrEqual(99);
    // …and the others were not: their median is at least 80 ms below the delayed ones' (robust to machine load, which shifts both).
    expect(slow[Math.floor(slow.length / 2)] - direct[Math.floor(direct.length / 2)]).toBeGreaterThan(80);
  });

  test('fault abort answers with the status and flag FI, and is never retried', async () => {
    push(
      sidecar,
      `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: payments }
spec:
  hosts: [payments]
  http:
  - fault: { abort: { httpStatus: 503, percentage: { value: 100 } } }
    retries: { attempts: 3, retryOn: 5xx }
    route: [{ destination: { host: payments } }]
`,
      eps(),
    );
    const a = await call(port(), '/p');
    expect(a.status).toBe(503);
    expect(a.body).toBe('fault filter abort');
    expect(v1a.seen.length + v1b.seen.length + v2.seen.length).toBe(0);
    const last = sidecar.accessLog.entries(1)[0];
    expect(last).toMatchObject({ response_code: 503, response_flags: 'FI', attempts: 0 });
    const m = await adminGet(sidecar, '/metrics');
    expect(metric(m, 'istio_requests_total', { response_code: '503', response_flags: 'FI' })).toBe(1);
  });

  test('consistent hash on an httpCookie with a ttl: the sidecar sets the cookie (Set-Cookie, Max-Age, Path, HttpOnly) and 10 requests carrying it stick to one host', async () => {
    reset();
    push(sidecar, `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: payments }
spec:
  host: payments
  trafficPolicy:
    loadBalancer:
      consistentHash:
        httpCookie: { name: user, path: /, ttl: 60s }
`, eps());
    const first = await call(port(), '/p');
    const setCookie = first.headers['set-cookie'];
    expect(setCookie).toHaveLength(1);
    expect(setCookie![0]).toMatch(/^user="[0-9a-f]{16}"; Max-Age=60; Path=\/; HttpOnly$/);
    const cookie = setCookie![0].split(';')[0];
    const owner = JSON.parse(first.body).instance;
    const next = await many(10, 2, () => call(port(), '/p', { headers: { cookie } }));
    expect(new Set(next.map((r) => JSON.parse(r.body).instance))).toEqual(new Set([owner]));
    expect(next.every((r) => r.headers['set-cookie'] === undefined)).toBe(true);
  });
});
