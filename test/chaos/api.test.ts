/**
 * The HTTP API driven by the unmodified npm toxiproxy-node-client, plus raw HTTP where the
 * exact status, body bytes and headers matter (they mirror Shopify/toxiproxy's api_test.go).
 */
import * as net from 'node:net';
import { Toxiproxy, ToxiproxyError } from 'toxiproxy-node-client';
import type { ChaosServer } from '../../chaos/server';
import { connect, http, portOf, readN, startChaos, startEcho, type Fixture } from './helpers';
import { API_BODY_LIMIT_BYTES } from '../../chaos/api';
import { Fuzz } from '../support/fuzz';

let server: ChaosServer;
let echo: Fixture;
let tp: Toxiproxy;
let upstream: string;

beforeAll(async () => {
  echo = await startEcho();
  upstream = `127.0.0.1:${echo.port}`;
});
afterAll(async () => {
  await echo.close();
});
beforeEach(async () => {
  server = await startChaos();
  tp = new Toxiproxy(server.url);
});
afterEach(async () => {
  await server.close();
});

/** A port that is free right now (for "already in use" and restart tests). */
async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

async function expectProxyUp(listen: string, up: boolean): Promise<void> {
  const attempt = new Promise<boolean>((resolve) => {
    const s = net.connect({ port: portOf(listen), host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
  expect(await attempt).toBe(up);
}

describe('proxies via toxiproxy-node-client', () => {
  test('create resolves localhost:0 to an ephemeral 127.0.0.1 port and proxies bytes', async () => {
    const p = await tp.createProxy({ name: 'orders->payments', listen: 'localhost:0', upstream });
    expect(p.name).toBe('orders->payments');
    expect(p.listen).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(portOf(p.listen)).toBeGreaterThan(0);
    expect(p.upstream).toBe(upstream);
    expect(p.enabled).toBe(true);
    const s = await connect(portOf(p.listen));
    s.write('ping');
    expect((await readN(s, 4)).toString()).toBe('ping');
    s.destroy();
  });

  test('getAll and get return the proxy; the name with "->" survives URL encoding', async () => {
    await tp.createProxy({ name: 'orders->payments', listen: '127.0.0.1:0', upstream });
    await tp.createProxy({ name: 'a', listen: '127.0.0.1:0', upstream });
    const all = await tp.getAll();
    expect(Object.keys(all).sort()).toEqual(['a', 'orders->payments']);
    const one = await tp.get('orders->payments');
    expect(one.upstream).toBe(upstream);
  });

  test('update disables (listener closed) and re-enables on the same resolved address', async () => {
    const p = await tp.createProxy({ name: 'p', listen: '127.0.0.1:0', upstream });
    const down = await p.update({ enabled: false, listen: p.listen, upstream });
    expect(down.enabled).toBe(false);
    await expectProxyUp(p.listen, false);
    const up = await down.update({ enabled: true, listen: p.listen, upstream });
    expect(up.enabled).toBe(true);
    expect(up.listen).toBe(p.listen);
    await expectProxyUp(p.listen, true);
  });

  test('update with a new upstream keeps the listen address', async () => {
    const p = await tp.createProxy({ name: 'p', listen: '127.0.0.1:0', upstream: '127.0.0.1:1' });
    const q = await p.update({ enabled: true, listen: p.listen, upstream });
    expect(q.upstream).toBe(upstream);
    expect(q.listen).toBe(p.listen);
    const s = await connect(portOf(q.listen));
    s.write('x');
    expect((await readN(s, 1)).toString()).toBe('x');
    s.destroy();
  });

  test('create disabled keeps the unresolved listen address', async () => {
    const port = await freePort();
    const p = await tp.createProxy({ name: 'p', listen: `localhost:${port}`, upstream, enabled: false });
    expect(p.enabled).toBe(false);
    expect(p.listen).toBe(`localhost:${port}`);
    await expectProxyUp(`127.0.0.1:${port}`, false);
  });

  test('an empty listen address listens on all interfaces, reported as Go does ("[::]:port")', async () => {
    const res = await http(server, 'POST', '/proxies', { name: 'any', upstream });
    expect(res.status).toBe(201);
    expect((JSON.parse(res.text) as { listen: string }).listen).toMatch(/^\[::\]:[1-9]\d*$/);
  });

  test('remove deletes; a second remove is a 404', async () => {
    const p = await tp.createProxy({ name: 'p', listen: '127.0.0.1:0', upstream });
    await p.remove();
    await expectProxyUp(p.listen, false);
    expect(await tp.getAll()).toEqual({});
    await expect(p.remove()).rejects.toThrow(new ToxiproxyError('Error', 'Request failed with status code 404'));
  });

  test('version', async () => {
    expect(await tp.getVersion()).toBe('{"version": "2.12.0"}\n');
  });
});

describe('populate', () => {
  test('creates all proxies with 201', async () => {
    const res = await tp.populate([
      { name: 'one', listen: '127.0.0.1:0', upstream },
      { name: 'two', listen: 'localhost:0', upstream },
    ]);
    expect(Object.keys(res).sort()).toEqual(['one', 'two']);
    for (const p of Object.values(res)) await expectProxyUp(p.listen, true);
  });

  test('keeps an identical existing proxy (with its toxics) and replaces a differing one', async () => {
    const one = await tp.createProxy({ name: 'one', listen: '127.0.0.1:0', upstream });
    await one.addToxic({ type: 'latency', stream: 'downstream', toxicity: 1, attributes: { latency: 1, jitter: 0 }, name: 'lat' });
    const two = await tp.createProxy({ name: 'two', listen: '127.0.0.1:0', upstream });
    await two.addToxic({ type: 'latency', stream: 'downstream', toxicity: 1, attributes: { latency: 1, jitter: 0 }, name: 'lat' });
    // "localhost:<port>" resolves to the same address as "127.0.0.1:<port>": not a difference.
    const res = await http(server, 'POST', '/populate', [
      { name: 'one', listen: `localhost:${portOf(one.listen)}`, upstream },
      { name: 'two', listen: two.listen, upstream: '127.0.0.1:1' },
    ]);
    expect(res.status).toBe(201);
    const body = JSON.parse(res.text) as { proxies: Array<{ name: string; upstream: string; toxics: unknown[] }> };
    expect(body.proxies.map((p) => [p.name, p.upstream, p.toxics.length])).toEqual([
      ['one', upstream, 1],
      ['two', '127.0.0.1:1', 0],
    ]);
  });

  test('a missing name in entry 2 fails with 400 and creates nothing', async () => {
    const res = await http(server, 'POST', '/populate', [
      { name: 'one', listen: '127.0.0.1:0', upstream },
      { name: '', listen: '', upstream: '' },
    ]);
    expect(res.status).toBe(400);
    expect(res.text).toBe('{"error":"missing required field: name at proxy 2","status":400,"proxies":null}');
    expect(await tp.getAll()).toEqual({});
  });

  test('a bad listen address stops at that entry with 500 and returns the proxies made so far', async () => {
    const res = await http(server, 'POST', '/populate', [
      { name: 'one', listen: '127.0.0.1:0', upstream },
      { name: 'two', listen: 'local373', upstream },
      { name: 'three', listen: '127.0.0.1:0', upstream },
    ]);
    expect(res.status).toBe(500);
    const body = JSON.parse(res.text) as { error: string; status: number; proxies: Array<{ name: string }> };
    expect(body.error).toBe('listen tcp: address local373: missing port in address');
    expect(body.status).toBe(500);
    expect(body.proxies.map((p) => p.name)).toEqual(['one']);
    expect(Object.keys(await tp.getAll())).toEqual(['one']);
  });
});

describe('toxics via toxiproxy-node-client', () => {
  test('add with defaults, read back, update (partial attributes), remove', async () => {
    const p = await tp.createProxy({ name: 'p', listen: '127.0.0.1:0', upstream });
    const raw = await http(server, 'POST', '/proxies/p/toxics', { type: 'latency', attributes: { latency: 100, jitter: 10 } });
    expect(raw.status).toBe(200);
    expect(raw.text).toBe('{"attributes":{"latency":100,"jitter":10},"name":"latency_downstream","type":"latency","stream":"downstream","toxicity":1}');
    const t = await p.getToxic<{ latency: number; jitter: number }>('latency_downstream');
    expect(t.toJson()).toEqual({ attributes: { latency: 100, jitter: 10 }, name: 'latency_downstream', stream: 'downstream', toxicity: 1, type: 'latency' });
    const u = await t.update({ ...t.toJson(), toxicity: 0.5, attributes: { latency: 1000 } as { latency: number; jitter: number } });
    expect(u.toxicity).toBe(0.5);
    expect(u.attributes).toEqual({ latency: 1000, jitter: 10 });
    await u.remove();
    expect((await http(server, 'GET', '/proxies/p/toxics')).text).toBe('[]');
  });

  test('upstream and downstream toxics are listed upstream first, each with its own default name', async () => {
    const p = await tp.createProxy({ name: 'p', listen: '127.0.0.1:0', upstream });
    await p.addToxic({ type: 'bandwidth', stream: 'downstream', toxicity: 1, attributes: { rate: 5 } } as never);
    await p.addToxic({ type: 'limit_data', stream: 'upstream', toxicity: 0.25, attributes: { bytes: 7 } } as never);
    const res = await http(server, 'GET', '/proxies/p/toxics');
    expect(JSON.parse(res.text)).toEqual([
      { attributes: { bytes: 7 }, name: 'limit_data_upstream', type: 'limit_data', stream: 'upstream', toxicity: 0.25 },
      { attributes: { rate: 5 }, name: 'bandwidth_downstream', type: 'bandwidth', stream: 'downstream', toxicity: 1 },
    ]);
    const all = JSON.parse((await http(server, 'GET', '/proxies')).text) as Record<string, { toxics: unknown[] }>;
    expect(all.p.toxics).toHaveLength(2);
  });

  test('every toxic type reports its attributes with zero defaults in Toxiproxy key order', async () => {
    await tp.createProxy({ name: 'p', listen: '127.0.0.1:0', upstream });
    const expected: Record<string, string> = {
      latency: '{"latency":0,"jitter":0}',
      bandwidth: '{"rate":0}',
      slow_close: '{"delay":0}',
      timeout: '{"timeout":0}',
      reset_peer: '{"timeout":0}',
      slicer: '{"average_size":0,"size_variation":0,"delay":0}',
      limit_data: '{"bytes":0}',
      noop: '{}',
    };
    for (const [type, attrs] of Object.entries(expected)) {
      const res = await http(server, 'POST', '/proxies/p/toxics', { type, stream: 'upstream' });
      expect(res.status).toBe(200);
      expect(res.text).toBe(`{"attributes":${attrs},"name":"${type}_upstream","type":"${type}","stream":"upstream","toxicity":1}`);
    }
  });

  test('reset re-enables proxies and removes all toxics', async () => {
    const p = await tp.createProxy({ name: 'p', listen: '127.0.0.1:0', upstream });
    await p.addToxic({ type: 'latency', stream: 'upstream', toxicity: 1, attributes: { latency: 5, jitter: 0 }, name: 'l' });
    await p.update({ enabled: false, listen: p.listen, upstream });
    await tp.reset();
    const after = JSON.parse((await http(server, 'GET', '/proxies/p')).text) as { enabled: boolean; toxics: unknown[] };
    expect(after.enabled).toBe(true);
    expect(after.toxics).toEqual([]);
    await expectProxyUp(p.listen, true);
  });
});

describe('exact statuses, bodies and headers (raw HTTP)', () => {
  const err = (error: string, status: number): string => `${JSON.stringify({ error, status })}\n`;

  test('create: 201 with Toxiproxy key order; 409 duplicate; 400 missing fields and bad body', async () => {
    const created = await http(server, 'POST', '/proxies', { name: 'p', listen: '127.0.0.1:0', upstream });
    expect(created.status).toBe(201);
    expect(created.headers.get('content-type')).toBe('application/json');
    const listen = (JSON.parse(created.text) as { listen: string }).listen;
    expect(created.text).toBe(`{"name":"p","listen":"${listen}","upstream":"${upstream}","enabled":true,"toxics":[]}`);

    const dup = await http(server, 'POST', '/proxies', { name: 'p', listen: '127.0.0.1:0', upstream });
    expect([dup.status, dup.text]).toEqual([409, err('proxy already exists', 409)]);
    expect(dup.headers.get('content-type')).toBe('text/plain; charset=utf-8');

    const noName = await http(server, 'POST', '/proxies', {});
    expect([noName.status, noName.text]).toEqual([400, err('missing required field: name', 400)]);
    const noUp = await http(server, 'POST', '/proxies', { name: 'q' });
    expect([noUp.status, noUp.text]).toEqual([400, err('missing required field: upstream', 400)]);
    const empty = await http(server, 'POST', '/proxies', '');
    expect([empty.status, empty.text]).toEqual([400, err('bad request body: EOF', 400)]);
    const wrongType = await http(server, 'POST', '/proxies', { name: 5, upstream });
    expect([wrongType.status, wrongType.text]).toEqual([
      400,
      err('bad request body: json: cannot unmarshal number into Go struct field Proxy.name of type string', 400),
    ]);
  });

  test('listen address already in use is a 500 with Go net error text', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const res = await http(server, 'POST', '/proxies', { name: 'p', listen: `localhost:${port}`, upstream });
      expect([res.status, res.text]).toEqual([500, err(`listen tcp 127.0.0.1:${port}: bind: address already in use`, 500)]);
      expect((await http(server, 'GET', '/proxies')).text).toBe('{}');
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });

  test('404s for unknown proxy and toxic; 204 for deletes and reset', async () => {
    expect(await http(server, 'GET', '/proxies/nope')).toMatchObject({ status: 404, text: err('proxy not found', 404) });
    expect(await http(server, 'DELETE', '/proxies/nope')).toMatchObject({ status: 404, text: err('proxy not found', 404) });
    expect(await http(server, 'GET', '/proxies/nope/toxics')).toMatchObject({ status: 404, text: err('proxy not found', 404) });
    await http(server, 'POST', '/proxies', { name: 'p', listen: '127.0.0.1:0', upstream });
    expect(await http(server, 'GET', '/proxies/p/toxics/t')).toMatchObject({ status: 404, text: err('toxic not found', 404) });
    expect(await http(server, 'PATCH', '/proxies/p/toxics/t', {})).toMatchObject({ status: 404, text: err('toxic not found', 404) });
    expect(await http(server, 'DELETE', '/proxies/p/toxics/t')).toMatchObject({ status: 404, text: err('toxic not found', 404) });
    await http(server, 'POST', '/proxies/p/toxics', { type: 'noop', name: 't' });
    expect(await http(server, 'DELETE', '/proxies/p/toxics/t')).toMatchObject({ status: 204, text: '' });
    expect(await http(server, 'POST', '/reset')).toMatchObject({ status: 204, text: '' });
    expect(await http(server, 'DELETE', '/proxies/p')).toMatchObject({ status: 204, text: '' });
  });

  test('toxic validation: invalid stream, invalid type, duplicate name (across streams), bad attributes', async () => {
    await http(server, 'POST', '/proxies', { name: 'p', listen: '127.0.0.1:0', upstream });
    const stream = await http(server, 'POST', '/proxies/p/toxics', { type: 'latency', stream: 'walrustream' });
    expect([stream.status, stream.text]).toEqual([400, err('stream was invalid, can be either upstream or downstream', 400)]);
    const type = await http(server, 'POST', '/proxies/p/toxics', { type: 'walrus' });
    expect([type.status, type.text]).toEqual([400, err('invalid toxic type', 400)]);
    await http(server, 'POST', '/proxies/p/toxics', { type: 'latency', name: 'foobar', stream: 'upstream' });
    const dup = await http(server, 'POST', '/proxies/p/toxics', { type: 'slow_close', name: 'foobar', stream: 'downstream' });
    expect([dup.status, dup.text]).toEqual([409, err('toxic already exists', 409)]);
    const frac = await http(server, 'POST', '/proxies/p/toxics', { type: 'latency', attributes: { latency: 1.5 } });
    expect([frac.status, frac.text]).toEqual([
      400,
      err('bad request body: json: cannot unmarshal number 1.5 into Go struct field .attributes.latency of type int64', 400),
    ]);
    const upd = await http(server, 'PATCH', '/proxies/p/toxics/foobar', { attributes: { latency: 'x' } });
    expect(upd.status).toBe(400);
  });

  test('toxicity is echoed as a float32 and stream spelling is kept', async () => {
    await http(server, 'POST', '/proxies', { name: 'p', listen: '127.0.0.1:0', upstream });
    const res = await http(server, 'POST', '/proxies/p/toxics', { type: 'noop', stream: 'UpStream', toxicity: 0.2 });
    expect(res.text).toBe('{"attributes":{},"name":"noop_UpStream","type":"noop","stream":"UpStream","toxicity":0.2}');
  });

  test('request id header, browser user agents refused, unknown routes and methods', async () => {
    const v = await http(server, 'GET', '/version');
    expect(v.headers.get('x-toxiproxy-request-id')).toMatch(/^[0-9a-v]{20}$/);
    expect(v.headers.get('content-type')).toBe('application/json;charset=utf-8');
    const browser = await http(server, 'GET', '/proxies', undefined, { 'User-Agent': 'Mozilla/5.0 (X11; Linux x86_64)' });
    expect([browser.status, browser.text]).toEqual([403, 'User agent not allowed\n']);
    const wget = await http(server, 'GET', '/proxies', undefined, { 'User-Agent': 'Wget/2.1' });
    expect(wget.status).toBe(200);
    expect(await http(server, 'GET', '/nope')).toMatchObject({ status: 404, text: '404 page not found\n' });
    expect(await http(server, 'PUT', '/proxies')).toMatchObject({ status: 405, text: '' });
  });

  test('POST /proxies/{p} (deprecated update) behaves like PATCH', async () => {
    await http(server, 'POST', '/proxies', { name: 'p', listen: '127.0.0.1:0', upstream });
    const res = await http(server, 'POST', '/proxies/p', { enabled: false });
    expect(res.status).toBe(200);
    expect((JSON.parse(res.text) as { enabled: boolean }).enabled).toBe(false);
  });
});

describe('bad input to the chaos API', () => {
  const state = async (): Promise<string> => (await http(server, 'GET', '/proxies')).text;

  test('a body over the 1 MiB limit gets 413 in Toxiproxy\'s error shape, by Content-Length and chunked, and creates nothing', async () => {
    const huge = JSON.stringify({ name: 'big', listen: '127.0.0.1:0', upstream, pad: 'x'.repeat(API_BODY_LIMIT_BYTES) });
    const byLength = await http(server, 'POST', '/proxies', huge);
    expect([byLength.status, JSON.parse(byLength.text)]).toEqual([413, { error: `request body too large: the limit is ${API_BODY_LIMIT_BYTES} bytes`, status: 413 }]);
    const chunks = new ReadableStream({
      start(c) {
        for (let i = 0; i < huge.length; i += 65536) c.enqueue(new TextEncoder().encode(huge.slice(i, i + 65536)));
        c.close();
      },
    });
    const res = await fetch(`${server.url}/populate`, { method: 'POST', body: chunks, duplex: 'half' } as RequestInit);
    expect(res.status).toBe(413);
    expect(await state()).toBe('{}');
  });

  test('a megabyte of unclosed brackets is refused within 2 s (400, Go\'s "exceeded max depth"; 5,000 of them: "unexpected EOF"), and the API keeps answering', async () => {
    const t0 = performance.now();
    const res = await http(server, 'POST', '/proxies', '['.repeat(API_BODY_LIMIT_BYTES - 1));
    expect([res.status, JSON.parse(res.text)]).toEqual([400, { error: 'bad request body: exceeded max depth', status: 400 }]);
    const shallow = await http(server, 'POST', '/proxies', '['.repeat(5000));
    expect([shallow.status, JSON.parse(shallow.text)]).toEqual([400, { error: 'bad request body: unexpected EOF', status: 400 }]);
    expect(performance.now() - t0).toBeLessThan(2000);
    expect((await http(server, 'GET', '/version')).status).toBe(200);
  });

  test('1,000 random bodies (seed 8474: odd shapes, wrong types, truncated JSON) to every route: no 5xx except Toxiproxy\'s own listen errors, and no refused request changes the proxies', async () => {
    await tp.createProxy({ name: 'p', listen: '127.0.0.1:0', upstream });
    await http(server, 'POST', '/proxies/p/toxics', { name: 't', type: 'latency', attributes: { latency: 1 } });
    const fuzz = new Fuzz(8474);
    const routes: { method: string; path: string; keys: string[] }[] = [
      { method: 'POST', path: '/proxies', keys: ['name', 'listen', 'upstream', 'enabled'] },
      { method: 'POST', path: '/populate', keys: ['name', 'listen', 'upstream', 'enabled'] },
      { method: 'POST', path: '/proxies/p', keys: ['listen', 'upstream', 'enabled'] },
      { method: 'PATCH', path: '/proxies/p', keys: ['listen', 'upstream', 'enabled'] },
      { method: 'POST', path: '/proxies/p/toxics', keys: ['name', 'type', 'stream', 'toxicity', 'attributes', 'latency', 'jitter', 'rate', 'timeout', 'bytes'] },
      { method: 'POST', path: '/proxies/p/toxics/t', keys: ['toxicity', 'attributes', 'latency', 'jitter'] },
      { method: 'POST', path: '/proxies/nope/toxics', keys: ['name', 'type'] },
    ];
    const failures: string[] = [];
    let refused = 0;
    let proxiesCreated = 0;
    for (let i = 0; i < 1000; i++) {
      const r = fuzz.pick(routes);
      const body = fuzz.body(r.keys);
      const before = await state();
      const res = await http(server, r.method, r.path, body);
      const what = `#${i} ${r.method} ${r.path} ${body.slice(0, 80)} → ${res.status} ${res.text.slice(0, 120)}`;
      if (res.status < 400) {
        // Accepted (a valid body, e.g. a proxy with an ephemeral port): undo it so later checks compare against one state.
        if (r.path === '/proxies' || r.path === '/populate') {
          proxiesCreated++;
          for (const name of Object.keys(JSON.parse(await state()))) if (name !== 'p') await http(server, 'DELETE', `/proxies/${encodeURIComponent(name)}`);
        }
        continue;
      }
      refused++;
      let err: { error?: unknown; status?: unknown } = {};
      try {
        err = JSON.parse(res.text) as typeof err;
      } catch {
        failures.push(`${what}: not Toxiproxy's JSON error shape`);
      }
      if (typeof err.error !== 'string' || err.status !== res.status) failures.push(`${what}: not {"error", "status"}`);
      // Toxiproxy answers a listen address it cannot bind with 500 (Go's net error); clients match on it, so that stays.
      const listenError = res.status === 500 && /^listen tcp/.test(String(err.error));
      if (res.status >= 500 && !listenError) failures.push(`${what}: a 5xx`);
      if (!(listenError && r.path === '/populate') && (await state()) !== before) failures.push(`${what}: the proxies changed`);
      if (listenError && r.path === '/populate') for (const name of Object.keys(JSON.parse(await state()))) if (name !== 'p') await http(server, 'DELETE', `/proxies/${encodeURIComponent(name)}`);
    }
    expect(failures.slice(0, 10)).toEqual([]);
    expect(refused).toBeGreaterThan(700);
    expect(proxiesCreated).toBeLessThan(100);
  });
});
