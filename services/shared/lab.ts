import Fastify, { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { seededRandom } from '../../lib/random';

/** How sick an instance is told to be. */
export interface Sickness {
  /** Share of requests answered with `status` (0–1). */
  error_rate: number;
  status: number;
  /** Added to every request, ms. */
  latency_ms: number;
  /** Requests never get an answer (until healed). */
  hang: boolean;
  seed: number;
  /**
   * Fail after the handler ran: its writes are committed (a charge made), then the answer is replaced
   * by `status` — the failure that only an idempotency key makes safe to retry. Applies to answers < 400.
   */
  after: boolean;
  /**
   * Share of consumed messages (0–1) whose acknowledgement fails after the handler did its work and
   * committed its side effect: the bus delivers the message again (at-least-once delivery).
   */
  ack_failure_rate: number;
  /** false turns the service's idempotency off: a redelivered message repeats its side effect (control arms). */
  idempotency: boolean;
  /** false fails the readiness probe (/healthz answers 503): the mesh stops routing to this instance (a drain). */
  ready: boolean;
  /**
   * false makes orders publish each event straight to the bus after its commit instead of through the
   * transactional outbox (control arms): an event the bus refuses is lost.
   */
  outbox: boolean;
}

const HEALTHY: Sickness = { error_rate: 0, status: 500, latency_ms: 0, hang: false, seed: 1, after: false, ack_failure_rate: 0, idempotency: true, ready: true, outbox: true };
/** Paths a sick instance still answers: the platform's probes, not business traffic. */
const EXEMPT = new Set(['/healthz', '/metrics']);

/**
 * The lab control: a loopback-only admin port that makes this instance sick on demand (error rate
 * with a chosen status, added latency, hang, exit). Scenarios use it to simulate a broken instance
 * as opposed to a broken network.
 */
export class LabControl {
  sickness: Sickness = { ...HEALTHY };
  private random = seededRandom(HEALTHY.seed);
  private readonly hung = new Set<FastifyReply>();
  served = 0;

  /** The fastify hook applying the sickness to business routes. */
  readonly hook = async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (req.url === '/healthz' && !this.sickness.ready) return reply.code(503).send({ status: 'draining' });
    if (EXEMPT.has(req.url)) return;
    this.served++;
    const s = this.sickness;
    if (s.hang) {
      this.hung.add(reply);
      await new Promise<void>((resolve) => reply.raw.once('close', resolve));
      this.hung.delete(reply);
      return reply;
    }
    if (s.latency_ms > 0) await new Promise((r) => setTimeout(r, s.latency_ms));
    if (s.error_rate > 0 && !s.after && this.random() < s.error_rate) {
      return reply.code(s.status).send({ error: `lab: injected failure (status ${s.status}, error_rate ${s.error_rate})` });
    }
  };

  /** Whether this consumed message's acknowledgement should fail (after its side effect), per `ack_failure_rate`. */
  failAck(): boolean {
    return this.sickness.ack_failure_rate > 0 && this.random() < this.sickness.ack_failure_rate;
  }

  /** The fastify onSend hook for `after`: the handler's work is done and committed; the answer becomes an error. */
  readonly onSend = async (req: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> => {
    const s = this.sickness;
    if (!s.after || s.error_rate === 0 || EXEMPT.has(req.url) || reply.statusCode >= 400) return payload;
    if (this.random() >= s.error_rate) return payload;
    reply.code(s.status).header('content-type', 'application/json; charset=utf-8');
    return JSON.stringify({ error: `lab: injected failure after the handler committed its work (status ${s.status}, error_rate ${s.error_rate})` });
  };

  set(patch: Partial<Sickness>): Sickness {
    const next = { ...this.sickness, ...patch };
    const errors: string[] = [];
    if (!(next.error_rate >= 0 && next.error_rate <= 1)) errors.push(`error_rate must be between 0 and 1, got ${next.error_rate}`);
    if (!(Number.isInteger(next.status) && next.status >= 200 && next.status <= 599)) errors.push(`status must be an HTTP status 200–599, got ${next.status}`);
    if (!(next.latency_ms >= 0)) errors.push(`latency_ms must be >= 0, got ${next.latency_ms}`);
    if (typeof next.hang !== 'boolean') errors.push(`hang must be true or false, got ${JSON.stringify(next.hang)}`);
    if (typeof next.after !== 'boolean') errors.push(`after must be true or false, got ${JSON.stringify(next.after)}`);
    if (!(next.ack_failure_rate >= 0 && next.ack_failure_rate <= 1)) errors.push(`ack_failure_rate must be between 0 and 1, got ${next.ack_failure_rate}`);
    if (typeof next.ready !== 'boolean') errors.push(`ready must be true or false, got ${JSON.stringify(next.ready)}`);
    if (typeof next.outbox !== 'boolean') errors.push(`outbox must be true or false, got ${JSON.stringify(next.outbox)}`);
    if (typeof next.idempotency !== 'boolean') errors.push(`idempotency must be true or false, got ${JSON.stringify(next.idempotency)}`);
    if (errors.length) throw Object.assign(new Error(errors.join('; ')), { statusCode: 400 });
    if (patch.seed !== undefined) this.random = seededRandom(next.seed);
    this.sickness = next;
    if (!next.hang) for (const reply of this.hung) reply.raw.destroy();
    return next;
  }

  heal(): Sickness {
    return this.set({ ...HEALTHY });
  }

  /** The lab control server (loopback only). */
  server(instance: string, onExit: (code: number) => void): FastifyInstance {
    const lab = Fastify({ logger: false });
    lab.get('/lab', async () => ({ instance, sickness: this.sickness, served: this.served }));
    lab.post('/lab/sick', async (req) => ({ instance, sickness: this.set((req.body ?? {}) as Partial<Sickness>) }));
    lab.delete('/lab/sick', async () => ({ instance, sickness: this.heal() }));
    lab.post('/lab/exit', async (req) => {
      const code = Number((req.body as { code?: number } | undefined)?.code ?? 1);
      setImmediate(() => onExit(code));
      return { instance, exiting: code };
    });
    return lab;
  }
}
