import net from 'node:net';
import { SpanExporter } from '../../mesh/telemetry/span-exporter';
import { encodeZipkin } from '../../mesh/telemetry/zipkin';
import type { Span } from '../../mesh/tracing';

/** The exporter's own HTTP/1.1 connection (report-connection.ts) against collectors written at the TCP level. */

const span = (i: number): Span => ({ trace_id: '4bf92f3577b34da6a3ce929d0e0e4736', span_id: (i + 1).toString(16).padStart(16, '0'), parent_span_id: null, name: 'p.default.svc.cluster.local:80/*', service: 'orders', start: 1700000000000.5, duration_us: 1234, status: 200, attributes: {} });

interface Request {
  head: string;
  body: string;
  connection: number;
}

/** A collector that reads each request whole (Content-Length) and lets `answer` decide what to write back. */
function collector(answer: (req: Request, socket: net.Socket, nth: number) => void): Promise<{ port: number; requests: Request[]; close: () => Promise<void> }> {
  const requests: Request[] = [];
  const sockets = new Set<net.Socket>();
  let connections = 0;
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    const connection = ++connections;
    let buf = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.toString('latin1', 0, end);
        const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
        if (buf.length < end + 4 + length) return;
        const req = { head, body: buf.toString('utf8', end + 4, end + 4 + length), connection };
        buf = buf.subarray(end + 4 + length);
        requests.push(req);
        answer(req, socket, requests.length);
      }
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        port: (server.address() as net.AddressInfo).port,
        requests,
        close: () => {
          for (const s of sockets) s.destroy();
          return new Promise<void>((r) => server.close(() => r()));
        },
      }),
    ),
  );
}

const exporterTo = (port: number): SpanExporter => new SpanExporter({ url: `http://127.0.0.1:${port}/api/v2/spans`, encode: encodeZipkin, source: { serviceName: 's' }, flushMs: 60_000, timeoutMs: 2000 });

describe("the exporter's keep-alive connection to its collector", () => {
  test('3 reports go over 1 connection as POST /api/v2/spans with Host, Content-Type and Content-Length, each body the batch', async () => {
    const c = await collector((_req, socket) => socket.write('HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n'));
    const e = exporterTo(c.port);
    for (let r = 0; r < 3; r++) {
      e.offer(span(r));
      await e.flush();
    }
    await e.close();
    await c.close();
    expect(e.stats).toMatchObject({ reportsSent: 3, spansSent: 3, reportsFailed: 0 });
    expect(c.requests.map((r) => r.connection)).toEqual([1, 1, 1]);
    const lines = c.requests[0].head.split('\r\n');
    expect(lines[0]).toBe('POST /api/v2/spans HTTP/1.1');
    expect(lines.slice(1).sort()).toEqual([`Content-Length: ${Buffer.byteLength(c.requests[0].body)}`, 'Content-Type: application/json', `Host: 127.0.0.1:${c.port}`]);
    expect(c.requests.map((r) => r.body)).toEqual([0, 1, 2].map((i) => encodeZipkin([span(i)], { serviceName: 's' })));
  });

  test('a kept connection the collector drops as the 2nd report arrives (its idle close racing the write): that report is sent again on a 2nd connection, 0 failed', async () => {
    const c = await collector((_req, socket, nth) => (nth === 2 ? socket.destroy() : socket.write('HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n')));
    const e = exporterTo(c.port);
    e.offer(span(0));
    await e.flush();
    e.offer(span(1));
    await e.flush();
    await e.close();
    await c.close();
    expect({ failed: e.stats.reportsFailed, sent: e.stats.spansSent, connections: c.requests.map((r) => r.connection), error: e.lastError }).toEqual({ failed: 0, sent: 2, connections: [1, 1, 2], error: undefined });
  });

  test('a new connection dropped before any answer is not sent again: 1 report failed, 1 request seen', async () => {
    const c = await collector((_req, socket) => socket.destroy());
    const e = exporterTo(c.port);
    e.offer(span(0));
    await e.flush();
    await e.close();
    await c.close();
    expect({ failed: e.stats.reportsFailed, spansFailed: e.stats.spansFailed, requests: c.requests.length }).toEqual({ failed: 1, spansFailed: 1, requests: 1 });
    expect(e.lastError).toMatch(/closed without an answer|ECONNRESET/);
  });

  test('answers framed every way HTTP/1.1 allows: a body by length, chunked, up to the close, after a 100 Continue — 4 reports sent; a 400 fails with its status and body', async () => {
    const answers = [
      'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\nok',
      'HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n',
      'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfine.',
      'HTTP/1.0 202 Accepted\r\n\r\nuntil the close',
      'HTTP/1.1 400 Bad Request\r\nContent-Length: 16\r\n\r\nbad span: no id!',
    ];
    const c = await collector((_req, socket, nth) => {
      socket.write(answers[nth - 1]);
      if (nth === 4) socket.end();
    });
    const e = exporterTo(c.port);
    for (let r = 0; r < 4; r++) {
      e.offer(span(r));
      await e.flush();
    }
    expect(e.stats).toMatchObject({ reportsSent: 4, spansSent: 4, reportsFailed: 0 });
    e.offer(span(4));
    await e.flush();
    await e.close();
    await c.close();
    expect(e.stats).toMatchObject({ reportsSent: 4, reportsFailed: 1, spansFailed: 1 });
    expect(e.lastError).toBe(`http://127.0.0.1:${c.port}/api/v2/spans answered 400: bad span: no id!`);
  });

  test('a collector that never answers: the report fails after its timeout and the next one goes over a new connection', async () => {
    const c = await collector((_req, socket, nth) => nth > 1 && socket.write('HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n'));
    const e = new SpanExporter({ url: `http://127.0.0.1:${c.port}/api/v2/spans`, encode: encodeZipkin, source: { serviceName: 's' }, flushMs: 60_000, timeoutMs: 200 });
    e.offer(span(0));
    await e.flush();
    expect(e.stats).toMatchObject({ reportsFailed: 1, spansFailed: 1 });
    expect(e.lastError).toMatch(/no answer within 200 ms/);
    e.offer(span(1));
    await e.flush();
    await e.close();
    await c.close();
    expect(e.stats).toMatchObject({ reportsSent: 1, spansSent: 1 });
    expect(c.requests.map((r) => r.connection)).toEqual([1, 2]);
  });
});
