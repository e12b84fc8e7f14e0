import http from 'node:http';
import net from 'node:net';
import type { Dispatcher } from 'undici';
import { UpstreamPool } from '../../mesh/http1/upstream-pool';

/** What one request through the pool saw, in the order undici's handler contract promises. */
interface Result {
  started: boolean;
  status: number;
  body: string;
  error?: NodeJS.ErrnoException;
}

function request(pool: UpstreamPool, opts: Partial<Dispatcher.DispatchOptions> = {}): Promise<Result> {
  return new Promise((resolve) => {
    const r: Result = { started: false, status: 0, body: '' };
    pool.dispatch({ path: '/', method: 'GET', headers: ['host', 'up'], body: null, ...opts } as Dispatcher.DispatchOptions, {
      onRequestStart: () => void (r.started = true),
      onResponseStart: (_c, status) => void (r.status = status),
      onResponseData: (_c, chunk) => void (r.body += chunk.toString()),
      onResponseEnd: () => resolve(r),
      onResponseError: (_c, err) => resolve({ ...r, error: err as NodeJS.ErrnoException }),
    });
  });
}

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
}

const close = (server: net.Server): Promise<void> => new Promise((resolve) => server.close(() => resolve()));

describe('mesh/http1 UpstreamPool (the sidecar\'s upstream connections, a drop-in for undici.Pool)', () => {
  let server: http.Server;
  let port: number;
  const ports: number[] = [];
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      ports.push(req.socket.remotePort ?? 0);
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => res.end(`${req.method} ${Buffer.concat(chunks).length}`));
    });
    port = await listen(server);
  });
  afterAll(async () => {
    server.closeAllConnections();
    await close(server);
  });
  beforeEach(() => void (ports.length = 0));

  it('reuses the most recently released connection first (LIFO): 2 connections opened, then 3 requests on the last one', async () => {
    const pool = new UpstreamPool(`http://127.0.0.1:${port}`);
    const [a, b] = await Promise.all([request(pool), request(pool)]);
    expect([a.status, b.status]).toEqual([200, 200]);
    const lastReleased = ports[1];
    for (let k = 0; k < 3; k++) expect((await request(pool)).status).toBe(200);
    expect(new Set(ports).size).toBe(2);
    expect(ports.slice(2)).toEqual([lastReleased, lastReleased, lastReleased]);
    await pool.close();
  });

  it('a handler that paused a 64 KiB response and was never resumed once it ended (a downstream whose drain never came) leaves no paused socket: the next request on the connection completes', async () => {
    const big = http.createServer((_req, res) => res.end(Buffer.alloc(64 * 1024, 0x61)));
    const bigPort = await listen(big);
    const pool = new UpstreamPool(`http://127.0.0.1:${bigPort}`, { connections: 1 });
    try {
      const paused = (): Promise<number> =>
        new Promise((resolve, reject) => {
          let size = 0;
          let ended = false;
          pool.dispatch({ path: '/', method: 'GET', headers: ['host', 'up'], body: null } as Dispatcher.DispatchOptions, {
            onResponseStart: () => undefined,
            // As forward.ts with Node's ServerResponse: pause on a full downstream, resume on its 'drain', which
            // never comes once the response has ended.
            onResponseData: (c, chunk) => {
              size += chunk.length;
              c.pause();
              setImmediate(() => ended || c.resume());
            },
            onResponseEnd: () => {
              ended = true;
              resolve(size);
            },
            onResponseError: (_c, err) => reject(err),
          });
        });
      expect(await paused()).toBe(64 * 1024);
      expect(await paused()).toBe(64 * 1024);
      expect((await request(pool)).status).toBe(200);
    } finally {
      await pool.close();
      big.closeAllConnections();
      await close(big);
    }
  });

  it('with connections: 1, 5 concurrent requests queue and share one connection', async () => {
    const pool = new UpstreamPool(`http://127.0.0.1:${port}`, { connections: 1 });
    const all = await Promise.all(Array.from({ length: 5 }, () => request(pool)));
    expect(all.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect(new Set(ports).size).toBe(1);
    await pool.close();
  });

  it('maxRequestsPerConnection 2: the 2nd request on a connection says connection: close, the 3rd opens a new one', async () => {
    const heads: string[] = [];
    const raw = net.createServer((sock) => {
      sock.on('data', (d) => {
        const head = d.toString('latin1');
        heads.push(head);
        const closing = /\r\nconnection: close\r\n/i.test(head);
        sock.write(`HTTP/1.1 200 OK\r\ncontent-length: 0\r\n${closing ? 'connection: close\r\n' : ''}\r\n`);
        if (closing) sock.end();
      });
    });
    const rawPort = await listen(raw);
    const pool = new UpstreamPool(`http://127.0.0.1:${rawPort}`, { maxRequestsPerClient: 2 });
    for (let k = 0; k < 3; k++) expect((await request(pool)).status).toBe(200);
    expect(heads.map((h) => /\r\nconnection: close\r\n/i.test(h))).toEqual([false, true, false]);
    await pool.close();
    await close(raw);
  });

  it('a request aborted before it was written (its caller gave up in the queue) costs no connection: the next one reuses it', async () => {
    const pool = new UpstreamPool(`http://127.0.0.1:${port}`, { connections: 1 });
    expect((await request(pool)).status).toBe(200);
    const aborted = await new Promise<Error>((resolve) =>
      pool.dispatch({ path: '/', method: 'GET', headers: ['host', 'up'], body: null } as Dispatcher.DispatchOptions, {
        onRequestStart: (controller) => controller.abort(new Error('route timeout while queued')),
        onResponseError: (_c, err) => resolve(err),
      }),
    );
    expect(aborted.message).toBe('route timeout while queued');
    expect((await request(pool)).status).toBe(200);
    expect(ports).toHaveLength(2);
    expect(new Set(ports).size).toBe(1);
    await pool.close();
  });

  it('a buffered body goes with its head in one write, framed by Content-Length', async () => {
    const firstReads: string[] = [];
    const raw = net.createServer((sock) => {
      sock.once('data', (d) => {
        firstReads.push(d.toString('latin1'));
        sock.end('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n');
      });
    });
    const rawPort = await listen(raw);
    const pool = new UpstreamPool(`http://127.0.0.1:${rawPort}`);
    const r = await request(pool, { method: 'POST', body: Buffer.from('{"amount":120}') });
    expect(r.status).toBe(200);
    expect(firstReads[0]).toMatch(/^POST \/ HTTP\/1\.1\r\n/);
    expect(firstReads[0]).toContain('content-length: 14\r\n');
    expect(firstReads[0].endsWith('\r\n\r\n{"amount":120}')).toBe(true);
    await pool.close();
    await close(raw);
  });

  it('a reused connection the server closed unanswered is retried once on a new one; a new connection closed unanswered is an error', async () => {
    let served = 0;
    const raw = net.createServer((sock) => {
      let requests = 0;
      sock.on('data', () => {
        requests++;
        // The first request on each connection is answered; a second one finds the server closing its idle side.
        if (requests === 1 && served++ < 2) sock.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
        else sock.destroy();
      });
    });
    const rawPort = await listen(raw);
    const pool = new UpstreamPool(`http://127.0.0.1:${rawPort}`);
    expect((await request(pool)).status).toBe(200);
    const stale = await request(pool);
    expect(stale).toMatchObject({ status: 200, body: 'ok' });
    const fresh = await request(pool); // the retried one's connection is reused, then its retry finds a new connection closed too
    expect(fresh.status).toBe(0);
    expect(fresh.error?.code).toBe('UND_ERR_SOCKET');
    await pool.close();
    await close(raw);
  });

  it('a refused connection fails before onRequestStart (a connect failure, UF), with the socket error code', async () => {
    const unused = net.createServer();
    const deadPort = await listen(unused);
    await close(unused);
    const pool = new UpstreamPool(`http://127.0.0.1:${deadPort}`);
    const r = await request(pool);
    expect(r.started).toBe(false);
    expect(r.error?.code).toBe('ECONNREFUSED');
    await pool.close();
  });

  it("a server's Keep-Alive: timeout=1 is honoured less undici's 2 s margin: the connection is not reused", async () => {
    const hinted = http.createServer((req, res) => {
      ports.push(req.socket.remotePort ?? 0);
      res.setHeader('keep-alive', 'timeout=1');
      res.end('x');
    });
    hinted.keepAliveTimeout = 1000;
    const hintedPort = await listen(hinted);
    const pool = new UpstreamPool(`http://127.0.0.1:${hintedPort}`);
    await request(pool);
    await request(pool);
    expect(new Set(ports).size).toBe(2);
    await pool.close();
    hinted.closeAllConnections();
    await close(hinted);
  });
});
