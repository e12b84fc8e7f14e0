import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { tempWorldDir } from '../../world/world';
import { Sidecar } from '../../mesh/sidecar/sidecar';
import { STARTING_BODY } from '../../mesh/sidecar/starting-gate';
import { loadYaml } from '../../mesh/config/load';
import { DEFAULT_GATEWAY_YAML, GATEWAY_LABELS } from '../mesh/harness';
import { json, ORDER } from '../support/http';

/** The compiled CLI (`npm start` runs `node dist/cli/meshlab.js start`); tests run from dist/test/world. */
const CLI = path.resolve(__dirname, '..', '..', 'cli', 'meshlab.js');

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as net.AddressInfo;
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

/** Resolves at the first accepted TCP connection. Another process's listen() has no event to await: a refused connect is retried after 2 ms. */
async function whenOpen(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`port ${port} did not open within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

interface Seen {
  status: number;
  retryAfter: string | null;
  body: string;
}

describe('`npm start`: the gateway does not answer for the mesh before the world is ready', () => {
  const dir = tempWorldDir();
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('requests from the moment the gateway port opens get 503 "starting" with retry-after (never "no healthy upstream") until "ready" is printed; then orders are confirmed', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [CLI, 'start', '--port', String(port), '--cp-port', '0', '--chaos-port', '0', '--data-dir', path.join(dir, 'data')], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    let out = '';
    let ready = false;
    const readyPrinted = new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (!ready && /ready in [\d.]+ s/.test(out)) {
          ready = true;
          resolve();
        }
      });
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      void exited.then((code) => reject(new Error(`meshlab start exited (${code}) before ready:\n${out}`)));
    });
    readyPrinted.catch(() => undefined);
    try {
      await Promise.race([whenOpen(port, 60000), readyPrinted]);
      const before: Seen[] = [];
      // Until "ready" is printed, one request at a time (paced 20 ms so the probing does not slow the start it watches).
      while (!ready) {
        let res: Response;
        try {
          res = await fetch(`http://127.0.0.1:${port}/orders`);
        } catch (err) {
          // The world failed to start (its error is printed once every process stopped): say what it said.
          let wait: NodeJS.Timeout | undefined;
          await Promise.race([exited, new Promise((r) => (wait = setTimeout(r, 10000)))]);
          clearTimeout(wait);
          throw new Error(`the gateway stopped answering before ready (${(err as Error).message}); meshlab start said:\n${out}`);
        }
        before.push({ status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.text() });
        let pace: NodeJS.Timeout | undefined;
        await Promise.race([new Promise((r) => (pace = setTimeout(r, 20))), readyPrinted]);
        clearTimeout(pace);
      }
      const starting = before.filter((s) => s.status === 503 && s.retryAfter !== null && /starting/.test(s.body));
      const answeredForTheMesh = before.filter((s) => !starting.includes(s));
      // A request answered before ready came from the gate, not from the mesh: none carries an upstream verdict.
      expect(answeredForTheMesh.filter((s) => s.status !== 200)).toEqual([]);
      expect(before.some((s) => /no healthy upstream/.test(s.body))).toBe(false);
      // The window existed and the first request met it (the test can fail: it saw the gateway before ready).
      expect(starting.length).toBeGreaterThanOrEqual(1);
      expect(before[0]).toEqual(starting[0]);
      expect(Number(starting[0].retryAfter)).toBeGreaterThanOrEqual(1);
      expect(JSON.parse(starting[0].body)).toMatchObject({ error: expect.stringMatching(/^starting: /) });

      const order = await json(`http://127.0.0.1:${port}/orders`, { body: ORDER });
      expect(order.status).toBe(201);
      expect(order.body.status).toBe('CONFIRMED');
    } finally {
      child.kill('SIGINT');
      const force = setTimeout(() => child.kill('SIGKILL'), 15000);
      await exited;
      clearTimeout(force);
    }
  }, 120000);
});

describe('the starting gate of an in-process gateway (orders known, none of its endpoints registered yet)', () => {
  const gateways: Sidecar[] = [];
  afterEach(async () => {
    await Promise.all(gateways.splice(0).map((g) => g.stop(0)));
  });

  async function gateway(holdUntilOpen: boolean): Promise<Sidecar> {
    const g = new Sidecar({
      role: 'gateway',
      service: 'istio-ingressgateway',
      version: 'v1',
      instance: 'gateway',
      labels: GATEWAY_LABELS,
      host: '127.0.0.1',
      ports: { inbound: 0, outbound: 0, admin: 0 },
      controlPlaneUrl: 'http://127.0.0.1:9',
      holdUntilOpen,
    });
    (g.accessLog as unknown as { fd: number }).fd = -1;
    gateways.push(g);
    await g.start();
    // A snapshot that knows orders but none of its endpoints is ready yet: the start-up moment.
    g.applySnapshot({ version: 1, endpoints: { orders: [] }, resources: loadYaml(DEFAULT_GATEWAY_YAML, 'gateway.yaml').resources });
    return g;
  }

  const get = async (g: Sidecar, method = 'GET'): Promise<Seen> => {
    const res = await fetch(`http://127.0.0.1:${g.ports.outbound}/orders`, { method, body: method === 'POST' ? JSON.stringify(ORDER) : undefined, headers: method === 'POST' ? { 'content-type': 'application/json' } : undefined });
    return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.text() };
  };

  test('held: 3 of 3 requests (GET and POST with a body) get 503 starting with retry-after 1; once opened the same request reaches the router (here: no healthy upstream)', async () => {
    const g = await gateway(true);
    const held = [await get(g), await get(g, 'POST'), await get(g)];
    expect(held).toEqual([0, 1, 2].map(() => ({ status: 503, retryAfter: '1', body: STARTING_BODY })));
    expect(g.accessLog.entries(10)).toEqual([]); // the gate answered, not the mesh
    g.gate.openGate();
    const open = await get(g);
    expect({ status: open.status, retryAfter: open.retryAfter }).toEqual({ status: 503, retryAfter: null });
    expect(open.body).toMatch(/no healthy upstream/);
  });

  test('not held (compose, where depends_on orders the start): the router answers from the first request', async () => {
    const g = await gateway(false);
    expect(g.gate.open).toBe(true);
    expect((await get(g)).body).toMatch(/no healthy upstream/);
  });
});
