import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { REQUEST_LIMITS } from '../../mesh/http-connection-manager';
import { startSidecar, push, closeAgent } from './harness';
import type { Sidecar } from '../../mesh/sidecar/sidecar';

/** Streams `total` bytes as a chunked body (no Content-Length) and resolves with the status the sidecar answered. */
function sendChunked(port: number, total: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/pay', headers: { host: 'payments', 'transfer-encoding': 'chunked' }, agent: false });
    let status = 0;
    req.on('response', (res) => {
      status = res.statusCode ?? 0;
      res.resume();
      res.on('end', () => resolve(status));
    });
    req.on('error', (err) => (status ? resolve(status) : reject(err)));
    const chunk = Buffer.alloc(64 * 1024, 97);
    let sent = 0;
    const pump = (): void => {
      while (sent < total) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
}

describe('a sidecar limits chunked request bodies as it limits Content-Length ones', () => {
  let sidecar: Sidecar;
  let upstream: http.Server;
  /** Bytes the upstream read, per request: an earlier test's cut request may still be draining into the upstream. */
  let requests: { bytes: number }[] = [];
  let completed = 0;
  const received = (): number => requests.reduce((sum, r) => sum + r.bytes, 0);

  beforeAll(async () => {
    upstream = http.createServer((req, res) => {
      const mine = { bytes: 0 };
      requests.push(mine);
      req.on('data', (c: Buffer) => (mine.bytes += c.length));
      req.on('end', () => {
        completed++;
        res.writeHead(200, { 'content-length': 2 }).end('ok');
      });
      req.on('error', () => {});
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    sidecar = await startSidecar();
    push(sidecar, '', { payments: [{ instance: 'payments-v1-0', service: 'payments', labels: { app: 'payments', version: 'v1' }, host: '127.0.0.1', port: (upstream.address() as AddressInfo).port }] });
  });
  afterAll(async () => {
    await sidecar.stop(200);
    upstream.closeAllConnections();
    await new Promise<void>((r) => upstream.close(() => r()));
    closeAgent();
  });
  beforeEach(() => {
    requests = [];
    completed = 0;
  });

  test(`a chunked body of limit + 1 MiB (${REQUEST_LIMITS.maxRequestBodyBytes / 1048576 + 1} MiB) gets 413 and at most the limit reaches the upstream, which never sees it complete`, async () => {
    const status = await sendChunked(sidecar.ports.outbound, REQUEST_LIMITS.maxRequestBodyBytes + 1024 * 1024);
    expect(status).toBe(413);
    expect(received()).toBeLessThanOrEqual(REQUEST_LIMITS.maxRequestBodyBytes);
    expect(completed).toBe(0);
  });

  test('a chunked body of 1 MiB under the limit streams through whole: 200, every byte at the upstream', async () => {
    const status = await sendChunked(sidecar.ports.outbound, 1024 * 1024);
    expect(status).toBe(200);
    expect(received()).toBe(1024 * 1024);
    expect(completed).toBe(1);
  });
});
