import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { startControlPlane, type ControlPlane } from '../../mesh/control-plane/server';
import { CP_BODY_LIMIT_BYTES } from '../../mesh/control-plane/input';
import { loadYaml } from '../../mesh/config/load';
import { Fuzz } from '../support/fuzz';

interface Answer {
  status: number;
  contentType: string;
  body: string;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

/** One request over node:http (exact control of the body: chunked, truncated, any content type). */
function send(port: number, method: string, path: string, body: string | Buffer | undefined, headers: Record<string, string> = {}, chunked = false): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    if (body === undefined) return void req.end();
    if (!chunked) return void req.end(body);
    const buf = Buffer.from(body);
    for (let i = 0; i < buf.length; i += 65536) req.write(buf.subarray(i, i + 65536));
    req.end();
  });
}

const ENDPOINTS: { method: string; path: string; keys: string[] }[] = [
  { method: 'POST', path: '/v1/ack', keys: ['node', 'version', 'error'] },
  { method: 'POST', path: '/v1/ready', keys: ['node', 'ready'] },
  { method: 'POST', path: '/v1/edges', keys: ['edges', 'from', 'instance', 'host', 'port'] },
  { method: 'POST', path: '/v1/config/apply', keys: ['files', 'name', 'text'] },
  { method: 'POST', path: '/v1/config/delete', keys: ['files', 'refs', 'kind', 'name', 'namespace', 'text'] },
  { method: 'POST', path: '/v1/certificates', keys: ['node', 'csr'] },
  { method: 'POST', path: '/v1/scenarios/events', keys: ['type', 'run', 'scenario', 'name', 'expected', 'measured'] },
  { method: 'POST', path: '/v1/dashboard/chaos/toxics', keys: ['proxy', 'type', 'latency', 'timeout', 'stream'] },
  { method: 'POST', path: '/v1/dashboard/chaos/toxics/remove', keys: ['proxy', 'toxic'] },
  { method: 'POST', path: '/v1/dashboard/labs/payments-v1-0/sick', keys: ['error_rate', 'status', 'latency_ms'] },
];

