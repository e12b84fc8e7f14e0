import { RequestDecoder } from '../../mesh/http1/request-decoder';
import { ResponseDecoder } from '../../mesh/http1/response-decoder';
import type { Http1Error } from '../../mesh/http1/head';

const LIMITS = { maxHeadBytes: 60 * 1024, maxHeaders: 100 };

interface Seen {
  heads: { method: string; target: string; headers: string[] }[];
  raw: Buffer[];
  payload: Buffer[];
  complete: number;
  error?: Http1Error;
}

function decode(input: string | Buffer, pieces: number[] = []): Seen & { end: ReturnType<RequestDecoder['end']> } {
  const seen: Seen = { heads: [], raw: [], payload: [], complete: 0 };
  const d = new RequestDecoder(
    {
      onHead: (h) => seen.heads.push({ method: h.method, target: h.target, headers: h.raw() }),
      onBody: (b) => seen.raw.push(Buffer.from(b)),
      onData: (b) => seen.payload.push(Buffer.from(b)),
      onMessageComplete: () => seen.complete++,
      onError: (e) => (seen.error = e),
    },
    LIMITS,
  );
  const buf = typeof input === 'string' ? Buffer.from(input, 'latin1') : input;
  let from = 0;
  for (const cut of [...pieces, buf.length]) {
    if (cut > from) d.push(buf.subarray(from, cut));
    from = Math.max(from, cut);
  }
  return { ...seen, end: d.end() };
}

const H = 'POST /pay HTTP/1.1\r\nHost: payments\r\n';

describe('mesh/http1 refuses what llhttp refuses, before anything reaches the router', () => {
  it.each([
    ['Content-Length and Transfer-Encoding together', `${H}Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, 'content_length_and_chunked'],
    ['Transfer-Encoding then Content-Length', `${H}Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n`, 'content_length_and_chunked'],
    ['two Content-Length headers, even equal', `${H}Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc`, 'multiple_content_length'],
    ['a Content-Length that is not a number', `${H}Content-Length: 3, 3\r\n\r\nabc`, 'invalid_content_length'],
    ['obs-fold', `${H}X-A: 1\r\n folded\r\n\r\n`, 'obs_fold'],
    ['a bare LF ending a header line', `${H}X-A: 1\n\r\n`, 'missing_cr'],
    ['a bare LF ending the request line', `GET / HTTP/1.1\nHost: a\r\n\r\n`, 'invalid_start_line'],
    ['a space in a header name', `${H}X A: 1\r\n\r\n`, 'invalid_header_name'],
    ['a space before the colon', `${H}Host : x\r\n\r\n`, 'invalid_header_name'],
    ['a control byte in a header value', `${H}X-A: a\x01b\r\n\r\n`, 'invalid_header_value'],
    ['a chunked coding not last', `${H}Transfer-Encoding: chunked, gzip\r\n\r\n`, 'invalid_transfer_encoding'],
    ['an empty Transfer-Encoding (Node 24 refuses it; Node 20 read no body)', `${H}Transfer-Encoding: \r\n\r\n5\r\nhello\r\n0\r\n\r\n`, 'invalid_transfer_encoding'],
    ['an empty Transfer-Encoding beside a chunked one', `${H}Transfer-Encoding:\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, 'invalid_transfer_encoding'],
    ['an unknown method', `BREW /pot HTTP/1.1\r\nHost: a\r\n\r\n`, 'invalid_method'],
    ['HTTP/1.2', `GET / HTTP/1.2\r\nHost: a\r\n\r\n`, 'unsupported_version'],
    ['HTTP/1.1 without Host', `GET / HTTP/1.1\r\n\r\n`, 'missing_host_header'],
  ])('%s: 400 with no head delivered', (_what, input, details) => {
    const r = decode(input);
    expect(r.error?.status).toBe(400);
    expect(r.error?.details).toBe(`http1.codec_error{${details}}`);
    expect(r.heads).toHaveLength(0);
  });

  it.each([
    ['a hex digit missing', '\r\n0\r\n\r\n'],
    ['not hex', 'zz\r\nab\r\n0\r\n\r\n'],
    ['a space after the size', '2 \r\nab\r\n0\r\n\r\n'],
    ['a bare LF after the size', '2\nab\r\n0\r\n\r\n'],
    ['data longer than its size', '2\r\nabc\r\n0\r\n\r\n'],
    ['an empty extension', '2;\r\nab\r\n0\r\n\r\n'],
  ])('a chunked body with %s: 400 after the head, nothing of the bad chunk forwarded', (_what, body) => {
    const r = decode(`${H}Transfer-Encoding: chunked\r\n\r\n${body}`);
    expect(r.heads).toHaveLength(1);
    expect(r.error?.status).toBe(400);
    expect(r.complete).toBe(0);
    expect(Buffer.concat(r.payload).length).toBeLessThanOrEqual(2);
  });

  it('a head over 60 KiB is 431, one at 59 KiB passes', () => {
    const big = decode(`GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'a'.repeat(61 * 1024)}\r\n\r\n`);
    expect(big.error?.status).toBe(431);
    const fits = decode(`GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'a'.repeat(59 * 1024)}\r\n\r\n`);
    expect(fits.error).toBeUndefined();
    expect(fits.complete).toBe(1);
  });

  it('a head over 60 KiB arriving in 1 KiB pieces is 431 within 2 KiB past the limit, never buffered further', () => {
    const d = new RequestDecoder({ onHead: () => {}, onBody: () => {}, onMessageComplete: () => {}, onError: (e) => (err = e) }, LIMITS);
    let err: Http1Error | undefined;
    const head = Buffer.from(`GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'a'.repeat(70 * 1024)}`);
    let sent = 0;
    for (; sent < head.length && !err; sent += 1024) d.push(head.subarray(sent, sent + 1024));
    expect(err?.status).toBe(431);
    expect(sent).toBeLessThanOrEqual(60 * 1024 + 2048);
  });

  it('101 header lines are 431 (Envoy max_headers_count 100), 100 pass', () => {
    const lines = (n: number): string => Array.from({ length: n - 1 }, (_, k) => `x-h${k}: v\r\n`).join('');
    expect(decode(`GET / HTTP/1.1\r\nHost: a\r\n${lines(101)}\r\n`).error?.status).toBe(431);
    expect(decode(`GET / HTTP/1.1\r\nHost: a\r\n${lines(100)}\r\n`).complete).toBe(1);
  });
});

