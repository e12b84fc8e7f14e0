import type { FastifyInstance } from 'fastify';
import type { Peers } from '../shared/peer';
import type { Order, OrderStore } from './store';
import { totalCents, validateOrder } from './validate';

export interface OrdersDeps {
  store: OrderStore;
  peers: Peers;
  /** Called after an order's event was written to the outbox. */
  onEvent: () => void;
  /**
   * Lab control `outbox: false` (control arms): `enabled()` true publishes each event straight to the bus after
   * the commit instead of through the outbox — the dual write the outbox exists to avoid: an event the bus
   * refuses is lost.
   */
  direct?: { enabled: () => boolean; publish: (order: Order) => void };
}

interface PaymentResult {
  payment_id?: string;
  status?: string;
  version?: string;
  reason?: string;
  error?: string;
}

/**
 * The headers an app must pass on to its own outgoing calls so the mesh can stitch one trace
 * across hops (Istio's documented duty of the application): the request id, W3C trace context and
 * Zipkin's B3 headers.
 */
export function traceHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of ['x-request-id', 'traceparent', 'tracestate', 'x-b3-traceid', 'x-b3-spanid', 'x-b3-parentspanid', 'x-b3-sampled', 'x-b3-flags', 'b3']) {
    const v = headers[name];
    if (typeof v === 'string' && v) out[name] = v;
  }
  return out;
}

export type ChargeOutcome =
  | { kind: 'confirmed'; order: Order }
  | { kind: 'rejected'; order: Order; status: number }
  | { kind: 'pending'; order: Order; error: string; status?: number };

/**
 * Payments itself refused this charge for good: a decline (402), or a 400/422 that payments' own
 * handler wrote (a JSON body with its `error`). Answers the mesh makes (403 RBAC, 404 NR, an
 * injected abort) are text/plain local replies and say nothing about the order: those stay PENDING.
 */
function permanentRefusal(status: number, body: unknown): string | undefined {
  if (status === 402) return (body as PaymentResult | null)?.reason ?? 'payment declined';
  if (status !== 400 && status !== 422) return undefined;
  if (typeof body !== 'object' || body === null || typeof (body as PaymentResult).error !== 'string') return undefined;
  return `payments refused the charge (status ${status}): ${(body as PaymentResult).error}`;
}

/**
 * Asks payments to charge a PENDING order (idempotency key = order id) and records the outcome:
 * CONFIRMED with its event in the outbox, REJECTED when payments refuses it for good (402 decline,
 * or payments' own 400/422, with its reason), or still PENDING if payments could not answer. Safe
 * to call again for the same order: payments charges a key once.
 */
export async function chargeOrder(deps: OrdersDeps, order: Order, propagate: Record<string, string> = {}): Promise<ChargeOutcome> {
  let payment;
  try {
    payment = await deps.peers.call<PaymentResult>('payments', 'POST', '/payments', {
      body: { order_id: order.id, amount: order.total },
      headers: { 'idempotency-key': order.id, ...propagate },
    });
  } catch (err) {
    return { kind: 'pending', order, error: `payments unreachable (${(err as Error).message})` };
  }
  if (payment.status === 200 || payment.status === 201) {
    const direct = deps.direct?.enabled() ? deps.direct : undefined;
    const confirmed = deps.store.confirm(order.id, payment.body.payment_id ?? '', payment.body.version ?? 'unknown', propagate.traceparent, !direct);
    if (direct) direct.publish(confirmed);
    else deps.onEvent();
    return { kind: 'confirmed', order: confirmed };
  }
  const refusal = permanentRefusal(payment.status, payment.body);
  if (refusal !== undefined) return { kind: 'rejected', order: deps.store.reject(order.id, refusal), status: payment.status };
  const detail = typeof payment.body === 'string' ? payment.body : (payment.body.error ?? JSON.stringify(payment.body));
  return { kind: 'pending', order, error: `payments unavailable (status ${payment.status}: ${detail})`, status: payment.status };
}

/**
 * The orders API. An order is stored PENDING, charged through payments (idempotency key = order
 * id, so any retry the mesh makes charges once), then CONFIRMED with its event in the outbox, or
 * REJECTED (402). If payments cannot answer, the order stays PENDING and the client gets 503.
 */
export function registerOrders(app: FastifyInstance, deps: OrdersDeps): void {
  const { store } = deps;

  app.post('/orders', async (req, reply) => {
    const checked = validateOrder(req.body);
    if (!checked.ok) return reply.code(400).send({ error: `invalid order: ${checked.errors.join('; ')}`, fields: checked.errors });
    const order = store.createPending(checked.order.user_id, checked.order.items, totalCents(checked.order.items));
    const outcome = await chargeOrder(deps, order, traceHeaders(req.headers));
    if (outcome.kind === 'confirmed') return reply.code(201).send(outcome.order);
    if (outcome.kind === 'rejected') {
      if (outcome.status === 402) return reply.code(402).send({ error: `payment declined: ${outcome.order.reason}`, order: outcome.order });
      return reply.code(422).send({ error: `order ${order.id} REJECTED: ${outcome.order.reason}`, order: outcome.order });
    }
    return reply.code(503).send({ error: `${outcome.error}; order ${order.id} stays PENDING`, upstream_status: outcome.status, order: outcome.order });
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
    if (!Number.isInteger(limit) || limit < 1 || limit > 1_000_000) return reply.code(400).send({ error: `limit must be an integer from 1 to 1000000, got "${q.limit}"` });
    return { orders: store.list({ status: q.status, limit }), counts: store.counts() };
  });
}
