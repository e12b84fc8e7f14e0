import fs from 'node:fs';
import { World, tempWorldDir } from '../../world/world';
import { eventually, json, metricSum, ORDER } from '../support/http';
import { brokerReachable, mustHaveBrokers } from '../bus/helpers';

/**
 * The brokers through the mesh (world/broker-mesh.ts): orders and notifications reach RabbitMQ or Kafka
 * only through their sidecars' outbound TCP listeners, so the broker hop shows in the sidecars'
 * istio_tcp_* metrics, and their bus configuration names the sidecar (RabbitMQ) or the broker's service
 * name with the pod's capture table (Kafka: its advertised listener is captured too), never the broker.
 */
const BROKERS = [
  { kind: 'rabbitmq' as const, url: 'amqp://guest:guest@127.0.0.1:5672', port: 5672, up: () => mustHaveBrokers() || brokerReachable('RabbitMQ', '127.0.0.1', 5672) },
  { kind: 'kafka' as const, url: '127.0.0.1:9092', port: 9092, up: () => mustHaveBrokers() || brokerReachable('Kafka', '127.0.0.1', 9092) },
];

for (const b of BROKERS)
(b.up() ? describe : describe.skip)(`${b.kind} through the sidecars`, () => {
  const dir = tempWorldDir();
  let world: World;
  const service = b.kind;

  beforeAll(async () => {
    world = await World.start({ dataDir: `${dir}/data`, logDir: `${dir}/logs`, bus: { kind: b.kind, url: b.url }, env: { MESH_SEED: '11' } });
  }, 120_000);

  afterAll(async () => {
    await world?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const admin = (id: string): string => `http://127.0.0.1:${world.state().instances.find((i) => i.id === id)!.sidecar.ports.admin}`;
  const tcpMetric = async (id: string, name: string): Promise<number> =>
    metricSum(await (await fetch(`${admin(id)}/metrics`)).text(), name, { reporter: 'source', destination_service_name: service, request_protocol: 'tcp' });

  test("each bus-using app's bus configuration leads to its sidecar's TCP listener, never to the broker", () => {
    for (const id of ['orders-v1-0', 'notifications-v1-0']) {
      const inst = world.instances.get(id)!;
      const listener = inst.sidecar.ports[`tcp:${service}:${b.port}`];
      expect(listener).toBeGreaterThan(0);
      if (b.kind === 'rabbitmq') {
        expect(Number(new URL(inst.app.spec.env.BUS_URL).port)).toBe(listener);
      } else {
        expect(inst.app.spec.env.BUS_URL).toBe('kafka:9092');
        // the bootstrap name and the broker's advertised listener both lead to the sidecar
        expect(JSON.parse(inst.app.spec.env.MESH_TCP_REDIRECT)).toEqual({ 'kafka:9092': `127.0.0.1:${listener}`, [b.url]: `127.0.0.1:${listener}` });
      }
    }
  });

  test('an order is notified once, and its event crossed both sidecars: publish bytes counted on orders\', delivery bytes on notifications\'', async () => {
    const ordersBefore = await tcpMetric('orders-v1-0', 'istio_tcp_received_bytes_total');
    const notifBefore = await tcpMetric('notifications-v1-0', 'istio_tcp_sent_bytes_total');
    const res = await json(`${world.gatewayUrl}/orders`, { body: ORDER });
    expect(res.status).toBe(201);
    const id: string = res.body.id;
    const notified = await eventually(`a notification for ${id}`, async () => {
      const n = await json(`${world.gatewayUrl}/notifications?order_id=${id}`);
      return n.body.notifications.length > 0 ? n.body.notifications : undefined;
    }, 30_000);
    expect(notified).toHaveLength(1);
    // The event body alone is ~200 bytes; AMQP framing adds to it.
    expect((await tcpMetric('orders-v1-0', 'istio_tcp_received_bytes_total')) - ordersBefore).toBeGreaterThan(200);
    expect((await tcpMetric('notifications-v1-0', 'istio_tcp_sent_bytes_total')) - notifBefore).toBeGreaterThan(200);
    expect(await tcpMetric('orders-v1-0', 'istio_tcp_connections_opened_total')).toBeGreaterThanOrEqual(1);
    const clusters = (await json(`${admin('orders-v1-0')}/tcp_clusters`)).body as { name: string; active: number; hosts: { instance: string }[] }[];
    expect(clusters).toEqual([expect.objectContaining({ name: `outbound|${b.port}||${service}.default.svc.cluster.local`, hosts: [expect.objectContaining({ instance: `${service}-0` })] })]);
    expect(clusters[0].active).toBeGreaterThanOrEqual(1);
  });

  test('Istio YAML for the broker reaches the sidecars: a DestinationRule connectionPool.tcp and a VirtualService tcp route are applied, and orders\' sidecar runs them', async () => {
    const yaml = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ${service}}
spec:
  host: ${service}
  trafficPolicy:
    connectionPool: {tcp: {maxConnections: 7, connectTimeout: 2s}}
    outlierDetection: {consecutive5xxErrors: 3, interval: 5s, baseEjectionTime: 10s, maxEjectionPercent: 100}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${service}}
spec:
  hosts: [${service}]
  tcp:
  - match: [{port: ${b.port}}]
    route: [{destination: {host: ${service}}}]
`;
    const out = await world.applyConfig([{ name: 'broker.yaml', text: yaml }]);
    expect(out.ok).toBe(true);
    await world.waitForSync();
    const clusters = (await json(`${admin('orders-v1-0')}/tcp_clusters`)).body as { name: string; maxConnections: number }[];
    expect(clusters.map((c) => [c.name, c.maxConnections])).toEqual([[`outbound|${b.port}||${service}.default.svc.cluster.local`, 7]]);
    await world.deleteConfig([{ kind: 'VirtualService', name: service }, { kind: 'DestinationRule', name: service }]);
  });
});
