/**
 * The sidecar's TCP proxy (mesh/tcp/): VirtualService tcp/tls routes, DestinationRule
 * connectionPool.tcp and outlier detection on connect failures, Istio's istio_tcp_* metrics and
 * Envoy's tcp_proxy flags — on real sockets on 127.0.0.1, config compiled from Istio YAML.
 */
import net from 'node:net';
import tls from 'node:tls';
import { once } from 'node:events';
import { loadYaml } from '../../mesh/config/load';
import { analyze } from '../../mesh/config/analyze';
import { compileTcp, inSubnet, type TcpCapture } from '../../mesh/tcp/tcp-routes';
import { TcpRuntime } from '../../mesh/tcp/tcp-runtime';
import { readSni } from '../../mesh/tcp/sni';
import type { TcpConnector } from '../../mesh/tcp/tcp-proxy';
import { MeshStats } from '../../mesh/stats';
import { AccessLog } from '../../mesh/access-log';
import { seededRandom } from '../../lib/random';
import type { Endpoint } from '../../mesh/xds';
import type { Clock } from '../../mesh/outlier-detector';

const ORDERS = { service: 'orders', labels: { app: 'orders', version: 'v1' } };

/** A TCP server that echoes, counts its connections and remembers the first bytes of each. */
async function echoServer(): Promise<{ port: number; connections: number; first: Buffer[]; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const s = {
    port: 0,
    connections: 0,
    first: [] as Buffer[],
    close: async () => {
      for (const x of sockets) x.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  const server = net.createServer((socket) => {
    s.connections++;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.once('data', (b) => s.first.push(b));
    socket.on('error', () => undefined);
    socket.pipe(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  s.port = (server.address() as net.AddressInfo).port;
  return s;
}

function ep(instance: string, port: number, version = 'v1', service = 'db'): Endpoint {
  return { instance, service, labels: { app: service, version }, host: '127.0.0.1', port };
}

function resources(yaml: string): unknown[] {
  const loaded = loadYaml(yaml, 't.yaml');
  const errors = analyze(loaded.resources).filter((m) => m.level === 'Error');
  expect(errors.map((m) => `${m.code} ${m.path} ${m.message}`)).toEqual([]);
  return loaded.resources;
}

/** Sends `payload`, half-closes, and resolves with everything echoed back once the proxy closes. */
function roundTrip(port: number, payload: Buffer | string): Promise<{ echoed: Buffer; closedByPeer: boolean }> {
  return new Promise((resolve) => {
    const c = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    const chunks: Buffer[] = [];
    c.on('data', (b) => chunks.push(b));
    c.on('error', () => undefined);
    c.on('connect', () => c.end(payload));
    c.on('close', () => resolve({ echoed: Buffer.concat(chunks), closedByPeer: true }));
  });
}

interface Harness {
  rt: TcpRuntime;
  stats: MeshStats;
  log: AccessLog;
  port: number;
}

async function harness(yaml: string, endpoints: Record<string, Endpoint[]>, opts: { capture?: TcpCapture; seed?: number; connector?: TcpConnector; clock?: Clock; identity?: typeof ORDERS } = {}): Promise<Harness> {
  const stats = new MeshStats({ service: 'orders', version: 'v1' });
  const log = new AccessLog(-1);
  const capture = opts.capture ?? { service: 'db', port: 5432 };
  const rt = new TcpRuntime({ host: '127.0.0.1', workload: { service: 'orders', version: 'v1' }, stats, accessLog: log, rng: seededRandom(opts.seed ?? 17), connector: opts.connector, clock: opts.clock });
  const [listener] = await rt.listen([capture]);
  rt.apply(compileTcp(yaml ? resources(yaml) : [], endpoints, opts.identity ?? ORDERS, [capture]));
  return { rt, stats, log, port: listener.port };
}

async function metric(stats: MeshStats, name: string, match: Record<string, string> = {}): Promise<number> {
  const m = (await stats.registry.getMetricsAsJSON()).find((x) => x.name === name);
  return (m?.values ?? []).filter((v) => Object.entries(match).every(([k, val]) => String(v.labels[k]) === val)).reduce((a, v) => a + Number(v.value), 0);
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

const DR_SUBSETS = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: db}
spec:
  host: db
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
`;

describe('VirtualService tcp routes', () => {
  test('an 80/20 weighted tcp route sends 80 ± 4 % of 500 connections to v1 and the rest to v2', async () => {
    const [a, b] = [await echoServer(), await echoServer()];
    cleanups.push(a.close, b.close);
    const h = await harness(`${DR_SUBSETS}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: db}
spec:
  hosts: [db]
  tcp:
  - route:
    - {destination: {host: db, subset: v1}, weight: 80}
    - {destination: {host: db, subset: v2}, weight: 20}
`, { db: [ep('db-v1-0', a.port, 'v1'), ep('db-v2-0', b.port, 'v2')] });
    cleanups.push(() => h.rt.close());
    for (let i = 0; i < 500; i++) {
      const r = await roundTrip(h.port, `ping ${i}`);
      expect(r.echoed.toString()).toBe(`ping ${i}`);
    }
    await h.rt.whenIdle();
    expect(a.connections + b.connections).toBe(500);
    expect(a.connections / 500).toBeGreaterThanOrEqual(0.76);
    expect(a.connections / 500).toBeLessThanOrEqual(0.84);
    const entries = h.log.entries();
    expect(entries.filter((e) => e.upstream_cluster === 'outbound|5432|v2|db.default.svc.cluster.local')).toHaveLength(b.connections);
    expect(entries.every((e) => e.route_name === 'db.tcp.0' && e.response_flags === '-')).toBe(true);
  });

  test('bytes are counted in both directions: 100,000 bytes each way, 1 connection opened and 1 closed (istio_tcp_*)', async () => {
    const a = await echoServer();
    cleanups.push(a.close);
    const h = await harness('', { db: [ep('db-v1-0', a.port)] });
    cleanups.push(() => h.rt.close());
    const r = await roundTrip(h.port, Buffer.alloc(100_000, 7));
    await h.rt.whenIdle();
    expect(r.echoed.length).toBe(100_000);
    const labels = { reporter: 'source', request_protocol: 'tcp', destination_service: 'db.default.svc.cluster.local', destination_service_name: 'db', source_workload: 'orders-v1', response_flags: '-' };
    expect(await metric(h.stats, 'istio_tcp_received_bytes_total', labels)).toBe(100_000);
    expect(await metric(h.stats, 'istio_tcp_sent_bytes_total', labels)).toBe(100_000);
    expect(await metric(h.stats, 'istio_tcp_connections_opened_total', labels)).toBe(1);
    expect(await metric(h.stats, 'istio_tcp_connections_closed_total', labels)).toBe(1);
    const m = (await h.stats.registry.getMetricsAsJSON()).find((x) => x.name === 'istio_tcp_sent_bytes_total')!;
    expect(Object.keys(m.values[0].labels)).not.toContain('response_code');
    const [e] = h.log.entries();
    expect([e.bytes_received, e.bytes_sent, e.upstream_host, e.upstream_cluster]).toEqual([100_000, 100_000, `127.0.0.1:${a.port}`, 'outbound|5432||db.default.svc.cluster.local']);
  });

  test('destinationSubnets and sourceLabels decide for the listener: 10.0.0.0/8 and app=payments do not apply to orders at 127.0.0.1, the third rule does', () => {
    const vs = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: db}
spec:
  hosts: [db]
  tcp:
  - match: [{destinationSubnets: [10.0.0.0/8]}]
    route: [{destination: {host: db, subset: v2}}]
  - match: [{sourceLabels: {app: payments}}]
    route: [{destination: {host: db, subset: v2}}]
  - match: [{port: 5432, destinationSubnets: [127.0.0.0/8], sourceLabels: {app: orders}}]
    route: [{destination: {host: db, subset: v1}}]
`;
    const c = compileTcp(resources(`${DR_SUBSETS}---\n${vs}`), { db: [ep('db-v1-0', 1), ep('db-v2-0', 2, 'v2')] }, ORDERS, [{ service: 'db', port: 5432 }]);
    expect(c.listeners[0].routes.map((r) => [r.name, r.destinations.map((d) => d.cluster)])).toEqual([['db.tcp.2', ['outbound|5432|v1|db.default.svc.cluster.local']]]);
    // On port 5433 no rule applies: the service itself (Istio's default route).
    const other = compileTcp(resources(`${DR_SUBSETS}---\n${vs}`), { db: [] }, ORDERS, [{ service: 'db', port: 5433 }]);
    expect(other.listeners[0].routes.map((r) => r.name)).toEqual(['outbound|5433||db.default.svc.cluster.local']);
    const asPayments = compileTcp(resources(`${DR_SUBSETS}---\n${vs}`), { db: [] }, { service: 'payments', labels: { app: 'payments' } }, [{ service: 'db', port: 5432 }]);
    expect(asPayments.listeners[0].routes[0].name).toBe('db.tcp.1');
    expect([inSubnet('127.0.0.1', '127.0.0.0/8'), inSubnet('127.0.0.1', '10.0.0.0/8'), inSubnet('10.1.2.3', '10.1.2.3')]).toEqual([true, false, true]);
  });
});

