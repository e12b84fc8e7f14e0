import type { FastifyInstance } from 'fastify';
import type { Peers } from '../shared/peer';
import type { OrderStore } from './store';
import { totalCents, validateOrder } from './validate';

export interface OrdersDeps {
  store: OrderStore;
  peers: Peers;
  /** Called after an order's event was written to the outbox. */
  onEvent: () => void;
}

interface PaymentResult {
  payment_id?: string;
  status?: string;
  version?: string;
  reason?: string;
  error?: string;
}

/**
 * The orders API. An order is stored PENDING, charged through payments (idempotency key = order
 * id, so any retry the mesh makes charges once), then CONFIRMED with its event in the outbox, or
 * REJECTED (402). If payments cannot answer, the order stays PENDING and the client gets 503.
 */
export function registerOrders(app: FastifyInstance, deps: OrdersDeps): void {
  const { store, peers } = deps;

  app.post('/orders', async (req, reply) => {
    const checked = validateOrder(req.body);
    if (!checked.ok) return reply.code(400).send({ error: `invalid order: ${checked.errors.join('; ')}`, fields: checked.errors });
    const cents = totalCents(checked.order.items);
    const order = store.createPending(checked.order.user_id, checked.order.items, cents);

    let payment;
    try {
      payment = await peers.call<PaymentResult>('payments', 'POST', '/payments', {
        body: { order_id: order.id, amount: cents / 100 },
        headers: { 'idempotency-key': order.id, 'x-request-id': String(req.headers['x-request-id'] ?? '') },
      });
    } catch (err) {
      return reply.code(503).send({ error: `payments unreachable (${(err as Error).message}); order ${order.id} is PENDING and was not charged by this request`, order });
    }
    if (payment.status === 200 || payment.status === 201) {
      const confirmed = store.confirm(order.id, payment.body.payment_id ?? '', payment.body.version ?? 'unknown');
      deps.onEvent();
      return reply.code(201).send(confirmed);
    }
    if (payment.status === 402) {
      const rejected = store.reject(order.id, payment.body.reason ?? 'payment declined');
      return reply.code(402).send({ error: `payment declined: ${rejected.reason}`, order: rejected });
    }
    const detail = typeof payment.body === 'string' ? payment.body : (payment.body.error ?? JSON.stringify(payment.body));
    return reply.code(503).send({ error: `payments unavailable (status ${payment.status}: ${detail}); order ${order.id} stays PENDING`, upstream_status: payment.status, order });
  });

  app.get('/orders/:id', async (req, reply) => {
    const { id } = req.params as { id: string };
    const order = store.get(id);
    if (!order) return reply.code(404).send({ error: `order ${id} not found` });
    return order;
  });

  app.get('/orders', async (req, reply) => {
    const q = req.query as { status?: string; limit?: string };
    if (q.status && !['PENDING', 'CONFIRMED', 'REJECTED'].includes(q.status)) return reply.code(400).send({ error: `status must be PENDING, CONFIRMED or REJECTED, got "${q.status}"` });
    const limit = q.limit === undefined ? 100 : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 10000) return reply.code(400).send({ error: `limit must be an integer from 1 to 10000, got "${q.limit}"` });
    return { orders: store.list({ status: q.status, limit }), counts: store.counts() };
  });
}
