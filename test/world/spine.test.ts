import fs from 'node:fs';
import net from 'node:net';
import { World, tempWorldDir } from '../../world/world';
import { eventually, json, metricSum, ORDER } from '../support/http';

/** The spine end to end: real processes, real sockets, real SQLite, the embedded bus. */
describe('the world', () => {
  const dir = tempWorldDir();
  let world: World;

  beforeAll(async () => {
    world = await World.start({ dataDir: `${dir}/data`, logDir: `${dir}/logs`, env: { MESH_SEED: '11', ORDERS_RECONCILE_MS: '300', ORDERS_RECONCILE_GRACE_MS: '1500' } });
  });

  afterAll(async () => {
    await world?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const paymentsApp = (): string => {
    const inst = world.state().instances.find((i) => i.service === 'payments' && i.app.pid && world.instances.get(i.id)!.app.running)!;
    return `http://127.0.0.1:${inst.app.ports.http}`;
  };

  test('an order placed through the gateway is confirmed, charged once and notified once', async () => {
    const res = await json(`${world.gatewayUrl}/orders`, { body: ORDER });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ status: 'CONFIRMED', total: 19.98, user_id: 'u-test' });
    expect(res.body.id).toMatch(/^ORD-\d+$/);
    const id: string = res.body.id;

    const payments = await json(`${paymentsApp()}/payments`);
    expect(payments.body.charges_per_order.filter((c: { order_id: string }) => c.order_id === id)).toEqual([{ order_id: id, charges: 1 }]);

    const notified = await eventually(`a notification for ${id}`, async () => {
      const n = await json(`${world.gatewayUrl}/notifications?order_id=${id}`);
      return n.body.notifications.length > 0 ? n.body.notifications : undefined;
    });
    expect(notified).toHaveLength(1);
    expect(notified[0]).toMatchObject({ order_id: id, user_id: 'u-test', total: 19.98 });
    expect((await json(`${world.gatewayUrl}/orders/${id}`)).body.status).toBe('CONFIRMED');
  });

  test('orders → payments crosses both sidecars: one request id in four access-log records and both reporters count it', async () => {
    const requestId = `rid-${Date.now()}`;
    const res = await json(`${world.gatewayUrl}/orders`, { body: ORDER, headers: { 'x-request-id': requestId } });
    expect(res.status).toBe(201);
    const state = world.state();
    const admin = (id: string): string => `http://127.0.0.1:${state.instances.find((i) => i.id === id)!.sidecar.ports.admin}`;
    const ordersLog = (await json(`${admin('orders-v1-0')}/access_log?limit=1000`)).body as { x_request_id: string; direction: string; upstream_cluster: string; response_code: number; upstream_instance: string }[];
    const mine = ordersLog.filter((e) => e.x_request_id === requestId);
    expect(mine.map((e) => e.direction).sort()).toEqual(['inbound', 'outbound']);
    const out = mine.find((e) => e.direction === 'outbound')!;
    expect(out.upstream_cluster).toBe('outbound|80||payments.default.svc.cluster.local');
    expect(out.response_code).toBe(201);

    // The payments instance the orders sidecar chose logged the same request on its inbound side.
    const paymentsLog = (await json(`${admin(out.upstream_instance)}/access_log?limit=1000`)).body as { x_request_id: string; direction: string; source_workload: string }[];
    expect(paymentsLog.filter((e) => e.x_request_id === requestId)).toEqual([expect.objectContaining({ direction: 'inbound', source_workload: 'orders-v1' })]);

    const ordersMetrics = await (await fetch(`${admin('orders-v1-0')}/metrics`)).text();
    expect(metricSum(ordersMetrics, 'istio_requests_total', { reporter: 'source', destination_service_name: 'payments', response_code: '201' })).toBeGreaterThanOrEqual(1);
    const paymentsMetrics = await (await fetch(`${admin(out.upstream_instance)}/metrics`)).text();
    expect(metricSum(paymentsMetrics, 'istio_requests_total', { reporter: 'destination', source_workload: 'orders-v1', destination_workload: `payments-${out.upstream_instance.split('-')[1]}` })).toBeGreaterThanOrEqual(1);
  });

  test("Istio's default load balancer (LEAST_REQUEST) spreads payments calls over all three instances", async () => {
    const seen = new Map<string, number>();
    for (let i = 0; i < 60; i++) {
      const res = await json(`${world.gatewayUrl}/api/payments/validate?amount=10`);
      expect(res.status).toBe(200);
      seen.set(res.body.instance, (seen.get(res.body.instance) ?? 0) + 1);
    }
    expect([...seen.keys()].sort()).toEqual(['payments-v1-0', 'payments-v1-1', 'payments-v2-0']);
    // Sequential calls leave every host idle, so power-of-two-choices picks uniformly: 20 each, ±12 (seeded).
    for (const n of seen.values()) expect(Math.abs(n - 20)).toBeLessThanOrEqual(12);
  });

  test('a bad order body gets 400 naming every bad field, and stores nothing', async () => {
    const before = (await json(`${world.gatewayUrl}/orders`)).body.counts;
    const res = await json(`${world.gatewayUrl}/orders`, { body: { user_id: 7, items: [{ sku: 'A', qty: 0, unit_price: 1 }, { sku: '', qty: 1, unit_price: -1 }] } });
    expect(res.status).toBe(400);
    expect(res.body.fields).toEqual([
      'user_id must be a non-empty string, got number 7',
      'items[0].qty must be an integer from 1 to 10000, got number 0',
      'items[1].sku must be a non-empty string, got ""',
      'items[1].unit_price must be a number >= 0, got number -1',
    ]);
    const bad = await json(`${world.gatewayUrl}/orders`, { body: '{"user_id": "u-1", "items": [' });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/JSON/);
    expect((await json(`${world.gatewayUrl}/orders`)).body.counts).toEqual(before);
  });

  test('a path no gateway route matches is 404 with response flag NR', async () => {
    const res = await fetch(`${world.gatewayUrl}/no-such-thing`);
    expect(res.status).toBe(404);
    const log = (await json(`http://127.0.0.1:${world.gateway.ports.admin}/access_log?limit=5`)).body as { path: string; response_flags: string }[];
    expect(log.filter((e) => e.path === '/no-such-thing').map((e) => e.response_flags)).toEqual(['NR']);
  });

  test('killing one payments instance leaves orders working, and the mesh stops sending it traffic', async () => {
    await world.killInstance('payments-v1-0');
    await world.waitForSync();
    for (let i = 0; i < 12; i++) expect((await json(`${world.gatewayUrl}/orders`, { body: ORDER })).status).toBe(201);
    const validate = await Promise.all(Array.from({ length: 6 }, () => json(`${world.gatewayUrl}/api/payments/validate?amount=1`)));
    expect(new Set(validate.map((v) => v.body.instance))).toEqual(new Set(['payments-v1-1', 'payments-v2-0']));
    await world.restartInstance('payments-v1-0');
  });

  test('with every payments instance gone, orders answers 503 and the order stays PENDING', async () => {
    const ids = ['payments-v1-0', 'payments-v1-1', 'payments-v2-0'];
    await Promise.all(ids.map((id) => world.killInstance(id)));
    await world.waitForSync();
    const res = await json(`${world.gatewayUrl}/orders`, { body: ORDER });
    expect(res.status).toBe(503);
    expect(res.body.error).toMatch(/payments unavailable \(status 503: no healthy upstream\); order ORD-\d+ stays PENDING/);
    const id: string = res.body.order.id;
    expect((await json(`${world.gatewayUrl}/orders/${id}`)).body.status).toBe('PENDING');
    for (const i of ids) await world.restartInstance(i);
    expect((await json(`${world.gatewayUrl}/orders`, { body: ORDER })).status).toBe(201);

    // Once payments is back, the reconciler charges the stuck order with the same idempotency key: confirmed, charged once.
    const confirmed = await eventually(`${id} confirmed by the reconciler`, async () => {
      const o = await json(`${world.gatewayUrl}/orders/${id}`);
      return o.body.status === 'CONFIRMED' ? o.body : undefined;
    }, 10000);
    expect(confirmed.payment_id).toMatch(/^PAY-/);
    const payments = await json(`${paymentsApp()}/payments`);
    expect(payments.body.charges_per_order.filter((c: { order_id: string }) => c.order_id === id)).toEqual([{ order_id: id, charges: 1 }]);
  });

  test('restarting the world keeps the data, and stopping it frees every port', async () => {
    const placed = await json(`${world.gatewayUrl}/orders`, { body: ORDER });
    expect(placed.status).toBe(201);
    await eventually('the notification', async () => ((await json(`${world.gatewayUrl}/notifications?order_id=${placed.body.id}`)).body.notifications.length ? true : undefined));
    const state = world.state();
    await world.stop();
    for (const p of state.processes) expect(() => process.kill(p.pid, 0)).toThrow();
    await expect(connect(Number(new URL(state.gatewayUrl).port))).rejects.toThrow(/ECONNREFUSED/);

    world = await World.start({ dataDir: `${dir}/data`, logDir: `${dir}/logs` });
    const again = await json(`${world.gatewayUrl}/orders/${placed.body.id}`);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ id: placed.body.id, status: 'CONFIRMED' });
    const notes = await json(`${world.gatewayUrl}/notifications?order_id=${placed.body.id}`);
    expect(notes.body.notifications).toHaveLength(1);
  });
});

function connect(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.destroy();
      resolve();
    });
    s.on('error', reject);
  });
}
