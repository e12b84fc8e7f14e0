import http from 'node:http';
import net from 'node:net';
import { SpanExporter } from '../../mesh/telemetry/span-exporter';
import { StreamInfo } from '../../mesh/stream-info';
import { seededRandom } from '../../lib/random';
import { endpointOf, type SpanSource, type ZipkinSpan } from '../../mesh/telemetry/zipkin';
import { encodeZipkinHops, type HopConstants } from '../../mesh/telemetry/hop-spans';
import { ZipkinHopEncoder } from '../../mesh/telemetry/zipkin-hop-encoder';
import { JsonBytes } from '../../mesh/telemetry/json-bytes';

/**
 * The hand-written Zipkin encoder is held byte for byte to what the exporter sent before it: `oldEncodeZipkinHops` is
 * that code as it was (commit 55e4c80, hop-spans.ts), JSON.stringify of one plain object per hop, then UTF-8.
 */
function oldEncodeZipkinHops(infos: readonly StreamInfo[], source: SpanSource, c: HopConstants): string {
  const spanName = (info: StreamInfo): string => `${info.destinationService || 'unknown'}.${(info.direction === 'outbound' ? info.upstream?.namespace : undefined) ?? c.namespace}.svc.cluster.local:80/*`;
  const startMs = (info: StreamInfo): number => Number(info.startNs) / 1e6 + c.clockOffsetMs;
  const peerOf = (info: StreamInfo): string => (info.direction === 'outbound' ? (info.upstream?.key ?? '') : info.peerAddress);
  const isError = (info: StreamInfo): boolean => info.status === 0 || info.status >= 500;
  const localEndpoint = { serviceName: source.serviceName, ipv4: source.ipv4, port: source.port };
  const out = new Array<ZipkinSpan>(infos.length);
  const remotes = new Map<string, ZipkinSpan['remoteEndpoint']>();
  for (let n = 0; n < infos.length; n++) {
    const info = infos[n];
    const peer = peerOf(info);
    let remote = remotes.get(peer);
    if (remote === undefined && !remotes.has(peer)) {
      remote = peer ? endpointOf(peer) : undefined;
      remotes.set(peer, remote);
    }
    const tags: Record<string, string> = {
      direction: info.direction,
      'http.method': info.method,
      'http.url': `http://${info.authority || info.destinationService}${info.path}`,
      'http.status_code': String(info.status),
      response_flags: info.responseFlags,
      upstream_cluster: info.cluster,
      upstream_instance: info.upstream?.instance ?? '-',
      'peer.address': peer,
      'istio.canonical_service': c.canonicalService,
      'istio.canonical_revision': c.canonicalRevision,
      'istio.mesh_id': c.meshId,
      'istio.namespace': c.namespace,
      node_id: c.nodeId,
      'guid:x-request-id': info.requestId,
      request_size: String(info.bytesReceived),
      response_size: String(info.bytesSent),
      component: 'proxy',
    };
    if (c.literalTags.length > 0) for (let i = 0; i < c.literalTags.length; i++) tags[c.literalTags[i][0]] = c.literalTags[i][1];
    const custom = info.customTags;
    if (custom) for (let i = 0; i < custom.length; i += 2) tags[custom[i]] = custom[i + 1];
    if (isError(info)) tags.error = 'true';
    out[n] = {
      traceId: info.traceId,
      id: info.spanId,
      parentId: info.parentSpanId ?? undefined,
      name: spanName(info),
      kind: info.direction === 'outbound' ? 'CLIENT' : 'SERVER',
      timestamp: Math.round(startMs(info) * 1000),
      duration: Math.max(1, Math.round(info.durationUs)),
      localEndpoint,
      remoteEndpoint: remote,
      shared: info.sharedSpan ? true : undefined,
      tags,
    };
  }
  return JSON.stringify(out);
}

type Writable<T> = { -readonly [K in keyof T]: T[K] };