describe('mesh/http1 frames bodies exactly', () => {
  const pair = `${H}Content-Length: 5\r\n\r\nGET /GET /admin HTTP/1.1\r\nHost: a\r\n\r\n`;

  it('a Content-Length body is exactly its 5 bytes, and what follows is the next request', () => {
    const r = decode(pair);
    expect(r.heads.map((h) => `${h.method} ${h.target}`)).toEqual(['POST /pay', 'GET /admin']);
    expect(Buffer.concat(r.payload).toString()).toBe('GET /');
    expect(r.end).toBe('clean');
  });

  it('after an HTTP/1.0 request that closes, CR and LF are skipped as llhttp skips them; any other byte is 400 data_after_close', () => {
    const close = 'GET /a HTTP/1.0\r\nHost: a\r\n\r\n';
    const crlf = decode(`${close}\r\n\r\n`);
    expect([crlf.heads.length, crlf.error, crlf.end]).toEqual([1, undefined, 'clean']);
    const more = decode(`${close}\r\nGET /b HTTP/1.0\r\nHost: a\r\n\r\n`);
    expect([more.heads.length, more.error?.details]).toEqual([1, 'http1.codec_error{data_after_close}']);
  });

  it('splitting the same bytes at each of its positions changes nothing', () => {
    const whole = decode(pair);
    for (let cut = 1; cut < pair.length; cut++) {
      const r = decode(pair, [cut]);
      expect({ heads: r.heads, payload: Buffer.concat(r.payload).toString(), complete: r.complete }).toEqual({ heads: whole.heads, payload: 'GET /', complete: 2 });
    }
  });

  it('a chunked body is forwarded byte for byte as received (framing, extensions, trailers), its payload counted apart', () => {
    const body = '5;ext="q v"\r\nhello\r\n3\r\n, w\r\n0\r\nX-Trailer: t\r\n\r\n';
    const r = decode(`${H}Transfer-Encoding: chunked\r\n\r\n${body}GET /next HTTP/1.1\r\nHost: a\r\n\r\n`, [60, 75, 90]);
    expect(Buffer.concat(r.raw).toString()).toBe(body);
    expect(Buffer.concat(r.payload).toString()).toBe('hello, w');
    expect(r.complete).toBe(2);
    expect(r.heads[1].target).toBe('/next');
  });

  it('header lines are kept as sent: original case, order, repeated names; only surrounding whitespace trimmed', () => {
    const r = decode('GET / HTTP/1.1\r\nHost: a\r\nX-Dup: 1\r\nx-dup:\t 2 \r\nEnd-User: jason\r\n\r\n');
    expect(r.heads[0].headers).toEqual(['Host', 'a', 'X-Dup', '1', 'x-dup', '2', 'End-User', 'jason']);
  });

  it('a paused decoder parses no further request until resumed', () => {
    const heads: string[] = [];
    const d = new RequestDecoder({ onHead: (h) => heads.push(h.target), onBody: () => {}, onMessageComplete: () => d.pause(), onError: () => {} }, LIMITS);
    d.push(Buffer.from('GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n'));
    expect(heads).toEqual(['/1']);
    d.resume();
    expect(heads).toEqual(['/1', '/2']);
  });
});