describe('VirtualService tls routes (SNI, passthrough)', () => {
  test('a ClientHello for a.example.com goes to a, *.other.example to b, untouched (the backend reads the ClientHello itself); an SNI no rule names is closed (NR)', async () => {
    const [a, b] = [await echoServer(), await echoServer()];
    cleanups.push(a.close, b.close);
    const h = await harness(`${DR_SUBSETS}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: db}
spec:
  hosts: [db]
  tls:
  - match: [{sniHosts: [a.example.com]}]
    route: [{destination: {host: db, subset: v1}}]
  - match: [{sniHosts: ["*.other.example"]}]
    route: [{destination: {host: db, subset: v2}}]
`, { db: [ep('db-v1-0', a.port, 'v1'), ep('db-v2-0', b.port, 'v2')] });
    cleanups.push(() => h.rt.close());
    const hello = async (servername: string): Promise<void> => {
      const c = tls.connect({ host: '127.0.0.1', port: h.port, servername, rejectUnauthorized: false });
      c.on('error', () => undefined);
      // The echo server sends the ClientHello back, which is no ServerHello: the client gives up; either way it closes.
      await new Promise((r) => c.once('close', r));
      await h.rt.whenIdle(); // logged before the next one starts
    };
    await hello('a.example.com');
    await hello('x.other.example');
    await hello('nobody.example.net');
    // the third meets no filter chain: closed before any upstream connection (Istio adds no default chain beside tls routes)
    expect([a.connections, b.connections]).toEqual([1, 1]);
    await h.rt.whenIdle();
    expect(readSni(a.first[0])).toEqual({ kind: 'sni', name: 'a.example.com' });
    expect(readSni(b.first[0])).toEqual({ kind: 'sni', name: 'x.other.example' });
    const entries = h.log.entries();
    expect(entries.map((e) => [e.authority, e.route_name, e.response_flags])).toEqual([
      ['a.example.com', 'db.tls.0', '-'],
      ['x.other.example', 'db.tls.1', '-'],
      ['nobody.example.net', '-', 'NR'],
    ]);
  });
});