/** Random text that exercises every escape: quotes, backslashes, controls, DEL, Latin-1, BMP, U+2028, astral pairs and lone surrogates. */
function textOf(rnd: () => number, max = 24): string {
  const pools = [
    () => String.fromCharCode(0x20 + Math.floor(rnd() * 0x5f)), // printable ASCII
    () => '"\\/'[Math.floor(rnd() * 3)],
    () => String.fromCharCode(Math.floor(rnd() * 0x20)), // controls, \b \t \n \f \r among them
    () => '\u007f',
    () => String.fromCharCode(0x80 + Math.floor(rnd() * 0x780)), // 2-byte UTF-8
    () => String.fromCharCode(0x800 + Math.floor(rnd() * 0xd000)), // 3-byte, below the surrogates
    () => '\u2028\u2029\ufeff\uffff'[Math.floor(rnd() * 4)],
    () => String.fromCodePoint(0x10000 + Math.floor(rnd() * 0xfffff)), // a surrogate pair
    () => String.fromCharCode(0xd800 + Math.floor(rnd() * 0x800)), // a lone surrogate (high or low)
  ];
  let s = '';
  const n = Math.floor(rnd() * max);
  for (let i = 0; i < n; i++) s += rnd() < 0.6 ? pools[0]() : pools[1 + Math.floor(rnd() * (pools.length - 1))]();
  return s;
}

