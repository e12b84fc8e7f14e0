import http from 'node:http';
import net from 'node:net';
import crypto from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { startSidecar, push, adminGet } from './harness';
import { Readable } from 'node:stream';
import { REQUEST_LIMITS } from '../../mesh/http-connection-manager';
import { teeForMirror } from '../../mesh/shadow';
import type { Sidecar } from '../../mesh/sidecar/sidecar';
import type { Endpoint } from '../../mesh/xds';

/**
 * Mirroring of bodies larger than the 1 MiB retry buffer (Envoy's streaming shadow): the mirror gets the whole body,
 * and neither a failed nor a stalled mirror changes what the caller gets.
 */

interface Received {
  url: string;
  bytes: number;
  sha256: string;
}

/** An HTTP server that hashes every request body it reads and answers 200 with {bytes, sha256}. */
class HashingServer {
  server!: http.Server;
  port = 0;
  received: Received[] = [];
  private waiters: { n: number; resolve: () => void }[] = [];

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => {
      const hash = crypto.createHash('sha256');
      let bytes = 0;
      req.on('data', (c: Buffer) => {
        bytes += c.length;
        hash.update(c);
      });
      req.on('end', () => {
        const r = { url: req.url ?? '', bytes, sha256: hash.digest('hex') };
        this.received.push(r);
        this.waiters = this.waiters.filter((w) => (this.received.length >= w.n ? (w.resolve(), false) : true));
        const body = JSON.stringify(r);
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  /** Resolves once `n` request bodies have been read whole. */
  waitFor(n: number): Promise<void> {
    if (this.received.length >= n) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ n, resolve }));
  }

  endpoint(service: string, version: string): Endpoint {
    return { instance: `${service}-${version}-0`, service, labels: { app: service, version }, host: '127.0.0.1', port: this.port };
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

/**
 * A TCP server that never answers: `paused`, it does not even read (a mirror that cannot keep up at all); otherwise
 * it reads and discards, so it sees its client close the connection.
 */
class StalledServer {
  constructor(private readonly paused = true) {}
  private server?: net.Server;
  port = 0;
  accepted = 0;
  private readonly sockets = new Set<net.Socket>();
  private closeWaiters: (() => void)[] = [];
  /** Resolves when one of the accepted connections is closed by its client (an event, never a timer). */
  nextClose(): Promise<void> {
    return new Promise((r) => this.closeWaiters.push(r));
  }
  async start(): Promise<this> {
    this.server = net.createServer((s) => {
      this.accepted++;
      this.sockets.add(s);
      if (this.paused) s.pause();
      else s.resume();
      s.on('error', () => undefined);
      s.on('close', () => {
        this.sockets.delete(s);
        for (const w of this.closeWaiters.splice(0)) w();
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }
  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server?.close(() => r()) ?? r());
  }
}

/** Deterministic pseudo-random bytes (AES-128-CTR keystream of key `seed`): a body whose hash a lost or reordered chunk would change. */
function bodyOf(size: number, seed: number): Buffer {
  return crypto.createCipheriv('aes-128-ctr', Buffer.alloc(16, seed), Buffer.alloc(16)).update(Buffer.alloc(size));
}

const sha = (b: Buffer): string => crypto.createHash('sha256').update(b).digest('hex');

/** POSTs `body` through the outbound listener (content-length, or chunked in 256 KiB pieces); resolves with the answer. */
function post(port: number, path: string, body: Buffer, chunked: boolean): Promise<{ status: number; json: Received }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { host: 'payments' };
    if (chunked) headers['transfer-encoding'] = 'chunked';
    else headers['content-length'] = body.length;
    const req = http.request({ host: '127.0.0.1', port, path, method: 'POST', agent: false, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString() || '{}') as Received }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (!chunked) return void req.end(body);
    for (let off = 0; off < body.length; off += 256 * 1024) req.write(body.subarray(off, off + 256 * 1024));
    req.end();
  });
}

const MIRROR_VS = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: payments }
spec:
  hosts: [payments]
  http:
  - route: [{ destination: { host: payments } }]
    mirror: { host: audit }
    mirrorPercentage: { value: 100 }
