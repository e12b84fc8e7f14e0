import { NodeOracle, meshParse, type Outcome } from './http1-oracle';
import { Fuzz } from '../support/fuzz';

/**
 * The data plane's HTTP/1.1 request codec (mesh/http1) against Node's own parser (llhttp behind a
 * real http.Server): the same generated and mutated byte streams to both, split at random points for
 * ours; any disagreement on accept/reject, on the complete requests (method, target, version, header
 * lines, body, trailers) or on where the stream ended fails the test.
 */

/** Fixed; HTTP1_FUZZ_SEED / HTTP1_FUZZ_CASES explore further by hand (HTTP1_FUZZ_VERBOSE=1 prints the tally). */
const CASES = Number(process.env.HTTP1_FUZZ_CASES ?? 4000);
const SEED = Number(process.env.HTTP1_FUZZ_SEED ?? 1515);

/** One request's bytes, mostly valid, with the framing and header shapes smuggling lives on. */
function request(f: Fuzz): string {
  const eol = (): string => (f.rnd() < 0.01 ? f.pick(['\n', '\r', '\r\r\n', ' \r\n']) : '\r\n');
  const method = f.rnd() < 0.96 ? f.pick(['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS']) : f.pick(['CONNECT', 'get', 'BREW', 'PRI', 'M-SEARCH', 'G ET', '']);
  const target =
    f.rnd() < 0.94
      ? f.pick(['/', '/pay', '/orders/ORD-1', '/api/payments/validate?amount=120', '/a/../b', '/%2e%2e/x', '*', 'http://payments/pay', method === 'CONNECT' ? 'payments:443' : '/x'])
      : '/' + Array.from({ length: f.int(6) }, () => f.pick(['a', '?', '#', '"', '%', ' ', '\t', '\x7f', '\xe9', '@', '[', '\x00', '\\'])).join('');
  const version = f.rnd() < 0.97 ? f.pick(['HTTP/1.1', 'HTTP/1.1', 'HTTP/1.1', 'HTTP/1.1', 'HTTP/1.0']) : f.pick(['HTTP/1.2', 'HTTP/2.0', 'HTTP/0.9', 'http/1.1', 'HTTP/1.1 ', '']);
  const lines: string[] = [];
  if (f.rnd() < 0.97) lines.push(`${f.pick(['Host', 'host', 'HOST'])}:${f.pick([' payments', 'payments', ' payments:80 ', '', ' \t'])}`);
  for (let k = f.int(5); k > 0; k--) {
    const name = f.rnd() < 0.97 ? f.pick(['x-request-id', 'User-Agent', 'accept', 'x-b3-traceid', 'traceparent', 'end-user', 'x-custom']) : f.pick(['x y', 'x:y', '', 'x\x7f', 'é', ' x', 'x\t']);
    const value = f.rnd() < 0.97 ? f.pick(['abc', ' v ', '\tv', '', 'a, b', 'jason', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01']) : f.pick(['a\x00b', 'a\x7fb', 'caf\xe9', 'a\rb', ' ', 'x\x01']);
    lines.push(`${name}:${value}`);
  }
  let body = '';
  switch (f.int(8)) {
    case 0:
    case 1: {
      const b = 'x'.repeat(f.int(20));
      const n = f.rnd() < 0.92 ? b.length : b.length + f.pick([-1, 1, 5]);
      lines.push(`${f.pick(['Content-Length', 'content-length'])}:${f.pick([' ', '', '  '])}${f.rnd() < 0.95 ? n : f.pick(['+3', '3 3', '', '0x3', '3,3', '-1', ' 03'])}`);
      if (f.rnd() < 0.04) lines.push(`Content-Length: ${f.pick([n, n + 1])}`);
      body = b;
      break;
    }
    case 2:
    case 3:
    case 4: {
      lines.push(`${f.pick(['Transfer-Encoding', 'transfer-encoding'])}: ${f.rnd() < 0.88 ? 'chunked' : f.pick(['gzip, chunked', 'chunked, gzip', 'CHUNKED', 'chunked ', 'gzip', ',chunked', 'chunked,', 'chunkedx', ''])}`);
      if (f.rnd() < 0.04) lines.push(f.pick(['Content-Length: 3', 'Transfer-Encoding: chunked', 'Transfer-Encoding: gzip']));
      for (let c = f.int(3); c > 0; c--) {
        const data = 'y'.repeat(1 + f.int(12));
        const size = f.rnd() < 0.95 ? data.length.toString(16) : f.pick(['zz', '', ' 3', '3 ', '-1', 'ffffffffffffffffff', (data.length + 1).toString(16)]);
        const ext = f.rnd() < 0.9 ? '' : f.pick([';a=b', ';a', ';a="b c"', ';', '; a', ';a=', ';a="b', ';a=b;c=d']);
        body += `${size}${ext}${eol()}${data}${eol()}`;
      }
      body += `0${f.rnd() < 0.1 ? ';x=1' : ''}\r\n`;
      if (f.rnd() < 0.15) body += `${f.pick(['X-Trailer: t', 'x y: t', 'X:\x01', 'Expires: 0'])}\r\n`;
      body += eol();
      break;
    }
    case 5:
      if (f.rnd() < 0.5) lines.push(`Connection: ${f.pick(['close', 'keep-alive', 'Upgrade', 'keep-alive, close', 'upgrade, close'])}`);
      if (f.rnd() < 0.3) lines.push('Upgrade: websocket');
      break;
    case 6:
      if (f.rnd() < 0.5) lines.push(`Expect: 100-continue`);
      break;
    default:
      break;
  }
  if (f.rnd() < 0.03) lines.push(f.pick([' folded', '\tfolded', 'x-fold: a\r\n b']));
  const head = `${method} ${target} ${version}${eol()}${lines.map((l) => l + eol()).join('')}${eol()}`;
  return (f.rnd() < 0.05 ? '\r\n' : '') + head + body;
}

/** A stream of 1–3 requests, sometimes mutated (a few bytes replaced, inserted or dropped) or cut short. */
function stream(f: Fuzz): Buffer {
  let s = Array.from({ length: 1 + f.int(3) }, () => request(f)).join('');
  if (f.rnd() < 0.25) {
    const bytes = ['\r', '\n', ' ', '\t', ':', ';', ',', '0', 'a', 'F', '\x00', '\x7f', '\xff', '"', '\r\n'];
    for (let k = 1 + f.int(3); k > 0; k--) {
      const at = f.int(s.length + 1);
      const op = f.int(3);
      s = op === 0 ? s.slice(0, at) + f.pick(bytes) + s.slice(at + 1) : op === 1 ? s.slice(0, at) + f.pick(bytes) + s.slice(at) : s.slice(0, at) + s.slice(at + 1);
    }
  }
  if (f.rnd() < 0.05) s = s.slice(0, f.int(s.length));
  return Buffer.from(s, 'latin1');
}

function cuts(f: Fuzz, length: number): number[] {
  if (f.rnd() < 0.5) return [];
  return Array.from({ length: 1 + f.int(4) }, () => f.int(length + 1)).sort((a, b) => a - b);
}

const show = (o: Outcome): string => JSON.stringify(o);

describe("mesh/http1 parses requests as Node's llhttp does", () => {
  const oracle = new NodeOracle();
  beforeAll(() => oracle.start());
  afterAll(() => oracle.close());

  it(`agrees with Node on ${CASES} generated and mutated request streams (seed ${SEED})`, async () => {
    const f = new Fuzz(SEED);
    const inputs = Array.from({ length: CASES }, () => {
      const input = stream(f);
      return { input, cuts: cuts(f, input.length) };
    });
    const disagreements: string[] = [];
    const tally = { accepted: 0, rejected: 0, incomplete: 0, requests: 0 };
    const whys: Record<string, number> = {};
    const parallel = 16;
    for (let i = 0; i < inputs.length; i += parallel) {
      const batch = inputs.slice(i, i + parallel);
      const theirs = await Promise.all(batch.map((c) => oracle.parse(c.input)));
      batch.forEach((c, k) => {
        const ours = meshParse(c.input, c.cuts);
        const node = theirs[k];
        // llhttp reads "GET /x\r\n" (HTTP/0.9) or HTTP/2.0 as a request line and waits for the rest; meshlab refuses
        // them at once (by design: Node's outcome is held to the same rule once the head is complete, in NodeOracle).
        const http09 = (ours.why === 'http1.codec_error{http09_request}' || ours.why === 'http1.codec_error{unsupported_version}') && node.end === 'incomplete';
        const same = (ours.end === node.end || http09) && JSON.stringify(ours.messages) === JSON.stringify(node.messages);
        if (!same) disagreements.push(`${JSON.stringify(c.input.toString('latin1'))} cuts ${JSON.stringify(c.cuts)}\n  node:    ${show(node)}\n  meshlab: ${show(ours)}`);
        tally.requests += node.messages.length;
        if (node.end === 'error') {
          tally.rejected++;
          whys[node.why ?? ''] = (whys[node.why ?? ''] ?? 0) + 1;
        }
        else if (node.end === 'incomplete') tally.incomplete++;
        else tally.accepted++;
      });
    }
    if (process.env.HTTP1_FUZZ_VERBOSE) console.log(tally, whys, disagreements.length, disagreements.slice(0, 40).join('\n'));
    expect(disagreements.slice(0, 5)).toEqual([]);
    expect(disagreements.length).toBe(0);
    // The corpus must exercise both sides: plenty accepted, plenty rejected.
    expect(tally.accepted).toBeGreaterThan(CASES * 0.25);
    expect(tally.rejected).toBeGreaterThan(CASES * 0.2);
  });
});