const pick = <T>(rnd: () => number, xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
const hex = (rnd: () => number, n: number): string => Array.from({ length: n }, () => '0123456789abcdef'[Math.floor(rnd() * 16)]).join('');

/** Tag keys JSON.stringify would not simply append: Istio's own, error, an array index, __proto__, a repeat. */
const TRICKY_KEYS = ['error', 'http.method', 'component', 'node_id', '7', '0', '__proto__', 'lab', 'user'];

function randomHop(rnd: () => number): StreamInfo {
  const info = new StreamInfo(rnd() < 0.5 ? 'outbound' : 'inbound') as Writable<StreamInfo>;
  info.startNs = BigInt(Math.floor(rnd() * 1e15)) + 1n;
  info.traceId = hex(rnd, 32);
  info.spanId = hex(rnd, 16);
  info.parentSpanId = pick(rnd, [null, hex(rnd, 16), '']);
  info.sharedSpan = rnd() < 0.3;
  info.method = pick(rnd, ['GET', 'POST', 'DELETE', textOf(rnd, 6)]);
  info.path = rnd() < 0.5 ? `/api/items/${Math.floor(rnd() * 1000)}` : `/${textOf(rnd, 60)}`;
  info.authority = pick(rnd, ['', 'payments:80', textOf(rnd, 12)]);
  info.destinationService = pick(rnd, ['', 'payments', 'orders', textOf(rnd, 8)]);
  info.requestId = rnd() < 0.7 ? `${hex(rnd, 8)}-${hex(rnd, 4)}-${hex(rnd, 4)}-${hex(rnd, 4)}-${hex(rnd, 12)}` : textOf(rnd, 40);
  info.status = pick(rnd, [0, 200, 201, 404, 499, 500, 503, 504]);
  info.cluster = pick(rnd, ['-', 'outbound|80|v1|payments.default.svc.cluster.local', 'inbound|80||', textOf(rnd, 20)]);
  for (const f of ['UF', 'UO', 'URX', 'UT', 'DC']) if (rnd() < 0.1) info.flags.push(f);
  info.bytesReceived = Math.floor(rnd() * 100000);
  info.bytesSent = Math.floor(rnd() * 100000);
  info.durationUs = pick(rnd, [0, 0.4, 0.5, 1.5, rnd() * 1e6, rnd() * 1e9]);
  info.peerAddress = pick(rnd, ['', '127.0.0.1:55123', '10.0.0.7:443', 'payments:15006', '[::1]:80', textOf(rnd, 10)]);
  if (rnd() < 0.7) (info as { upstream?: object }).upstream = { namespace: pick(rnd, ['default', 'shop', textOf(rnd, 6)]), instance: pick(rnd, ['payments-v1-0', textOf(rnd, 10)]), key: pick(rnd, ['127.0.0.1:7001', 'host:1', '', textOf(rnd, 10)]) };
  if (rnd() < 0.3) {
    const tags: string[] = [];
    for (let i = Math.floor(rnd() * 4); i > 0; i--) tags.push(rnd() < 0.15 ? pick(rnd, TRICKY_KEYS) : `h-${textOf(rnd, 8)}`, textOf(rnd, 16));
    info.customTags = tags;
  }
  return info as StreamInfo;
}

function randomConstants(rnd: () => number): HopConstants {
  const literal: [string, string][] = [];
  for (let i = Math.floor(rnd() * 3); i > 0; i--) literal.push([rnd() < 0.1 ? pick(rnd, TRICKY_KEYS) : `lit-${textOf(rnd, 6)}`, textOf(rnd, 12)]);
  return {
    canonicalService: pick(rnd, ['payments', textOf(rnd, 10)]),
    canonicalRevision: pick(rnd, ['v1', textOf(rnd, 4)]),
    namespace: pick(rnd, ['default', 'shop', textOf(rnd, 6)]),
    meshId: 'cluster.local',
    nodeId: `sidecar~127.0.0.1~${textOf(rnd, 8)}.default~default.svc.cluster.local`,
    literalTags: literal,
    clockOffsetMs: rnd() * 1.7e12,
  };
}

describe('the Zipkin body is written byte for byte as JSON.stringify wrote it', () => {
  test('2,000 batches of random hops (seed 20: unicode, escapes, lone surrogates, colliding tag keys, constants changing) give the old encoder\'s bytes, on one reused encoder', () => {
    const rnd = seededRandom(20);
    const sources: SpanSource[] = [{ serviceName: 'payments-v1', ipv4: '127.0.0.1' }, { serviceName: textOf(rnd, 10) }, { serviceName: 'x', port: 9 }];
    const encoders = sources.map((s) => new ZipkinHopEncoder(s));
    let constants = randomConstants(rnd);
    let spans = 0;
    let slow = 0;
    let bytes = 0;
    for (let b = 0; b < 2000; b++) {
      if (rnd() < 0.05) constants = randomConstants(rnd);
      const k = Math.floor(rnd() * sources.length);
      const infos = Array.from({ length: Math.floor(rnd() * 40) }, () => randomHop(rnd));
      const expected = Buffer.from(oldEncodeZipkinHops(infos, sources[k], constants));
      const got = encoders[k].encode(infos, constants);
      if (!got.equals(expected)) expect(got.toString('utf8')).toBe(expected.toString('utf8')); // shows where
      expect(got.equals(expected)).toBe(true);
      // The refactored reference (zipkinHop) is the same text.
      expect(encodeZipkinHops(infos, sources[k], constants)).toBe(expected.toString('utf8'));
      spans += infos.length;
      bytes += got.length;
      slow += infos.filter((i) => i.customTags?.some((t, j) => j % 2 === 0 && TRICKY_KEYS.slice(0, 7).includes(t))).length;
    }
    // The run covered what it claims: tens of thousands of spans, some of them on the JSON.stringify path.
    expect(spans).toBeGreaterThan(30_000);
    expect(slow).toBeGreaterThan(100);
    expect(bytes).toBeGreaterThan(20_000_000);
  });

  test('a real hop shape (as the exporter-cost bench makes it) is ~870 bytes and the same bytes', () => {
    const info = new StreamInfo('outbound');
    Object.assign(info, { method: 'GET', path: '/api/items/7', authority: 'upstream', destinationService: 'upstream', requestId: '2b1d4f1e-8a9e-4c1e-9a55-0d2c7f1b6a11', traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), cluster: 'outbound|80||upstream.default.svc.cluster.local', status: 200, bytesSent: 11, sampled: true });
    (info as { upstream?: object }).upstream = { namespace: 'default', instance: 'upstream-0', key: '127.0.0.1:1' };
    info.finish();
    const c: HopConstants = { canonicalService: 'bench-client', canonicalRevision: 'v1', namespace: 'default', meshId: 'cluster.local', nodeId: 'sidecar~127.0.0.1~bench-0.default~default.svc.cluster.local', literalTags: [], clockOffsetMs: 1.7e12 };
    const source = { serviceName: 'bench-client-v1' };
    const batch = Array.from({ length: 512 }, () => info);
    const got = new ZipkinHopEncoder(source).encode(batch, c);
    expect(got.equals(Buffer.from(oldEncodeZipkinHops(batch, source, c)))).toBe(true);
    expect(Math.round(got.length / 512)).toBeGreaterThan(700);
    expect(Math.round(got.length / 512)).toBeLessThan(1000);
  });

  test('JsonBytes: every UTF-16 code unit alone, and every surrogate pair boundary, is JSON.stringify + UTF-8; a buffer grown past its keep size is given back', () => {
    const w = new JsonBytes(16);
    for (let c = 0; c <= 0xffff; c++) {
      const s = `a${String.fromCharCode(c)}b`;
      w.reset();
      w.string(s);
      const want = Buffer.from(JSON.stringify(s));
      if (!w.view().equals(want)) throw new Error(`U+${c.toString(16)}: ${w.view().toString('hex')} != ${want.toString('hex')}`);
    }
    for (const s of ['\ud83d\ude00', '\ud83d', '\ude00', '\ude00\ud83d', 'x\ud83d', '\ud83d\ud83d\ude00', '\udbff\udfff']) {
      w.reset();
      w.string(s);
      expect(w.view().equals(Buffer.from(JSON.stringify(s)))).toBe(true);
    }
    // A buffer grown past keepBytes (here by a 1 MiB string, 6 MiB reserved for its escapes) is given back at the next reset.
    const big = new JsonBytes(1024, 64 * 1024);
    big.string('x'.repeat(1 << 20));
    expect(big.capacity).toBeGreaterThan(1 << 20);
    big.reset();
    expect(big.capacity).toBe(1024);
    for (const n of [0, -0, 1.5, 1e21, 1e-7, 2 ** 53, NaN, Infinity, -Infinity]) {
      w.reset();
      w.number(n);
      expect(w.view().toString()).toBe(JSON.stringify(n));
    }
  });

  test('JsonBytes.uint writes String(n) for 0 ≤ n < 2^53 integers (digit boundaries, µs timestamps) and refuses the 7 other kinds of number, writing nothing', () => {
    const w = new JsonBytes(16);
    const ints = [0, -0, 1, 9, 10, 99, 100, 65535, 99999999, 100000000, 100000001, 1234567890, 1764000000123456, 1e15 + 7, 2 ** 53 - 1];
    for (let k = 0; k < 2000; k++) ints.push(Math.floor(Math.random() * 2 ** 53), Math.floor(Math.random() * 1e9));
    for (const n of ints) {
      w.reset();
      expect(w.uint(n)).toBe(true);
      expect(w.view().toString()).toBe(String(n));
    }
    for (const n of [-1, 1.5, 2 ** 53, 1e21, NaN, Infinity, -Infinity]) {
      w.reset();
      expect([w.uint(n), w.length]).toEqual([false, 0]);
    }
  });
});

