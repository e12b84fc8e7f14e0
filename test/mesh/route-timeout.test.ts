import http from 'node:http';
import { Upstream, startSidecar, push, closeAgent } from './harness';
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