`;

describe(`mirroring a body over the ${REQUEST_LIMITS.retryBufferBytes / 1024 / 1024} MiB buffer`, () => {
  let sidecar: Sidecar;
  const primary = new HashingServer();
  const audit = new HashingServer();
  const stalled = new StalledServer();
  const port = () => sidecar.ports.outbound;

  beforeAll(async () => {
    await primary.start();
    await audit.start();
    await stalled.start();
    sidecar = await startSidecar();
  });
  afterAll(async () => {
    await sidecar.stop(200);
    await primary.stop();
    await audit.stop();
    await stalled.stop();
  });
  beforeEach(() => {
    primary.received = [];
    audit.received = [];
  });

  test.each([
    ['content-length', false],
    ['chunked', true],
  ])('a 3 MiB %s body reaches the mirror whole (3,145,728 bytes, same SHA-256) and the primary answers 200 with all of it', async (_kind, chunked) => {
    push(sidecar, MIRROR_VS, { payments: [primary.endpoint('payments', 'v1')], audit: [audit.endpoint('audit', 'v1')] });
    const body = bodyOf(3 * 1024 * 1024, chunked ? 2 : 1);
    const r = await post(port(), '/upload', body, chunked);
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ url: '/upload', bytes: body.length, sha256: sha(body) });
    await audit.waitFor(1);
    expect(audit.received).toEqual([{ url: '/upload', bytes: body.length, sha256: sha(body) }]);
  });

  test('a mirror nobody listens for (connection refused) leaves the caller\'s 3 MiB request untouched: 200, whole body, no flag', async () => {
    const dead = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    push(sidecar, MIRROR_VS, { payments: [primary.endpoint('payments', 'v1')], audit: [{ ...audit.endpoint('audit', 'v1'), port: dead }] });
    const body = bodyOf(3 * 1024 * 1024, 3);
    const r = await post(port(), '/refused-mirror', body, false);
    expect(r).toEqual({ status: 200, json: { url: '/refused-mirror', bytes: body.length, sha256: sha(body) } });
    expect(sidecar.accessLog.entries().filter((e) => e.path === '/refused-mirror')[0]).toMatchObject({ response_code: 200, response_flags: '-' });
  });

  test('a mirror that never reads does not hold the caller back: a 12 MiB request completes 200 with all of it', async () => {
    push(sidecar, MIRROR_VS, { payments: [primary.endpoint('payments', 'v1')], audit: [{ ...audit.endpoint('audit', 'v1'), port: stalled.port }] });
    const body = bodyOf(12 * 1024 * 1024, 4);
    const r = await post(port(), '/stalled-mirror', body, false);
    expect(r).toEqual({ status: 200, json: { url: '/stalled-mirror', bytes: body.length, sha256: sha(body) } });
    expect(stalled.accepted).toBeGreaterThanOrEqual(1);
  });
});

describe('a mirror\'s own timeout', () => {
  test('a mirror that never answers is aborted at the route\'s timeout (Envoy gives the shadow the global timeout); the caller got its 200 long before', async () => {
    const primary = await new HashingServer().start();
    const stalled = await new StalledServer(false).start();
    const sidecar = await startSidecar();
    try {
      const vs = MIRROR_VS.replace('  - route: [{ destination: { host: payments } }]', '  - timeout: 0.3s\n    route: [{ destination: { host: payments } }]');
      push(sidecar, vs, { payments: [primary.endpoint('payments', 'v1')], audit: [{ ...primary.endpoint('audit', 'v1'), port: stalled.port }] });
      const closed = stalled.nextClose();
      const r = await post(sidecar.ports.outbound, '/mirror-timeout', Buffer.from('{"amount":5}'), false);
      expect(r.status).toBe(200);
      expect(stalled.accepted).toBeGreaterThanOrEqual(1);
      await closed; // the sidecar gave up on the mirror (undici closes the connection of an aborted request)
      // …and the mirror host no longer counts an active request (least-request balancing reads it).
      const clusters = JSON.parse(await adminGet(sidecar, '/clusters')) as { name: string; hosts: { address: string; active: number }[] }[];
      const auditHost = clusters.flatMap((c) => c.hosts).find((h) => h.address === `127.0.0.1:${stalled.port}`);
      expect(auditHost?.active).toBe(0);
    } finally {
      await sidecar.stop(200);
      await primary.stop();
      await stalled.stop();
    }
  });
});

describe('teeForMirror', () => {
  test('a mirror copy nobody reads is cut once 1 MiB behind, while the primary copy gets all 12 MiB in order', async () => {
    const body = bodyOf(12 * 1024 * 1024, 5);
    const pieces = Array.from({ length: 192 }, (_, i) => body.subarray(i * 65536, (i + 1) * 65536));
    const { primary, mirror } = teeForMirror(Readable.from(pieces), 1024 * 1024);
    const mirrorClosed = new Promise<Error | undefined>((r) => mirror.once('close', () => r(mirror.errored ?? undefined)));
    const got: Buffer[] = [];
    for await (const c of primary) got.push(c as Buffer);
    expect(sha(Buffer.concat(got))).toBe(sha(body));
    const err = await mirrorClosed;
    expect(err?.message).toBe('mirror fell more than 1048576 bytes behind');
  });

  test('a mirror copy read as fast as it comes gets the same bytes as the primary', async () => {
    const body = bodyOf(3 * 1024 * 1024, 6);
    const pieces = Array.from({ length: 48 }, (_, i) => body.subarray(i * 65536, (i + 1) * 65536));
    const { primary, mirror } = teeForMirror(Readable.from(pieces), 1024 * 1024);
    const drain = async (r: Readable) => {
      const out: Buffer[] = [];
      for await (const c of r) out.push(c as Buffer);
      return sha(Buffer.concat(out));
    };
    expect(await Promise.all([drain(primary), drain(mirror)])).toEqual([sha(body), sha(body)]);
  });
});