describe('the reused buffer is never rewritten while a report is on the wire', () => {
  const bodies: Buffer[] = [];
  let allThree!: () => void;
  const received = new Promise<void>((r) => (allThree = r));
  const server = http.createServer((req, res) => {
    res.writeHead(202).end(); // before the body: the client has its answer while its body is still being written
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => bodies.push(Buffer.concat(chunks)) === 3 && allThree());
  });
  beforeAll(() => new Promise<void>((r) => server.listen(0, '127.0.0.1', r)));
  afterAll(() => {
    server.closeAllConnections();
    return new Promise((r) => server.close(r));
  });

  test('a collector that answers 202 before reading the body: 3 reports of 4 hops (~4 MB each) arrive intact, each the bytes of its own batch', async () => {
    const port = (server.address() as net.AddressInfo).port;
    const c: HopConstants = { canonicalService: 'orders', canonicalRevision: 'v1', namespace: 'default', meshId: 'cluster.local', nodeId: 'n', literalTags: [], clockOffsetMs: 1.7e12 };
    const source = { serviceName: 'orders-v1' };
    const encoder = new ZipkinHopEncoder(source);
    const hops = Array.from({ length: 12 }, (_, i) => {
      const info = new StreamInfo('outbound');
      Object.assign(info, { traceId: 'a'.repeat(32), spanId: i.toString(16).padStart(16, '0'), path: `/${String.fromCharCode(97 + i).repeat(1 << 20)}`, status: 200 });
      info.finish();
      return info;
    });
    const exporter = new SpanExporter<StreamInfo>({ url: `http://127.0.0.1:${port}/api/v2/spans`, encode: (infos) => encoder.encode(infos, c), source, maxBatch: 4, flushMs: 60_000 });
    for (const h of hops) exporter.offer(h);
    await exporter.flush();
    await exporter.close();
    expect(exporter.stats).toMatchObject({ reportsSent: 3, spansSent: 12, reportsFailed: 0 });
    await received;
    const expected = [0, 4, 8].map((i) => Buffer.from(encodeZipkinHops(hops.slice(i, i + 4), source, c)));
    // Node's server answers an unread request with `Connection: close`, so each report may go on a connection of its
    // own and the bodies can end in any order: each body must be the bytes of exactly one batch, each batch once.
    const matched = bodies.map((b) => expected.findIndex((e) => e.equals(b)));
    expect([...matched].sort()).toEqual([0, 1, 2]);
  }, 20_000);
});
