import net from 'node:net';
import { Http1Server } from '../../mesh/http1/server';
import { Deadlines, type Deadline } from '../../mesh/http1/deadlines';
import type { DownstreamRequest, DownstreamResponse, ServerLimits, ServerRequest } from '../../mesh/http1/server-connection';

const LIMITS: ServerLimits = { maxHeaderSize: 60 * 1024, maxHeadersCount: 100, headersTimeoutMs: 10_000, keepAliveTimeoutMs: 60_000, idleTimeoutMs: 300_000, checkIntervalMs: 1000 };

type Handler = (req: ServerRequest, res: DownstreamResponse) => void;

/** An Http1Server on an ephemeral port whose handler the test sets; closed (with every connection) in afterEach. */
class TestServer {
  handler: Handler = (_req, res) => res.end('ok');
  readonly h1: Http1Server;
  port = 0;
  accepted = 0;
  constructor(limits: ServerLimits = LIMITS) {
    this.h1 = new Http1Server(limits, (req, res) => this.handler(req, res));
    this.h1.server.on('connection', () => this.accepted++);
  }
  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.h1.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.h1.server.address() as net.AddressInfo).port;
  }
  async stop(): Promise<void> {
    this.h1.closeAllConnections();
    await new Promise<void>((resolve) => this.h1.server.close(() => resolve()));
  }
}

/** A raw client connection: what it received, in the chunks it came in, and when the server closed it. */
class Client {
  readonly sock: net.Socket;
  readonly chunks: Buffer[] = [];
  readonly closed: Promise<void>;
  private waiters: { test: (s: string) => boolean; resolve: () => void }[] = [];
  constructor(port: number) {
    this.sock = net.connect(port, '127.0.0.1');
    this.sock.on('error', () => undefined);
    this.sock.on('data', (d: Buffer) => {
      this.chunks.push(d);
      const text = this.text;
      this.waiters = this.waiters.filter((w) => (w.test(text) ? (w.resolve(), false) : true));
    });
    this.closed = new Promise((resolve) => this.sock.once('close', () => resolve()));
  }
  get text(): string {
    return Buffer.concat(this.chunks).toString('latin1');
  }
  /** Resolves once what was received passes `test`. */
  until(test: (s: string) => boolean): Promise<void> {
    if (test(this.text)) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ test, resolve }));
  }
  responses(): number {
    return this.text.split('HTTP/1.1 ').length - 1;
  }
}

