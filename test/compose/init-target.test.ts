import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startChaosServer, type ChaosServer } from '../../chaos/server';
import { ChaosClient } from '../../chaos/client';
import { initEdges } from '../../world/compose-init';
import { ComposeWorld, NOT_RUNNING_PID, parsePsServices } from '../../world/compose-target';
import { brokerEdgesOf, edgesOf } from '../../world/compose-layout';
import { worldConfigYaml } from '../../world/compose-generate';

/** A control plane stand-in recording POST /v1/edges bodies and answering /healthz and /v1/sync. */
async function fakeControlPlane(): Promise<{ url: string; port: number; posts: { from: string; instance: string; host: string; port: number }[][]; workloads: unknown[]; syncs: string[]; close(): Promise<void> }> {
  const posts: { from: string; instance: string; host: string; port: number }[][] = [];
  const workloads: unknown[] = [];
  const syncs: string[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      if (req.url === '/v1/edges' && req.method === 'POST') posts.push((JSON.parse(body) as { edges: never[] }).edges);
      if (req.url === '/v1/workloads' && req.method === 'POST') workloads.push(JSON.parse(body));
      if (req.url?.startsWith('/v1/sync')) syncs.push(req.url);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return { url: `http://127.0.0.1:${port}`, port, posts, workloads, syncs, close: () => new Promise((r) => server.close(() => r())) };
}

/** A base port with `n` consecutive free loopback ports (checked by binding each). */
async function freeRun(n: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 30000 + Math.floor(((attempt * 7919) % 2000) * 10);
    const servers: net.Server[] = [];
    let ok = true;
    for (let i = 0; i < n && ok; i++) {
      const s = net.createServer();
      ok = await new Promise<boolean>((r) => {
        s.once('error', () => r(false));
        s.listen(base + i, '127.0.0.1', () => r(true));
      });
      if (ok) servers.push(s);
    }
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    if (ok) return base;
  }
  throw new Error('no run of free ports');
}

