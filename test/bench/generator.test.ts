import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { runOpenLoop } from '../../bench/generator';

/**
 * Calls `then` once at least `ms` have passed on the monotonic clock the generator measures with.
 * A Node timer alone can fire early against it (seen: 299.657 ms for setTimeout(…, 300)), which made
 * the stalled request's latency fall under its 300 ms lower bound; the remainder is waited out.
 */
function holdAtLeast(ms: number, then: () => void): void {
  const until = process.hrtime.bigint() + BigInt(ms * 1e6);
  const check = (): void => {
    const leftNs = until - process.hrtime.bigint();
    if (leftNs <= 0n) then();
    else setTimeout(check, Math.ceil(Number(leftNs) / 1e6));
  };
  setTimeout(check, ms);
}

/** The open-loop generator against local servers: exact request counts, response framing, and coordinated-omission correction. */
describe('runOpenLoop', () => {
  let server: http.Server;
  let port = 0;
  let seen = 0;
  /** Request number (1-based) that the server holds for `stallMs` before answering. */
  let stallAt = 0;
  let stallMs = 0;

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      seen++;
      const n = seen;
      const answer = (): void => {
        if (req.url === '/chunked') {
          res.writeHead(200, { 'content-type': 'text/plain' }); // no content-length: chunked
          res.write('a'.repeat(100));
          res.end('b'.repeat(50));
        } else if (req.url === '/close') {
          res.writeHead(200, { 'content-length': 2, connection: 'close' });
          res.end('ok');
        } else if (req.url === '/missing') {
          res.writeHead(404, { 'content-length': 0 });
          res.end();
        } else {
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': 11 });
          res.end('{"ok":true}');
        }
      };
      if (n === stallAt) holdAtLeast(stallMs, answer);
      else answer();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  beforeEach(() => {
    seen = 0;
    stallAt = 0;
  });

  test('sends exactly rate × duration requests at the intended pace and records each', async () => {
    const t0 = Date.now();
    const r = await runOpenLoop({ host: '127.0.0.1', port, rate: 200, durationMs: 500, concurrency: 4 });
    const wall = Date.now() - t0;
    expect(r.intended).toBe(100);
    expect(r.completed).toBe(100);
    expect(seen).toBe(100);
    expect(r.errors).toBe(0);
    expect(r.statuses).toEqual({ '200': 100 });
    expect(r.latency.count).toBe(100);
    expect(r.latency.p50).toBeGreaterThan(0);
    expect(r.latency.p50).toBeLessThanOrEqual(r.latency.p99);
    expect(r.latency.p99).toBeLessThanOrEqual(r.latency.max);
    // Open loop on an absolute schedule: the last request is intended at 495 ms; allow 1 s for a loaded machine.
    expect(wall).toBeGreaterThanOrEqual(495);
    expect(wall).toBeLessThan(1500);
    expect(typeof r.histogram).toBe('string');
  });

  test('parses chunked bodies and Connection: close, counts 4xx as errors', async () => {
    const chunked = await runOpenLoop({ host: '127.0.0.1', port, path: '/chunked', rate: 100, durationMs: 200, concurrency: 2 });
    expect(chunked).toMatchObject({ completed: 20, errors: 0, statuses: { '200': 20 } });
    const close = await runOpenLoop({ host: '127.0.0.1', port, path: '/close', rate: 100, durationMs: 200, concurrency: 2 });
    expect(close).toMatchObject({ completed: 20, errors: 0, statuses: { '200': 20 } });
    const missing = await runOpenLoop({ host: '127.0.0.1', port, path: '/missing', rate: 100, durationMs: 100, concurrency: 2 });
    expect(missing).toMatchObject({ completed: 10, errors: 10, statuses: { '404': 10 } });
  });

  test('a connection error is an error, not a hang', async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const deadPort = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const r = await runOpenLoop({ host: '127.0.0.1', port: deadPort, rate: 100, durationMs: 100, concurrency: 2, timeoutMs: 1000 });
    expect(r.completed).toBe(10);
    expect(r.errors).toBe(10);
    expect(Object.keys(r.errorKinds).join(' ')).toMatch(/ECONNREFUSED/);
  });

  test('coordinated omission is corrected: requests queued behind a stall count their wait from the intended time', async () => {
    // 100 rps on one connection; request 10 (intended at 90 ms) is held 300 ms. Requests intended at
    // 100..290 ms wait behind it and finish ≥ 100 ms after their intended time: with the stalled one,
    // 21 of 100 are ≥ 100 ms, so p90 ≥ 100 ms. A closed-loop tool would record one slow request.
    stallAt = 10;
    stallMs = 300;
    const r = await runOpenLoop({ host: '127.0.0.1', port, rate: 100, durationMs: 1000, concurrency: 1 });
    expect(r.completed).toBe(100);
    expect(r.errors).toBe(0);
    expect(r.latency.max).toBeGreaterThanOrEqual(300_000);
    expect(r.latency.p90).toBeGreaterThanOrEqual(100_000);
    // Lower bounds only (a slower machine can only add latency): the stalled request (intended at 90 ms, done after
    // 390 ms) and the 30 queued behind it (intended 100..390 ms) sum to ≥ 300 + 290 + … + 0 = 4.65 s over 100
    // requests, a mean ≥ 46.5 ms; a closed-loop count would average a few ms.
    expect(r.latency.mean).toBeGreaterThanOrEqual(45_000);
    expect(r.sendLag.max).toBeGreaterThanOrEqual(200_000); // the queued requests went out late, and that was measured
  });

  test('rejects a non-positive rate with the field named', () => {
    expect(() => runOpenLoop({ host: '127.0.0.1', port, rate: 0, durationMs: 100 })).toThrow(/rate must be a positive number/);
  });
});
