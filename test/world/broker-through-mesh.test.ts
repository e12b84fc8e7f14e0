import fs from 'node:fs';
import { World, tempWorldDir } from '../../world/world';
import { eventually, json, metricSum, ORDER } from '../support/http';
import { brokerReachable, mustHaveBrokers } from '../bus/helpers';

/**
 * RabbitMQ through the mesh (world/broker-mesh.ts): orders and notifications reach the broker only
 * through their sidecars' outbound TCP listeners, so the broker hop shows in the sidecars' istio_tcp_*
 * metrics, and their bus URL names the sidecar, not the broker.
 */
const rabbitUp = mustHaveBrokers() || brokerReachable('RabbitMQ', '127.0.0.1', 5672);

(rabbitUp ? describe : describe.skip)('RabbitMQ through the sidecars', () => {
  const dir = tempWorldDir();
  let world: World;

  beforeAll(async () => {
    world = await World.start({ dataDir: `${dir}/data`, logDir: `${dir}/logs`, bus: { kind: 'rabbitmq', url: 'amqp://guest:guest@127.0.0.1:5672' }, env: { MESH_SEED: '11' } });
  }, 120_000);

  afterAll(async () => {
    await world?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const admin = (id: string): string => `http://127.0.0.1:${world.state().instances.find((i) => i.id === id)!.sidecar.ports.admin}`;
  const tcpMetric = async (id: string, name: string): Promise<number> =>
    metricSum(await (await fetch(`${admin(id)}/metrics`)).text(), name, { reporter: 'source', destination_service_name: 'rabbitmq', request_protocol: 'tcp' });

  test("each bus-using app's bus URL is its sidecar's TCP listener, not the broker's 5672", () => {
    for (const id of ['orders-v1-0', 'notifications-v1-0']) {
      const inst = world.instances.get(id)!;
      const url = new URL(inst.app.spec.env.BUS_URL);
      expect(url.port).not.toBe('5672');
      expect(Number(url.port)).toBe(inst.sidecar.ports['tcp:rabbitmq:5672']);
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
    }, 15_000);
    expect(notified).toHaveLength(1);
    // The event body alone is ~200 bytes; AMQP framing adds to it.
    expect((await tcpMetric('orders-v1-0', 'istio_tcp_received_bytes_total')) - ordersBefore).toBeGreaterThan(200);
    expect((await tcpMetric('notifications-v1-0', 'istio_tcp_sent_bytes_total')) - notifBefore).toBeGreaterThan(200);
    expect(await tcpMetric('orders-v1-0', 'istio_tcp_connections_opened_total')).toBeGreaterThanOrEqual(1);
    const clusters = (await json(`${admin('orders-v1-0')}/tcp_clusters`)).body as { name: string; active: number; hosts: { instance: string }[] }[];
    expect(clusters).toEqual([expect.objectContaining({ name: 'outbound|5672||rabbitmq.default.svc.cluster.local', hosts: [expect.objectContaining({ instance: 'rabbitmq-0' })] })]);
    expect(clusters[0].active).toBeGreaterThanOrEqual(1);
  });
});