describe('mesh/http1 frames responses by the request they answer', () => {
  function response(input: string, method = 'GET', eof = true): { status: number[]; body: string; complete: number; keepAlive: boolean[]; end?: string } {
    const out = { status: [] as number[], body: '', complete: 0, keepAlive: [] as boolean[], end: undefined as string | undefined };
    const d = new ResponseDecoder(
      {
        onInformational: (h) => out.status.push(h.status),
        onHead: (h) => out.status.push(h.status),
        onBody: () => {},
        onData: (b) => (out.body += b.toString('latin1')),
        onMessageComplete: (_h, keepAlive) => {
          out.complete++;
          out.keepAlive.push(keepAlive);
        },
        onError: (e) => (out.end = e.details),
      },
      LIMITS,
    );
    d.expect(method);
    d.push(Buffer.from(input, 'latin1'));
    if (eof) {
      const e = d.end();
      out.end ??= typeof e === 'string' ? e : e.details;
    }
    return out;
  }

  it('no Content-Length and no chunked: the body runs to the close, and the connection is not reused', () => {
    const open = response('HTTP/1.1 200 OK\r\n\r\nuntil the end', 'GET', false);
    expect(open.complete).toBe(0);
    const closed = response('HTTP/1.1 200 OK\r\n\r\nuntil the end');
    expect(closed).toMatchObject({ body: 'until the end', complete: 1, keepAlive: [false] });
  });

  it('HEAD, 204 and 304 have no body whatever their Content-Length says', () => {
    expect(response('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n', 'HEAD', false)).toMatchObject({ complete: 1, keepAlive: [true] });
    expect(response('HTTP/1.1 204 No Content\r\n\r\n', 'POST', false)).toMatchObject({ complete: 1 });
    expect(response('HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n', 'GET', false)).toMatchObject({ complete: 1 });
  });

  it('100 Continue and 103 come before the final response, which alone completes', () => {
    const r = response('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok', 'POST', false);
    expect(r).toMatchObject({ status: [100, 103, 201], body: 'ok', complete: 1, keepAlive: [true] });
  });

  it('a Content-Length body cut short by the close is incomplete, not a response', () => {
    expect(response('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc')).toMatchObject({ complete: 0, end: 'incomplete' });
  });
});

describe('mesh/http1 keeps what it handed out intact', () => {
  it('body bytes delivered from a head that arrived in pieces are not overwritten by the next packets', () => {
    const kept: Buffer[] = [];
    const d = new RequestDecoder({ onHead: () => {}, onBody: (b) => kept.push(b), onMessageComplete: () => {}, onError: () => {} }, LIMITS);
    // The first request's head arrives in two pieces; its body and the start of the next head come with the second.
    d.push(Buffer.from('POST / HTTP/1.1\r\nHost: a\r\nContent-'));
    d.push(Buffer.from('Length: 4\r\n\r\nbodyGET /2 HTTP/1.1\r\nHo'));
    d.push(Buffer.from('st: a\r\n\r\n'));
    d.push(Buffer.from('GET /3 HTTP/1.1\r\nHost: a\r\n\r\n'));
    expect(kept.map((b) => b.toString())).toEqual(['body']);
  });

  it('a 60 KiB head sent one byte at a time is parsed once complete (60 × 1,024 pushes)', () => {
    let heads = 0;
    const d = new RequestDecoder({ onHead: () => heads++, onBody: () => {}, onMessageComplete: () => {}, onError: () => {} }, LIMITS);
    const head = Buffer.from(`GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'a'.repeat(59 * 1024)}\r\n\r\n`);
    for (let k = 0; k < head.length; k++) d.push(head.subarray(k, k + 1));
    expect(heads).toBe(1);
  });
});
