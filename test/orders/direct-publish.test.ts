import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { chargeOrder } from '../../services/orders/app';
import { OrderStore, type Order } from '../../services/orders/store';
import { registerPayments } from '../../services/payments/app';
import { PaymentStore } from '../../services/payments/store';
import { Peers } from '../../services/shared/peer';

// The lab control `outbox: false` (broker-outage's control arm): orders and payments for real, the bus
// replaced by the list of orders handed to the direct publish.
describe('orders with the outbox off (lab control): the event is published directly, not kept', () => {
  let dir: string;
  let payments: FastifyInstance;
  let paymentStore: PaymentStore;
  let store: OrderStore;
  let peers: Peers;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshlab-direct-'));
    paymentStore = new PaymentStore(dir);
    payments = Fastify({ logger: false });
    registerPayments(payments, { store: paymentStore, version: 'v1', instance: 'payments-v1-0' });
    await payments.listen({ host: '127.0.0.1', port: 0 });
    peers = new Peers(`http://127.0.0.1:${(payments.server.address() as { port: number }).port}`, 5000);
    store = new OrderStore(dir);
  });

  afterEach(async () => {
    await peers.close();
    await payments.close();
    paymentStore.close();
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('3 orders confirmed with the outbox off leave 0 events in the outbox and 3 direct publishes; 2 with it on leave 2 in the outbox and none direct', async () => {
    let outboxOff = true;
    const published: Order[] = [];
    let woken = 0;
    const deps = { store, peers, onEvent: () => woken++, direct: { enabled: () => outboxOff, publish: (o: Order) => published.push(o) } };
    for (let i = 0; i < 3; i++) expect((await chargeOrder(deps, store.createPending(`u-${i}`, [{ sku: 'SKU-1', qty: 1, unit_price: 5 }], 500))).kind).toBe('confirmed');
    expect(store.outboxBacklog()).toBe(0);
    expect(published.map((o) => o.status)).toEqual(['CONFIRMED', 'CONFIRMED', 'CONFIRMED']);
    expect(woken).toBe(0);

    outboxOff = false;
    for (let i = 0; i < 2; i++) await chargeOrder(deps, store.createPending(`v-${i}`, [{ sku: 'SKU-1', qty: 1, unit_price: 5 }], 500));
    expect(store.outboxBacklog()).toBe(2);
    expect(published.length).toBe(3);
    expect(woken).toBe(2);
  });
});