/** The control plane in-process on a real socket, its mesh state compared before and after every refused request. */
describe('control plane: bad input gets a 4xx with a clear message and changes nothing', () => {
  let dir: string;
  let cp: ControlPlane;
  let stream: http.ClientRequest;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshlab-cp-fuzz-'));
    cp = await startControlPlane({ host: '127.0.0.1', port: 0, dataDir: dir, services: ['orders', 'payments', 'notifications'] });
    // One registered node, so refusals that name a node which exists are exercised too.
    const node = { id: 'fuzz-node-0', role: 'sidecar', service: 'payments', labels: { app: 'payments' }, inbound: { host: '127.0.0.1', port: 1 } };
    await new Promise<void>((resolve) => {
      stream = http.get({ host: '127.0.0.1', port: cp.port, path: '/v1/discovery', headers: { 'x-mesh-node': JSON.stringify(node) } }, (res) => {
        res.resume();
        resolve();
      });
      stream.on('error', () => {});
    });
  });
  afterAll(async () => {
    stream.destroy();
    agent.destroy();
    await cp.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const state = (): string => JSON.stringify({ version: cp.registry.currentVersion, config: cp.config.list(), nodes: cp.registry.list().map((n) => ({ ...n.info, ready: n.ready, acked: n.ackedVersion, nack: n.nack?.error })), snapshot: cp.registry.snapshot() });

  /** Checks one answer: never 5xx; a refusal is JSON with an `error` string (or analyzer `messages` on 422) and left the state as it was. */
  function judge(what: string, a: Answer, before: string, failures: string[]): void {
    if (a.status >= 500) failures.push(`${what} → ${a.status} ${a.body.slice(0, 200)}`);
    if (a.status < 400) return;
    let parsed: { error?: unknown; messages?: unknown } = {};
    try {
      parsed = JSON.parse(a.body) as typeof parsed;
    } catch {
      failures.push(`${what} → ${a.status} without a JSON body: ${a.body.slice(0, 100)}`);
    }
    const clear = (typeof parsed.error === 'string' && parsed.error.length > 10) || (a.status === 422 && Array.isArray(parsed.messages) && parsed.messages.length > 0);
    if (!clear) failures.push(`${what} → ${a.status} without a clear message: ${a.body.slice(0, 200)}`);
    if (state() !== before) failures.push(`${what} → ${a.status} but the mesh state changed`);
  }

  test('the reported bugs: /v1/ack and /v1/ready with null, /v1/config/delete with a non-array answer 400 naming the field', async () => {
    const j = { 'content-type': 'application/json' };
    const ack = await send(cp.port, 'POST', '/v1/ack', 'null', j);
    expect([ack.status, JSON.parse(ack.body).error]).toEqual([400, expect.stringContaining('body must be {"node": "<id>", "version": <integer >= 0>}')]);
    const ready = await send(cp.port, 'POST', '/v1/ready', 'null', j);
    expect([ready.status, JSON.parse(ready.body).error]).toEqual([400, expect.stringContaining('"ready": true|false')]);
    const del = await send(cp.port, 'POST', '/v1/config/delete', JSON.stringify({ refs: 'VirtualService/payments' }), j);
    expect([del.status, JSON.parse(del.body).error]).toEqual([400, expect.stringContaining('refs must be an array, got string')]);
    const delFiles = await send(cp.port, 'POST', '/v1/config/delete', JSON.stringify({ files: { name: 'a', text: 'b' } }), j);
    expect([delFiles.status, JSON.parse(delFiles.body).error]).toEqual([400, expect.stringContaining('files must be an array')]);
  });

  test(`a body over ${CP_BODY_LIMIT_BYTES} bytes gets 413 on every endpoint, by Content-Length and chunked alike`, async () => {
    const huge = JSON.stringify({ files: [{ name: 'big.yaml', text: 'x'.repeat(CP_BODY_LIMIT_BYTES + 10) }] });
    const before = state();
    for (const e of ENDPOINTS) {
      for (const chunked of [false, true]) {
        const a = await send(cp.port, e.method, e.path, huge, { 'content-type': 'application/json', ...(chunked ? {} : { 'content-length': String(Buffer.byteLength(huge)) }) }, chunked);
        expect([e.path, chunked, a.status]).toEqual([e.path, chunked, 413]);
        expect(JSON.parse(a.body).error).toContain(`at most ${CP_BODY_LIMIT_BYTES} bytes`);
      }
    }
    expect(state()).toBe(before);
  });

  test('3,000 random bodies (seed 2121: odd JSON shapes, wrong types, truncated JSON, wrong content types) to 10 endpoints: no 5xx, every refusal clear, no refusal changes the state', async () => {
    const fuzz = new Fuzz(2121);
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    for (let i = 0; i < 3000; i++) {
      const e = fuzz.pick(ENDPOINTS);
      const body = fuzz.body(e.keys);
      const type = fuzz.pick(['application/json', 'application/json', 'application/json', 'text/plain', 'application/x-www-form-urlencoded', '']);
      const before = state();
      const a = await send(cp.port, e.method, e.path, body, type ? { 'content-type': type } : {}, fuzz.rnd() < 0.2);
      statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
      judge(`#${i} ${e.method} ${e.path} ${type} ${body.slice(0, 80)}`, a, before, failures);
    }
    expect(failures.slice(0, 10)).toEqual([]);
    // The fuzz reached the handlers, not only the JSON parser: most answers are the handlers' own 400s.
    expect(statuses.get(400) ?? 0).toBeGreaterThan(1500);
  });

  test('random queries and x-mesh-node headers (seed 77): 400 with a message, never a hang or a 5xx', async () => {
    const fuzz = new Fuzz(77);
    const failures: string[] = [];
    const odd = ['', 'x', '-1', '1.5', 'NaN', '0', '1', '1e3', '%zz', 'VirtualService', 'vs', '[]'];
    for (let i = 0; i < 300; i++) {
      const before = state();
      const q = fuzz.pick([
        () => `/v1/sync?ready=${encodeURIComponent(fuzz.pick(odd))}&timeoutMs=${encodeURIComponent(fuzz.pick(['x', '-5', '0', '1', 'NaN', '1.5']))}`,
        () => `/v1/config?kind=${encodeURIComponent(fuzz.pick(odd))}`,
        () => `/v1/describe/service/${encodeURIComponent(fuzz.string(8)) || 'x'}`,
        () => `/v1/scenarios/${encodeURIComponent(fuzz.string(8)) || 'x'}`,
      ])();
      const a = await send(cp.port, 'GET', q, undefined);
      // A well-formed /v1/sync that times out (the fuzz's node never gets ready) is 504 by contract, not a server fault.
      const timedOut = a.status === 504 && q.startsWith('/v1/sync') && String(JSON.parse(a.body).error).startsWith('not in sync after');
      if (!timedOut) judge(`GET ${q}`, a, before, failures);
      const header = fuzz.pick([JSON.stringify(fuzz.value(['id', 'role', 'service', 'labels', 'inbound', 'host', 'port'])), fuzz.string(30), '{"id":']);
      judge(`discovery x-mesh-node: ${header.slice(0, 80)}`, await send(cp.port, 'GET', '/v1/discovery', undefined, { 'x-mesh-node': header.replace(/[^\x20-\x7e]/g, '?') }), before, failures);
    }
    expect(failures.slice(0, 10)).toEqual([]);
  });

  test('500 random YAML texts (seed 5) to the config loader and /v1/config/apply: no throw, every problem a message with a code; nothing applied', async () => {
    const fuzz = new Fuzz(5);
    const failures: string[] = [];
    for (let i = 0; i < 500; i++) {
      const text = fuzz.yaml();
      try {
        const r = loadYaml(text, `fuzz-${i}.yaml`);
        for (const m of r.messages) if (typeof m.code !== 'string' || !m.code || typeof m.message !== 'string' || !m.message) failures.push(`#${i}: message without code/text ${JSON.stringify(m)}`);
      } catch (err) {
        failures.push(`#${i}: loadYaml threw ${(err as Error).message}\n${text}`);
      }
      const before = state();
      const a = await send(cp.port, 'POST', '/v1/config/apply', JSON.stringify({ files: [{ name: `fuzz-${i}.yaml`, text }] }), { 'content-type': 'application/json' });
      if (a.status < 400) failures.push(`#${i}: random YAML applied (${a.status}): ${text}`);
      judge(`apply #${i}`, a, before, failures);
    }
    expect(failures.slice(0, 10)).toEqual([]);
  });
});