describe('chaos-init (against the project\'s Toxiproxy-compatible chaos server)', () => {
  let chaos: ChaosServer;
  let cp: Awaited<ReturnType<typeof fakeControlPlane>>;
  let base: number;
  const url = () => `http://127.0.0.1:${chaos.port}`;

  beforeAll(async () => {
    chaos = await startChaosServer({ host: '127.0.0.1', port: 0, seed: 1 });
    cp = await fakeControlPlane();
    base = await freeRun(edgesOf().length + brokerEdgesOf().length);
  });
  afterAll(async () => {
    await chaos?.close();
    await cp?.close();
  });

  it('creates one proxy per edge on its fixed port (8 HTTP, 4 to the brokers), announces both brokers, posts all 12 edges, and a re-run changes nothing', async () => {
    const opts = { toxiproxyUrl: url(), controlPlaneUrl: cp.url, listenHost: '127.0.0.1', portBase: base, upstreamOf: (id: string) => `127.0.0.1:${40000 + id.length}`, brokerOf: (service: string) => ({ host: '127.0.0.1', port: service === 'kafka' ? 49092 : 45672 }) };
    const first = await initEdges(opts);
    expect(first.changed).toBe(12);
    expect(first.edges.map((e) => `${e.from}->${e.instance}@${e.host}:${e.port - base}`)).toEqual([
      'istio-ingressgateway->orders-v1-0@toxiproxy:0',
      'orders->payments-v1-0@toxiproxy:1',
      'istio-ingressgateway->payments-v1-0@toxiproxy:2',
      'orders->payments-v1-1@toxiproxy:3',
      'istio-ingressgateway->payments-v1-1@toxiproxy:4',
      'orders->payments-v2-0@toxiproxy:5',
      'istio-ingressgateway->payments-v2-0@toxiproxy:6',
      'istio-ingressgateway->notifications-v1-0@toxiproxy:7',
      'orders->kafka-0@toxiproxy:8',
      'notifications->kafka-0@toxiproxy:9',
      'orders->rabbitmq-0@toxiproxy:10',
      'notifications->rabbitmq-0@toxiproxy:11',
    ]);
    // The brokers, workloads without a sidecar, as world/broker-mesh.ts announces them on loopback.
    expect(cp.workloads).toEqual([
      { service: 'kafka', endpoints: [{ instance: 'kafka-0', host: '127.0.0.1', port: 49092, labels: { app: 'kafka' } }] },
      { service: 'rabbitmq', endpoints: [{ instance: 'rabbitmq-0', host: '127.0.0.1', port: 45672, labels: { app: 'rabbitmq' } }] },
    ]);
    const client = new ChaosClient(url());
    const proxies = await client.listProxies();
    expect(Object.keys(proxies).sort()).toEqual([...edgesOf(), ...brokerEdgesOf()].map((e) => e.name).sort());
    expect(proxies['orders->kafka-0']).toMatchObject({ listen: `127.0.0.1:${base + 8}`, upstream: '127.0.0.1:49092', enabled: true });
    expect(proxies['orders->payments-v1-0']).toMatchObject({ listen: `127.0.0.1:${base + 1}`, upstream: '127.0.0.1:40013', enabled: true });

    // Chaos state set between runs survives a re-run (no proxy restarted or re-pointed).
    await client.addToxic('orders->payments-v1-0', { name: 'slow', type: 'latency', attributes: { latency: 250 } });
    await client.setEnabled('gateway->orders-v1-0', false);
    const second = await initEdges(opts);
    expect(second.changed).toBe(0);
    expect(second.edges).toEqual(first.edges);
    const after = await client.listProxies();
    expect(after['orders->payments-v1-0'].toxics.map((t) => t.name)).toEqual(['slow']);
    expect(after['gateway->orders-v1-0'].enabled).toBe(false);
    expect(cp.posts).toHaveLength(2);
    expect(cp.posts[1]).toEqual(cp.posts[0]);

    // A proxy pointing somewhere else is re-pointed, and only that instance's proxies count as changed.
    await client.ensureProxy({ name: 'orders->payments-v2-0', upstream: '127.0.0.1:1' });
    const third = await initEdges(opts);
    expect(third.changed).toBe(2);
    expect((await client.getProxy('orders->payments-v2-0')).upstream).toBe(`127.0.0.1:${40000 + 'payments-v2-0'.length}`);
  });

  it('fails with what to check when the control plane is unreachable', async () => {
    await expect(initEdges({ toxiproxyUrl: url(), controlPlaneUrl: 'http://127.0.0.1:1', listenHost: '127.0.0.1', portBase: base })).rejects.toThrow(/fetch failed|ECONNREFUSED/);
  });
});

