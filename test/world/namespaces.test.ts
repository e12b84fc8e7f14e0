import fs from 'node:fs';
import { World, tempWorldDir } from '../../world/world';
import { DEFAULT_TOPOLOGY, withInstances, type Topology } from '../../world/topology';
import { json } from '../support/http';
import { metric } from '../mesh/harness';

/** The launcher gives each service its topology namespace: payments in `shop`, as real processes. */
describe('npm start with payments in namespace "shop"', () => {
  const dir = tempWorldDir();
  let world: World;
  const base = withInstances(DEFAULT_TOPOLOGY, 'payments', { v1: 1 });
  const topology: Topology = { ...base, services: base.services.map((s) => (s.name === 'payments' ? { ...s, namespace: 'shop' } : s)) };

  beforeAll(async () => {
    world = await World.start({ dataDir: `${dir}/data`, logDir: `${dir}/logs`, topology, chaosPort: false });
  }, 90_000);
  afterAll(async () => {
    await world?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("an order through the gateway is charged in shop over mTLS: payments' identity is ns/shop, orders' metrics name shop 1 time per call", async () => {
    const order = await json(`${world.gatewayUrl}/orders`, { body: { user_id: 'u-1', items: [{ sku: 'SKU-1', qty: 1, unit_price: 5 }] } });
    expect([order.status, order.body.status]).toEqual([201, 'CONFIRMED']);
    const admin = (id: string) => `http://127.0.0.1:${world.instances.get(id)!.sidecar.ports.admin}`;
    expect((await json(`${admin('payments-v1-0')}/certs`)).body.identity).toBe('spiffe://cluster.local/ns/shop/sa/payments');
    expect((await json(`${admin('orders-v1-0')}/certs`)).body.identity).toBe('spiffe://cluster.local/ns/default/sa/orders');
    const om = await (await fetch(`${admin('orders-v1-0')}/metrics`)).text();
    const toShop = { reporter: 'source', destination_service: 'payments.shop.svc.cluster.local', destination_workload_namespace: 'shop', connection_security_policy: 'unknown', source_principal: 'spiffe://cluster.local/ns/default/sa/orders', destination_principal: 'spiffe://cluster.local/ns/shop/sa/payments' };
    expect(metric(om, 'istio_requests_total', toShop)).toBeGreaterThanOrEqual(1);
    const nodes = (await json(`${world.controlPlaneUrl}/v1/proxy-status`)).body as { node: string; namespace: string }[];
    expect(nodes.map((n) => `${n.node}.${n.namespace}`).sort()).toEqual(['gateway.default', 'notifications-v1-0.default', 'orders-v1-0.default', 'payments-v1-0.shop']);
  }, 30_000);
});
