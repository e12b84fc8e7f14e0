import http from 'node:http';
import { Upstream, startSidecar, push, call, closeAgent } from './harness';
import type { Sidecar } from '../../mesh/sidecar/sidecar';

/**
 * Envoy's route timeout starts when the downstream request is complete (router.cc onRequestComplete creates
 * response_timeout_): the time a client takes to upload its body is not the upstream's.
 */

const vs = (timeout: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: payments }
spec:
  hosts: [payments]
  http:
  - timeout: ${timeout}
    retries: { attempts: 0 }
    route: [{ destination: { host: payments } }]
`;

/** A chunked POST whose 4 parts are written `gapMs` apart (a slow client), then the status. */
function slowUpload(port: number, path: string, gapMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: 'POST', agent: false, headers: { host: 'payments', 'transfer-encoding': 'chunked' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    let sent = 0;
    const next = (): void => {
      req.write(Buffer.alloc(1000, 'u'));
      if (++sent === 4) return void req.end();
      setTimeout(next, gapMs); // the client's own pace: the point of the test, not a wait for an event
    };
    next();
  });
}

describe('route timeout', () => {
  let sidecar: Sidecar;
  const a = new Upstream('payments-v1-0', 'v1');

  beforeAll(async () => {
    await a.start();
    sidecar = await startSidecar();
  });
  afterAll(async () => {
    await sidecar.stop(200);
    await a.stop();
    closeAgent();
  });

  test('a 300 ms route timeout does not count a client\'s 3 × 200 ms upload: the body streams through, 200, all 4,000 bytes', async () => {
    push(sidecar, vs('0.3s'), { payments: [a.endpoint()] });
    expect(await slowUpload(sidecar.ports.outbound, '/upload', 200)).toBe(200);
    expect(a.seen.at(-1)?.body.length).toBe(4000);
    expect(sidecar.accessLog.entries().filter((e) => e.path === '/upload')[0]).toMatchObject({ response_code: 200, response_flags: '-' });
  });

  test('a 300 ms perTryTimeout does not count the upload either (Envoy arms it on request complete too): 200', async () => {
    push(sidecar, vs('0s').replace('retries: { attempts: 0 }', 'retries: { attempts: 0, perTryTimeout: 0.3s }'), { payments: [a.endpoint()] });
    expect(await slowUpload(sidecar.ports.outbound, '/upload-per-try', 200)).toBe(200);
    expect(a.seen.at(-1)?.body.length).toBe(4000);
  });

  test('a small body that arrived whole while its request waits for a pooled connection: the timeout runs from then (504 UT at 300 ms)', async () => {
    // maxConnections 1: the first request holds the only connection (the upstream never answers it); the second waits
    // in the pending queue with its body received but not yet read by any attempt. Envoy has it complete: 504 UT.
    const hung: http.ServerResponse[] = [];
    a.behaviour = (_req, res) => void hung.push(res);
    const dr = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: payments }
spec:
  host: payments
  trafficPolicy: { connectionPool: { tcp: { maxConnections: 1 }, http: { http1MaxPendingRequests: 10 } } }
`;
    try {
      // The first request's route times out at 1 s, the second's at 300 ms: waiting for the first would show as ≥ 1.3 s.
      const routes = vs('0.3s').replace('  http:\n', '  http:\n  - match: [{ uri: { prefix: /holds } }]\n    timeout: 1s\n    retries: { attempts: 0 }\n    route: [{ destination: { host: payments } }]\n');
      push(sidecar, `${dr}---\n${routes}`, { payments: [a.endpoint()] });
      const post = (path: string) => call(sidecar.ports.outbound, path, { method: 'POST', body: '{"amount":5}', headers: { 'content-type': 'application/json' } });
      const first = post('/holds-the-connection');
      await a.waitFor(a.seen.length + 1);
      const second = await post('/waits-pending');
      expect(second.status).toBe(504);
      const waited = sidecar.accessLog.entries().filter((e) => e.path === '/waits-pending')[0];
      expect(waited).toMatchObject({ response_code: 504, response_flags: 'UT' });
      // 300 ms from its own arrival (timers may fire ~1 ms early), not 300 ms after the first one freed the connection.
      expect(waited.duration_ms).toBeGreaterThanOrEqual(299);
      expect(waited.duration_ms).toBeLessThan(800);
      expect((await first).status).toBe(504);
    } finally {
      a.behaviour = (_req, res) => a.ok(res);
      for (const res of hung) res.destroy();
    }
  });

  test('once the body is in, the timeout runs: an upstream 1 s slow after the same upload is 504 UT', async () => {
    a.behaviour = (_req, res) => setTimeout(() => a.ok(res), 1000);
    try {
      push(sidecar, vs('0.3s'), { payments: [a.endpoint()] });
      expect(await slowUpload(sidecar.ports.outbound, '/slow-upstream', 50)).toBe(504);
      expect(sidecar.accessLog.entries().filter((e) => e.path === '/slow-upstream')[0]).toMatchObject({ response_code: 504, response_flags: 'UT' });
    } finally {
      a.behaviour = (_req, res) => a.ok(res);
    }
  });
});
