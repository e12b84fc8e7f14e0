import type { FastifyInstance } from 'fastify';
import type { PaymentStore } from './store';

/** The most one order may be charged; above it a charge is declined (402). */
export const CREDIT_LIMIT = 5000;

export interface PaymentsDeps {
  store: PaymentStore;
  version: string;
  instance: string;
}

/**
 * The payments API. `POST /payments` needs an `Idempotency-Key`: the same key returns the same
 * result and charges once however often it is retried, on whichever instance. v2 answers with
 * extra fields (processor, risk_score) so a canary split is visible in the responses.
 */
export function registerPayments(app: FastifyInstance, deps: PaymentsDeps): void {
  const { store, version, instance } = deps;

  app.post('/payments', async (req, reply) => {
    const key = req.headers['idempotency-key'];
    if (typeof key !== 'string' || key.trim() === '' || key.length > 128) {
      return reply.code(400).send({ error: 'the Idempotency-Key header is required (1–128 characters; orders uses the order id)' });
    }
    const body = req.body as { order_id?: unknown; amount?: unknown } | null;
    const errors: string[] = [];
    if (!body || typeof body !== 'object') errors.push('body must be a JSON object {order_id, amount}');
    else {
      if (typeof body.order_id !== 'string' || body.order_id === '') errors.push(`order_id must be a non-empty string, got ${JSON.stringify(body.order_id)}`);
      if (typeof body.amount !== 'number' || !(body.amount > 0) || !Number.isFinite(body.amount)) errors.push(`amount must be a number > 0, got ${JSON.stringify(body.amount)}`);
    }
    if (errors.length) return reply.code(400).send({ error: `invalid payment: ${errors.join('; ')}`, fields: errors });
    const orderId = body!.order_id as string;
    const cents = Math.round((body!.amount as number) * 100);

    const outcome = store.chargeOnce(key, orderId, cents, (seq) => {
      const id = `PAY-${seq}`;
      const declined = cents > CREDIT_LIMIT * 100;
      const response: Record<string, unknown> = declined
        ? { payment_id: id, order_id: orderId, amount: cents / 100, status: 'declined', reason: `amount ${cents / 100} exceeds the credit limit of ${CREDIT_LIMIT}`, version, instance }
        : { payment_id: id, order_id: orderId, amount: cents / 100, status: 'charged', version, instance };
      if (version === 'v2') Object.assign(response, { processor: 'ledger-v2', risk_score: ((seq * 37) % 100) / 1000 });
      return { id, status: declined ? 'declined' : 'charged', http_status: declined ? 402 : 201, response: JSON.stringify(response), version, instance };
    });
    if (outcome.kind === 'conflict') {
      return reply.code(422).send({ error: `Idempotency-Key ${key} was already used for order ${outcome.payment.order_id} amount ${outcome.payment.amount_cents / 100}; a different request needs a new key` });
    }
    reply.header('idempotent-replayed', outcome.kind === 'replay' ? 'true' : 'false');
    return reply.code(outcome.payment.http_status).type('application/json').send(outcome.payment.response);
  });

  app.get('/payments', async (req) => {
    const limit = Math.min(Number((req.query as { limit?: string }).limit ?? 1000) || 1000, 100000);
    return { payments: store.list(limit).map((p) => ({ ...JSON.parse(p.response), idempotency_key: p.idempotency_key, replays: p.replays, created_at: p.created_at })), charges_per_order: store.chargesPerOrder() };
  });

  app.get('/api/payments/validate', async (req, reply) => {
    const raw = (req.query as { amount?: string }).amount;
    const amount = raw === undefined ? 0 : Number(raw);
    if (!Number.isFinite(amount) || amount < 0) return reply.code(400).send({ error: `amount must be a number >= 0, got "${raw}"` });
    return { valid: amount <= CREDIT_LIMIT, available_credit: CREDIT_LIMIT, version, instance };
  });
}