describe('mesh/http1 downstream server (ServerConnection on a raw socket)', () => {
  let srv: TestServer;
  const clients: Client[] = [];
  const client = (): Client => {
    const c = new Client(srv.port);
    clients.push(c);
    return c;
  };
  beforeEach(async () => {
    srv = new TestServer();
    await srv.start();
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.sock.destroy();
    await srv.stop();
  });

  test('3 pipelined requests in one packet: 3 responses in request order on 1 connection, never 2 requests in the handler at once', async () => {
    let active = 0;
    let maxActive = 0;
    const seen: string[] = [];
    srv.handler = (req, res) => {
      active++;
      maxActive = Math.max(maxActive, active);
      seen.push(req.url);
      // The first answers last in time: order must still hold.
      const delay = req.url === '/1' ? 30 : 0;
      setTimeout(() => {
        active--;
        res.writeHead(200, { 'content-length': String(req.url.length) });
        res.end(req.url);
      }, delay);
    };
    const c = client();
    c.sock.write('GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /22 HTTP/1.1\r\nHost: a\r\n\r\nGET /333 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    await c.closed;
    const bodies = c.text.split('\r\n\r\n').slice(1).map((s) => s.replace(/HTTP\/1\.1[\s\S]*$/, ''));
    expect(bodies).toEqual(['/1', '/22', '/333']);
    expect(seen).toEqual(['/1', '/22', '/333']);
    expect(maxActive).toBe(1);
    expect(srv.accepted).toBe(1);
    expect(c.text).toMatch(/content-length: 4\r\nconnection: close\r\n\r\n\/333$/);
  });

  test('keep-alive: 20 sequential requests on one connection, each answered whole in a single packet (head and body in one write)', async () => {
    srv.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '5' });
      res.end('hello');
    };
    const c = client();
    const sizes: number[] = [];
    for (let i = 1; i <= 20; i++) {
      const before = c.chunks.length;
      c.sock.write(`GET /${i} HTTP/1.1\r\nHost: a\r\n\r\n`);
      await c.until((s) => s.split('hello').length - 1 >= i);
      sizes.push(c.chunks.length - before);
    }
    expect(srv.accepted).toBe(1);
    expect(c.responses()).toBe(20);
    expect(sizes.every((n) => n === 1)).toBe(true);
  });

  test('a response without Content-Length is chunked for HTTP/1.1 and delimited by the close for HTTP/1.0', async () => {
    srv.handler = (_req, res) => {
      res.writeHead(200, {});
      res.write('ab');
      res.write('cde');
      res.end();
    };
    const c11 = client();
    c11.sock.write('GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    await c11.closed;
    expect(c11.text).toBe('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n');
    const c10 = client();
    c10.sock.write('GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
    await c10.closed;
    expect(c10.text).toBe('HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nabcde');
  });

  test('HEAD, 204 and 304 carry no body bytes (whatever the handler writes), and the connection goes on to the next request', async () => {
    srv.handler = (req, res) => {
      const status = req.url === '/204' ? 204 : req.url === '/304' ? 304 : 200;
      res.writeHead(status, status === 200 ? { 'content-length': '4' } : {});
      res.end(status === 200 ? 'body' : undefined);
    };
    const c = client();
    c.sock.write('HEAD / HTTP/1.1\r\nHost: a\r\n\r\nGET /204 HTTP/1.1\r\nHost: a\r\n\r\nGET /304 HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    await c.closed;
    expect(c.text).toBe(
      'HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\n' + 'HTTP/1.1 204 No Content\r\n\r\n' + 'HTTP/1.1 304 Not Modified\r\n\r\n' + 'HTTP/1.1 200 OK\r\ncontent-length: 4\r\nconnection: close\r\n\r\nbody',
    );
  });

  test('Expect: 100-continue: the client gets 100 before it sends its body, then the answer to the body', async () => {
    srv.handler = (req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (d: Buffer) => parts.push(d));
      req.on('end', () => res.end(`got ${Buffer.concat(parts).toString()}`));
    };
    const c = client();
    c.sock.write('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n');
    await c.until((s) => s.includes('\r\n\r\n'));
    expect(c.text).toBe('HTTP/1.1 100 Continue\r\n\r\n');
    c.sock.write('hello');
    await c.until((s) => s.endsWith('got hello'));
    expect(c.text).toBe('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\ngot hello');
  });

  test('a chunked request body reaches the handler as its payload (framing removed), 3 chunks → 11 bytes', async () => {
    let body = '';
    srv.handler = (req, res) => {
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => res.end(String(body.length)));
    };
    const c = client();
    c.sock.write('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n');
    c.sock.write('4\r\ndefg\r\n4;ext=1\r\nhijk\r\n0\r\n\r\n');
    await c.until((s) => s.endsWith('\r\n\r\n11'));
    expect(body).toBe('abcdefghijk');
  });

  test('400 and close on a parse error (CL+TE), 431 and close on a 61 KiB head; the handler never sees either', async () => {
    let calls = 0;
    srv.handler = (_req, res) => {
      calls++;
      res.end();
    };
    const bad = client();
    bad.sock.write('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc');
    await bad.closed;
    expect(bad.text).toBe('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    const big = client();
    big.sock.write(`GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'a'.repeat(61 * 1024)}\r\n\r\n`);
    await big.closed;
    expect(big.text).toMatch(/^HTTP\/1\.1 431 Request Header Fields Too Large\r\nconnection: close\r\n/);
    expect(calls).toBe(0);
  });

  test('the 101st header line reaches the handler (the connection manager answers its 431); the 102nd is the codec\'s 431', async () => {
    const counts: number[] = [];
    srv.handler = (req, res) => {
      counts.push(req.rawHeaders.length / 2);
      res.end();
    };
    const head = (n: number) => `GET / HTTP/1.1\r\n${Array.from({ length: n }, (_, k) => `x-h${k}: v`).join('\r\n')}\r\nHost: a\r\nConnection: close\r\n\r\n`;
    const ok = client();
    ok.sock.write(head(99)); // 99 + Host + Connection = 101 lines
    await ok.closed;
    const over = client();
    over.sock.write(head(100));
    await over.closed;
    expect(counts).toEqual([101]);
    expect(over.text).toMatch(/^HTTP\/1\.1 431 /);
  });

  test('drain: the next response says connection: close and its connection closes; an idle connection is closed at once', async () => {
    const idle = client();
    idle.sock.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    await idle.until((s) => s.endsWith('ok'));
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let inHandler!: () => void;
    const handled = new Promise<void>((r) => (inHandler = r));
    srv.handler = (_req, res) => {
      inHandler();
      void held.then(() => res.end('late'));
    };
    const busy = client();
    busy.sock.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    await handled;
    srv.h1.draining = true;
    srv.h1.closeIdleConnections();
    await idle.closed;
    release();
    await busy.closed;
    expect(busy.text).toBe('HTTP/1.1 200 OK\r\ncontent-length: 4\r\nconnection: close\r\n\r\nlate');
  });

  test('a client FIN before the answer: the response reports close without finishing (the connection manager\'s DC)', async () => {
    let res!: DownstreamResponse;
    const closed = new Promise<boolean>((resolve) => {
      srv.handler = (_req, r) => {
        res = r;
        r.once('close', () => resolve(r.writableFinished));
      };
    });
    const c = client();
    c.sock.end('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    expect(await closed).toBe(false);
    expect(res.destroyed).toBe(true);
  });

  test('an answer sent before the request body is in: the rest of the body (64 KiB) is read and dropped, and the next request on the connection is served', async () => {
    const urls: string[] = [];
    srv.handler = (req, res) => {
      urls.push(req.url);
      res.end(req.url === '/early' ? 'early' : 'next');
    };
    const c = client();
    c.sock.write('POST /early HTTP/1.1\r\nHost: a\r\nContent-Length: 65536\r\n\r\n');
    await c.until((s) => s.endsWith('early'));
    c.sock.write(Buffer.alloc(65536, 0x61));
    c.sock.write('GET /next HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    await c.closed;
    expect(urls).toEqual(['/early', '/next']);
    expect(c.responses()).toBe(2);
    expect(srv.accepted).toBe(1);
  });

  test('request body backpressure: with nobody reading a 32 MiB body, the server stops reading with at most 1 MiB held, the client cannot finish, and all 32 MiB arrive once read', async () => {
    let req!: DownstreamRequest;
    const got = new Promise<void>((resolve) => {
      srv.handler = (r) => {
        req = r as DownstreamRequest;
        resolve();
      };
    });
    const c = client();
    // Larger than what the loopback's socket buffers can hold, so the client can only finish if the server reads on.
    const total = 32 * 1024 * 1024;
    c.sock.write(`POST / HTTP/1.1\r\nHost: a\r\nContent-Length: ${total}\r\n\r\n`);
    const chunk = Buffer.alloc(64 * 1024, 0x62);
    let sent = 0;
    let allSent = false;
    const pump = (): void => {
      while (sent < total) {
        sent += chunk.length;
        if (!c.sock.write(chunk)) return void c.sock.once('drain', pump);
      }
      c.sock.write('', () => (allSent = true));
    };
    pump();
    await got;
    // Either the server stops reading its socket (backpressure) or the client gets everything out (none).
    while (!req.socket.isPaused() && !allSent) await new Promise<void>((r) => setImmediate(r));
    expect(allSent).toBe(false);
    expect(req.readableLength).toBeLessThanOrEqual(1024 * 1024);
    let read = 0;
    req.on('data', (d: Buffer) => (read += d.length));
    await new Promise<void>((resolve) => req.once('end', () => resolve()));
    expect(read).toBe(total);
  });

  test('a body whose reader destroyed the request is dropped, not waited for: the answer goes out and the next request is served', async () => {
    const urls: string[] = [];
    srv.handler = (req, res) => {
      urls.push(req.url);
      if (req.url !== '/gave-up') return void res.end('next');
      req.destroy();
      // Answered only once the whole body has crossed the socket: a paused socket would never get there.
      let seen = 0;
      req.socket.on('data', function count(d: Buffer) {
        seen += d.length;
        if (seen >= 192 * 1024) {
          req.socket.off('data', count);
          res.end('gave up');
        }
      });
    };
    const c = client();
    c.sock.write('POST /gave-up HTTP/1.1\r\nHost: a\r\nContent-Length: 262144\r\n\r\n');
    c.sock.write(Buffer.alloc(256 * 1024, 0x63));
    await c.until((s) => s.endsWith('gave up'));
    c.sock.write('GET /next HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    await c.closed;
    expect(urls).toEqual(['/gave-up', '/next']);
    expect(c.responses()).toBe(2);
  });

  test('an Upgrade request is answered as a plain request and its connection closed after (no tunnel); CONNECT closes at once', async () => {
    srv.handler = (req, res) => res.end(req.headers.upgrade ?? 'none');
    const up = client();
    up.sock.write('GET /ws HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\ntunnel bytes');
    await up.closed;
    expect(up.text).toBe('HTTP/1.1 200 OK\r\ncontent-length: 9\r\nconnection: close\r\n\r\nwebsocket');
    let calls = 0;
    srv.handler = (_req, res) => {
      calls++;
      res.end();
    };
    const connect = client();
    connect.sock.write('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
    await connect.closed;
    expect(connect.text).toBe('');
    expect(calls).toBe(0);
  });
});

describe('Deadlines: one coarse sweep for every connection', () => {
  test('a deadline never expires before its instant: a sweep 1 ms early leaves it, the next one expires it exactly once', () => {
    let clock = 0;
    const d = new Deadlines(() => 1000, () => clock);
    const expired: number[] = [];
    let at = 10_000;
    const item: Deadline = { deadline: () => at, expire: (now) => { expired.push(now); at = 0; } };
    d.add(item);
    clock = 9_999;
    d.sweep();
    expect(expired).toEqual([]);
    clock = 10_000;
    d.sweep();
    d.sweep();
    expect(expired).toEqual([10_000]);
    d.delete(item);
    expect(d.size).toBe(0);
  });

  test('the headers timeout through the real sweep: a head still incomplete after 300 ms gets 408 and is closed within 2 sweeps', async () => {
    const srv = new TestServer({ ...LIMITS, headersTimeoutMs: 300, checkIntervalMs: 100 });
    await srv.start();
    const c = new Client(srv.port);
    try {
      const t0 = performance.now();
      c.sock.write('GET / HTTP/1.1\r\nHost: a\r\nX-Slow: 1');
      await c.closed;
      const took = performance.now() - t0;
      expect(c.text).toBe('HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      expect(took).toBeGreaterThanOrEqual(299);
      expect(took).toBeLessThan(300 + 2 * 100 + 100);
    } finally {
      c.sock.destroy();
      await srv.stop();
    }
  });
  test('keep-alive timeout through the real sweep: a connection idle after its answer is closed after 200 ms (+ at most 2 sweeps), not before', async () => {
    const srv = new TestServer({ ...LIMITS, keepAliveTimeoutMs: 200, checkIntervalMs: 50 });
    await srv.start();
    const c = new Client(srv.port);
    try {
      c.sock.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
      await c.until((s) => s.endsWith('ok'));
      const t0 = performance.now();
      await c.closed;
      const took = performance.now() - t0;
      expect(took).toBeGreaterThanOrEqual(199);
      expect(took).toBeLessThan(200 + 2 * 50 + 100);
    } finally {
      c.sock.destroy();
      await srv.stop();
    }
  });
});