describe('DestinationRule connectionPool.tcp and outlier detection', () => {
  test('maxConnections: 2 — the 3rd concurrent connection is closed at once with UO, and the server sees only 2', async () => {
    const a = await echoServer();
    cleanups.push(a.close);
    const h = await harness(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: db}
spec:
  host: db
  trafficPolicy: {connectionPool: {tcp: {maxConnections: 2, connectTimeout: 1s, tcpKeepalive: {time: 30s}}}}
`, { db: [ep('db-v1-0', a.port)] });
    cleanups.push(() => h.rt.close());
    const open = async (): Promise<net.Socket> => {
      const c = net.connect({ host: '127.0.0.1', port: h.port });
      c.on('error', () => undefined);
      await once(c, 'connect');
      c.write('x');
      await once(c, 'data'); // echoed: the upstream connection is up
      return c;
    };
    const held = [await open(), await open()];
    const third = net.connect({ host: '127.0.0.1', port: h.port });
    third.on('error', () => undefined);
    await once(third, 'close');
    while (h.log.entries().length === 0) await new Promise((r) => setImmediate(r)); // the refusal is logged as the socket closes
    expect(a.connections).toBe(2);
    expect(h.log.entries().map((e) => e.response_flags)).toEqual(['UO']);
    expect(await metric(h.stats, 'istio_tcp_connections_opened_total', { response_flags: 'UO' })).toBe(1);
    for (const c of held) c.destroy();
  });

  test('a refused connect is UF,URX with "delayed connect error: Connection refused"; the 5th consecutive one ejects the host and the 6th connection goes to the healthy one', async () => {
    const a = await echoServer();
    cleanups.push(a.close);
    const dead = net.createServer();
    dead.listen(0, '127.0.0.1');
    await once(dead, 'listening');
    const deadPort = (dead.address() as net.AddressInfo).port;
    await new Promise<void>((r) => dead.close(() => r()));
    const timers: (() => void)[] = [];
    const clock: Clock = { now: () => 0, setInterval: (fn) => timers.push(fn), clearInterval: () => undefined };
    const h = await harness(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: db}
spec:
  host: db
  trafficPolicy:
    loadBalancer: {simple: ROUND_ROBIN}
    outlierDetection: {consecutive5xxErrors: 5, interval: 10s, baseEjectionTime: 30s, maxEjectionPercent: 100}
`, { db: [ep('db-v1-0', deadPort), ep('db-v1-1', a.port)] }, { clock });
    cleanups.push(() => h.rt.close());
    const results: string[] = [];
    for (let i = 0; i < 14; i++) {
      await roundTrip(h.port, 'x');
      await h.rt.whenIdle();
      const e = h.log.entries().at(-1)!;
      results.push(`${e.upstream_instance}:${e.response_flags}`);
    }
    // round robin: dead, healthy, dead, … — the dead host's 5th failure (the 9th connection) ejects it.
    expect(results.slice(0, 9)).toEqual(['db-v1-0:UF,URX', 'db-v1-1:-', 'db-v1-0:UF,URX', 'db-v1-1:-', 'db-v1-0:UF,URX', 'db-v1-1:-', 'db-v1-0:UF,URX', 'db-v1-1:-', 'db-v1-0:UF,URX']);
    expect(results.slice(9)).toEqual(Array(5).fill('db-v1-1:-'));
    expect(h.log.entries()[0].upstream_transport_failure_reason).toBe('delayed connect error: Connection refused');
    expect(await metric(h.stats, 'meshlab_outlier_ejections_total')).toBe(1);
  });

  test('connectTimeout: 100ms cuts a connect that never completes at 100 ms: UF,URX, counted as a timeout', async () => {
    const hang: TcpConnector = () => new net.Socket(); // never connects: a SYN nobody answers
    const h = await harness(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: db}
spec:
  host: db
  trafficPolicy: {connectionPool: {tcp: {connectTimeout: 100ms}}}
`, { db: [ep('db-v1-0', 9)] }, { connector: hang });
    cleanups.push(() => h.rt.close());
    const t0 = Date.now();
    await roundTrip(h.port, 'x');
    await h.rt.whenIdle();
    const elapsed = Date.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(95);
    expect(elapsed).toBeLessThan(1000);
    const [e] = h.log.entries();
    expect([e.response_flags, e.bytes_sent]).toEqual(['UF,URX', 0]);
    expect(e.duration).toBeGreaterThanOrEqual(99);
  });

  test('idleTimeout: 300ms closes a connection with no byte either way for 300 ms (logged idle_timeout), not one that talks every 50 ms for 500 ms', async () => {
    const a = await echoServer();
    cleanups.push(a.close);
    const h = await harness(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: db}
spec:
  host: db
  trafficPolicy: {connectionPool: {tcp: {idleTimeout: 300ms}}}
`, { db: [ep('db-v1-0', a.port)] });
    cleanups.push(() => h.rt.close());
    const quiet = net.connect({ host: '127.0.0.1', port: h.port });
    quiet.on('error', () => undefined);
    const t0 = Date.now();
    await once(quiet, 'connect');
    await new Promise((r) => quiet.once('close', r));
    const quietLife = Date.now() - t0;
    expect(quietLife).toBeGreaterThanOrEqual(290);
    expect(quietLife).toBeLessThan(2000);
    const talker = net.connect({ host: '127.0.0.1', port: h.port });
    talker.on('error', () => undefined);
    await once(talker, 'connect');
    let closedEarly = false;
    talker.once('close', () => (closedEarly = true));
    for (let i = 0; i < 10; i++) {
      talker.write('.');
      await once(talker, 'data'); // echoed: a byte went each way
      await new Promise((r) => setTimeout(r, 50)); // the traffic's pace, not a wait for an event
    }
    expect(closedEarly).toBe(false); // 10 × 50 ms = 500 ms > 300 ms, alive because it talked
    talker.destroy();
    await h.rt.whenIdle();
    expect(h.log.entries().map((e) => e.response_code_details)).toEqual(['idle_timeout', '-']);
  });

  test('no endpoint: UH', async () => {
    const h = await harness('', { db: [] });
    cleanups.push(() => h.rt.close());
    await roundTrip(h.port, 'x');
    await h.rt.whenIdle();
    expect(h.log.entries().map((e) => e.response_flags)).toEqual(['UH']);
  });
});