describe('ComposeWorld (the scenario target) with a fake docker CLI', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshlab-fake-docker-'));
  const logFile = path.join(dir, 'calls.log');
  const docker = path.join(dir, 'docker');
  let cp: Awaited<ReturnType<typeof fakeControlPlane>>;

  beforeAll(async () => {
    cp = await fakeControlPlane();
    const running = ['control-plane', 'gateway', 'orders-v1-0', 'orders-v1-0-sidecar', 'payments-v1-0', 'payments-v1-0-sidecar', 'payments-v1-1', 'payments-v1-1-sidecar', 'payments-v2-0', 'payments-v2-0-sidecar', 'notifications-v1-0', 'notifications-v1-0-sidecar'];
    const ps = running.map((s) => JSON.stringify({ Service: s, State: 'running' })).join('\\n');
    fs.writeFileSync(docker, `#!/bin/sh\necho "$@" >> ${logFile}\ncase "$*" in *" ps "*) printf '${ps}\\n' ;; esac\nexit 0\n`, { mode: 0o755 });
  });
  afterAll(async () => {
    await cp?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('kills and restarts a pod (sidecar and app) through docker compose; state() reflects it; sync waits for the right count', async () => {
    const world = new ComposeWorld({ projectDir: dir, executable: { executablePath: docker }, controlPlaneUrl: cp.url });
    await world.refresh();
    expect(world.state().instances.every((i) => i.app.pid === process.pid)).toBe(true);

    // What its control plane loaded beside config/default (the generated deploy/mesh file): the reset keeps it.
    expect(world.state().registrations).toEqual([{ name: 'mail-provider.yaml', text: worldConfigYaml() }]);
    await world.killInstance('payments-v1-0');
    const killed = world.state().instances.find((i) => i.id === 'payments-v1-0')!;
    expect(killed.app.pid).toBe(NOT_RUNNING_PID);
    expect(() => process.kill(NOT_RUNNING_PID, 0)).toThrow(); // the runner's liveness check sees it dead
    await world.waitForSync(1000);
    expect(cp.syncs.pop()).toBe('/v1/sync?ready=4&timeoutMs=1000');

    await world.restartInstance('payments-v1-0');
    expect(cp.syncs.pop()).toBe('/v1/sync?ready=5&timeoutMs=20000');
    await world.lab('orders-v1-0').sick({ error_rate: 0.5, status: 503 });

    const calls = fs.readFileSync(logFile, 'utf8').trim().split('\n');
    expect(calls[0]).toBe('compose ps --format json --status running');
    expect(calls[1]).toBe('compose kill -s SIGKILL payments-v1-0-sidecar payments-v1-0');
    expect(calls[2]).toBe('compose up -d --wait --no-build payments-v1-0 payments-v1-0-sidecar'); // no rebuild of the image mid-lab
    expect(calls[3]).toMatch(/^compose exec -T orders-v1-0 node -e fetch\('http:\/\/127\.0\.0\.1:9901\/lab\/sick',\{method:'POST'/);
    expect(calls[3]).toContain('"error_rate\\":0.5');
    expect(() => world.lab('nope')).toThrow(/no instance "nope" in the compose world; instances: orders-v1-0, payments-v1-0/);
  }, 20000);

  it('reaches the ports compose published from the same MESHLAB_*_PORT variables (defaults 8080, 15010, 8474)', () => {
    const vars = ['MESHLAB_GATEWAY_PORT', 'MESHLAB_CP_PORT', 'MESHLAB_TOXIPROXY_PORT'] as const;
    const saved = vars.map((v) => process.env[v]);
    try {
      for (const v of vars) delete process.env[v];
      const plain = new ComposeWorld({ projectDir: dir });
      expect([plain.gatewayUrl, plain.controlPlaneUrl, plain.chaosUrl]).toEqual(['http://127.0.0.1:8080', 'http://127.0.0.1:15010', 'http://127.0.0.1:8474']);
      Object.assign(process.env, { MESHLAB_GATEWAY_PORT: '18080', MESHLAB_CP_PORT: '25010', MESHLAB_TOXIPROXY_PORT: '18474' });
      const moved = new ComposeWorld({ projectDir: dir });
      expect([moved.gatewayUrl, moved.controlPlaneUrl, moved.chaosUrl]).toEqual(['http://127.0.0.1:18080', 'http://127.0.0.1:25010', 'http://127.0.0.1:18474']);
      expect(moved.gateway.ports.outbound).toBe(18080);
    } finally {
      vars.forEach((v, i) => (saved[i] === undefined ? delete process.env[v] : (process.env[v] = saved[i])));
    }
  });

  it('parses both `docker compose ps --format json` shapes', () => {
    expect(parsePsServices('{"Service":"a"}\n{"Service":"b"}\n')).toEqual(['a', 'b']);
    expect(parsePsServices('[{"Service":"a"},{"Service":"b"}]')).toEqual(['a', 'b']);
    expect(parsePsServices('')).toEqual([]);
  });
});
