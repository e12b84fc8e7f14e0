import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { seededRandom } from '../../lib/random';
import { chargeOrder, type OrdersDeps } from '../../services/orders/app';
import { PendingReconciler } from '../../services/orders/reconciler';
import { OrderStore } from '../../services/orders/store';
import { totalCents, validateOrder } from '../../services/orders/validate';
import { registerPayments } from '../../services/payments/app';
import { PaymentStore } from '../../services/payments/store';
import { Peers } from '../../services/shared/peer';

// Orders and payments for real (their own SQLite files, payments' real handler on a socket); only
// the sidecar is left out: orders' Peers calls payments' port directly.
describe('orders reconciler: every PENDING order is settled on its own', () => {
  let dir: string;
  let payments: FastifyInstance;
  let paymentStore: PaymentStore;
  let paymentsUrl: string;
  let store: OrderStore;
  const closers: (() => Promise<void> | void)[] = [];

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshlab-reconciler-'));
    paymentStore = new PaymentStore(dir);
    payments = Fastify({ logger: false });
    registerPayments(payments, { store: paymentStore, version: 'v1', instance: 'payments-v1-0' });
    await payments.listen({ host: '127.0.0.1', port: 0 });
    paymentsUrl = `http://127.0.0.1:${(payments.server.address() as { port: number }).port}`;
    store = new OrderStore(dir);
  });

  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
    await payments.close();
    paymentStore.close();
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function deps(url = paymentsUrl): OrdersDeps {
    const peers = new Peers(url, 5000);
    closers.push(() => peers.close());
    return { store, peers, onEvent: () => {} };
  }

  /** Makes every PENDING order older than the reconciler's grace period. */
  function age(): void {
    store.db.prepare("UPDATE orders SET updated_at = '2000-01-01T00:00:00.000Z' WHERE status = 'PENDING'").run();
  }

  test('a poison order payments refuses (total 0, from before validation refused it) ends REJECTED with payments\' reason, and the 1 order behind it is CONFIRMED in the same pass', async () => {
    const poison = store.createPending('u-1', [{ sku: 'SKU-FREE', qty: 1, unit_price: 0 }], 0);
    const good = store.createPending('u-2', [{ sku: 'SKU-1', qty: 2, unit_price: 9.99 }], 1998);
    age();
    const reconciler = new PendingReconciler(deps(), { intervalMs: 0, graceMs: 1000 });
    await reconciler.pass();
    expect(store.get(poison.id)).toMatchObject({ status: 'REJECTED' });
    expect(store.get(poison.id)!.reason).toContain('amount must be a number > 0');
    expect(store.get(good.id)).toMatchObject({ status: 'CONFIRMED' });
    expect(paymentStore.chargesPerOrder()).toEqual([{ order_id: good.id, charges: 1 }]);
  });

  test('an order whose charge keeps failing (503 for that order only) goes to the back of the queue: with batch 1, the 2 orders behind it are CONFIRMED in the next 2 passes', async () => {
    // A stand-in for "payments fails this one order": 503 (a text/plain answer, like the mesh's) for
    // the poison key, everything else passed on to the real payments.
    const poisonKey = 'ORD-1';
    const front = http.createServer((req, res) => {
      if (req.headers['idempotency-key'] === poisonKey) {
        req.resume();
        res.writeHead(503, { 'content-type': 'text/plain' }).end('upstream connect error or disconnect/reset before headers');
        return;
      }
      const up = http.request(`${paymentsUrl}${req.url}`, { method: req.method, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      req.pipe(up);
    });
    await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise<void>((resolve) => front.close(() => resolve())));
    const frontUrl = `http://127.0.0.1:${(front.address() as { port: number }).port}`;

    const stuck = store.createPending('u-1', [{ sku: 'SKU-1', qty: 1, unit_price: 5 }], 500);
    expect(stuck.id).toBe(poisonKey);
    const b = store.createPending('u-2', [{ sku: 'SKU-2', qty: 1, unit_price: 6 }], 600);
    const c = store.createPending('u-3', [{ sku: 'SKU-3', qty: 1, unit_price: 7 }], 700);
    age();
    const reconciler = new PendingReconciler(deps(frontUrl), { intervalMs: 0, graceMs: 0, batch: 1, concurrency: 1 });
    await reconciler.pass(); // tries the oldest, ORD-1: 503, still PENDING, moved to the back
    expect(store.get(stuck.id)!.status).toBe('PENDING');
    await reconciler.pass();
    await reconciler.pass();
    expect([store.get(b.id)!.status, store.get(c.id)!.status]).toEqual(['CONFIRMED', 'CONFIRMED']);
    expect(store.get(stuck.id)!.status).toBe('PENDING');
    expect(reconciler.stillPending).toBe(1);
  });

  test('a mesh answer (403 text/plain, like RBAC) leaves the order PENDING, not REJECTED: only payments itself can refuse a charge', async () => {
    const mesh = http.createServer((req, res) => {
      req.resume();
      res.writeHead(403, { 'content-type': 'text/plain' }).end('RBAC: access denied');
    });
    await new Promise<void>((resolve) => mesh.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise<void>((resolve) => mesh.close(() => resolve())));
    const order = store.createPending('u-1', [{ sku: 'SKU-1', qty: 1, unit_price: 5 }], 500);
    const outcome = await chargeOrder(deps(`http://127.0.0.1:${(mesh.address() as { port: number }).port}`), order);
    expect(outcome.kind).toBe('pending');
    expect(store.get(order.id)!.status).toBe('PENDING');
  });

  test('validation agrees with payments: of 2,000 random orders (seed 21), every one orders accepts payments charges (201) or declines (402), never 400; total 0 is refused by orders with a clear message', async () => {
    expect(validateOrder({ user_id: 'u-1', items: [{ sku: 'SKU-1', qty: 1, unit_price: 0 }] })).toEqual({
      ok: false,
      errors: ['the order total must be greater than 0 (payments charges only positive amounts), got 0'],
    });
    const rnd = seededRandom(21);
    const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)];
    const prices = [0, 0.01, 0.1, 1, 9.99, 0.005, 1e-7, 4999.99, 5000, 5000.01, 1e9, 1e15, 1e300, -1, 2.5];
    const d = deps();
    let accepted = 0;
    const statuses = new Map<number, number>();
    for (let i = 0; i < 2000; i++) {
      const items = Array.from({ length: 1 + Math.floor(rnd() * 3) }, (_, k) => ({ sku: `SKU-${k}`, qty: pick([1, 2, 10000, 0, 3]), unit_price: pick(prices) }));
      const checked = validateOrder({ user_id: `u-${i}`, items });
      if (!checked.ok) continue;
      accepted++;
      const order = store.createPending(checked.order.user_id, checked.order.items, totalCents(checked.order.items));
      const outcome = await chargeOrder(d, order);
      const status = outcome.kind === 'confirmed' ? 201 : outcome.kind === 'rejected' ? outcome.status : -1;
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }
    expect(accepted).toBeGreaterThan(300);
    expect([...statuses.keys()].sort()).toEqual([201, 402]);
    expect(store.counts().PENDING ?? 0).toBe(0);
  });
});
