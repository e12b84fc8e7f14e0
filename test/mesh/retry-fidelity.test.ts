import http from 'node:http';
import { Upstream, startSidecar, push, call, closeAgent, metric, adminGet } from './harness';
import { poolOptionsFor } from '../../mesh/upstream-host';
import { effectiveConnectionPool } from '../../mesh/config/effective';
import { REQUEST_LIMITS } from '../../mesh/http-connection-manager';
import type { Sidecar } from '../../mesh/sidecar/sidecar';

const vs = (retries: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: payments }
spec:
  hosts: [payments]
  http:
  - retries: ${retries}
    route: [{ destination: { host: payments } }]
`;
const dr = (trafficPolicy: string) => `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: payments }
spec:
  host: payments
  trafficPolicy:
${trafficPolicy}`;

/** A chunked POST (no content-length) through the outbound listener. */
function postChunked(port: number, path: string, parts: Buffer[]): Promise<{ status: number; flags?: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: 'POST', headers: { host: 'payments', 'transfer-encoding': 'chunked' } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
    });
    req.on('error', reject);
    for (const p of parts) req.write(p);
    req.end();
  });
}

describe('retries, retry buffer and pool timeouts as Envoy', () => {
  let sidecar: Sidecar;
  const a = new Upstream('payments-v1-0', 'v1');
  const port = () => sidecar.ports.outbound;
  const eps = () => ({ payments: [a.endpoint()] });
  /** First attempt of every request: 503; later attempts: 200 (after `slowMs` for /slow). */
  const failFirst = (slowMs = 0) => {
    a.behaviour = (req, res) => {
      if (req.headers['x-envoy-attempt-count'] === '1') return a.ok(res, 503);
      if (req.url === '/slow') return setTimeout(() => a.ok(res), slowMs);
      a.ok(res);
    };
  };

  beforeAll(async () => {
    await a.start();
    sidecar = await startSidecar();
  });
  afterAll(async () => {
    await sidecar.stop(200);
    await a.stop();
    closeAgent();
  });
  beforeEach(() => {
    a.seen = [];
    a.behaviour = (_req, res) => a.ok(res);
  });

  test('x-envoy-attempt-count is set, not appended: an app\'s own value is replaced, attempt 2 carries "2"', async () => {
    failFirst();
    push(sidecar, vs('{ attempts: 2, retryOn: 5xx }'), eps());
    const r = await call(port(), '/x', { headers: { 'x-envoy-attempt-count': '7' } });
    expect(r.status).toBe(200);
    expect(a.seen.map((s) => s.headers['x-envoy-attempt-count'])).toEqual(['1', '2']);
  });

  test('a chunked body is buffered and retried: the 2nd attempt gets all 300 KiB; so is a 300 KiB content-length body (over the old 64 KiB)', async () => {
    failFirst();
    push(sidecar, vs('{ attempts: 2, retryOn: 5xx }'), eps());
    const part = Buffer.alloc(100 * 1024, 'x');
    expect((await postChunked(port(), '/pay', [part, part, part])).status).toBe(200);
    expect(a.seen.map((s) => s.body.length)).toEqual([300 * 1024, 300 * 1024]);
    expect(sidecar.accessLog.entries(1)[0]).toMatchObject({ bytes_received: 300 * 1024, attempts: 2 });
    a.seen = [];
    const r = await call(port(), '/pay', { method: 'POST', body: 'y'.repeat(300 * 1024) });
    expect(r.status).toBe(200);
    expect(a.seen.map((s) => s.body.length)).toEqual([300 * 1024, 300 * 1024]);
  });

  test(`a chunked body over the ${REQUEST_LIMITS.retryBufferBytes / 1024 / 1024} MiB retry buffer streams through whole and is not retried`, async () => {
    failFirst();
    push(sidecar, vs('{ attempts: 2, retryOn: 5xx }'), eps());
    const part = Buffer.alloc(256 * 1024, 'z');
    const r = await postChunked(port(), '/big', [part, part, part, part, part]);
    expect(r.status).toBe(503);
    expect(a.seen.map((s) => s.body.length)).toEqual([5 * 256 * 1024]);
  });

  test('maxRetries 1 is held from the retry decision to the end of the retried attempt: a 2nd request\'s retry overflows (503, flag UO, counted)', async () => {
    failFirst(300);
    push(sidecar, dr('    connectionPool: { http: { maxRetries: 1 } }\n') + '---\n' + vs('{ attempts: 2, retryOn: 5xx }'), eps());
    const slow = call(port(), '/slow');
    await a.waitFor(2); // the retried attempt of /slow is in flight, its retry slot held
    const second = await call(port(), '/fast');
    expect(second.status).toBe(503);
    expect(sidecar.accessLog.entries(1)[0]).toMatchObject({ path: '/fast', response_flags: 'UO', attempts: 1 });
    expect((await slow).status).toBe(200);
    const m = await adminGet(sidecar, '/metrics');
    expect(metric(m, 'meshlab_upstream_rq_retry_overflow_total', { cluster: 'outbound|80||payments.default.svc.cluster.local' })).toBe(1);
  });

  test('idleTimeout of any length is the pool\'s idle timeout; unset it is Envoy\'s 1 h', () => {
    expect(poolOptionsFor(undefined)).toMatchObject({ keepAliveTimeout: 3_600_000, keepAliveMaxTimeout: 3_600_000 });
    expect(poolOptionsFor(effectiveConnectionPool({ http: { idleTimeout: '15m' } }))).toMatchObject({ keepAliveTimeout: 900_000, keepAliveMaxTimeout: 900_000 });
    expect(poolOptionsFor(effectiveConnectionPool({ http: { idleTimeout: '2s' } }))).toMatchObject({ keepAliveTimeout: 2000 });
  });
});
